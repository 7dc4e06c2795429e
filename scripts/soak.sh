#!/usr/bin/env bash
# The soak harness (bench/soak/soak.cpp) on a SQLite file and on a throwaway
# PostgreSQL server: worker processes killed at random while jobs succeed,
# fail, retry, time out, throw and crash, then a check of every row and
# history. Exits non-zero when a check fails.
#
#   scripts/soak.sh                      a short run: 3,000 jobs on each database (what CI runs)
#   scripts/soak.sh 200000 1000000       the long runs docs/reliability.md reports
#
# Builds the `soak` target of the ci-release preset's tree (build/ci-release:
# optimised, as workers are deployed) unless SOAK_BUILD
# names another configured tree.
set -euo pipefail
cd "$(dirname "$0")/.."
sqlite_jobs="${1:-3000}"
postgres_jobs="${2:-$sqlite_jobs}"
build="${SOAK_BUILD:-build/ci-release}"
[[ -f "$build/CMakeCache.txt" ]] || cmake --preset ci-release >/dev/null
cmake --build "$build" --target soak
soak="$build/bench/soak"
work=$(mktemp -d "${TMPDIR:-/tmp}/errand-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== soak on SQLite: $sqlite_jobs jobs"
"$soak" --db "$work/soak.db" --jobs "$sqlite_jobs" --workers 3 --threads 4 --kill-every 3 \
  --log-dir "$work/sqlite-attempts"

echo "== soak on PostgreSQL: $postgres_jobs jobs"
# The server runs with fsync on, as a production server would.
ERRAND_PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=100" \
  scripts/pg-test-server.sh run "$work/pg" -- \
  bash -c '"$0" --db "$ERRAND_TEST_PG_URL" --jobs "$1" --workers 3 --threads 4 --kill-every 3 --log-dir "$2"' \
  "$soak" "$postgres_jobs" "$work/postgres-attempts"
