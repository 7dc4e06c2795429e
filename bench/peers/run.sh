#!/usr/bin/env bash
# errand's runner beside graphile-worker and pg-boss, on one throwaway
# PostgreSQL server, in one run: the comparison in docs/benchmarks.md
# ("Runner", "Beside graphile-worker and pg-boss").
#
#   bench/peers/run.sh [--jobs N] [--rounds R] [--build-dir DIR] [--keep DIR]
#
#   --jobs N         no-op jobs per run (10000)
#   --rounds R       rounds; each runs every configuration of every queue once,
#                    the queues in a different order each round (3)
#   --build-dir DIR  errand's build tree; configured with the release preset
#                    when it has none (build/release)
#   --keep DIR       keep the raw results there (errand's benchmark JSON, the
#                    peers' JSON lines)
#
# Optional, and never run by CI or scripts/test.sh: it needs node and npm, and
# installs the peers from the npm registry into bench/peers/node_modules, at the
# versions pinned by bench/peers/package.json and package-lock.json.
#
# The server is started by scripts/pg-test-server.sh and stopped at exit. It
# runs with the durability of a production server (fsync, synchronous_commit
# and full_page_writes on) unless ERRAND_PG_SETTINGS says otherwise
# (ERRAND_PG_SETTINGS= keeps the test server's fsync=off).
#
# Prints the versions, the load average at each round's start, and the tables
# of medians (bench/peers/report.mjs).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=10000
rounds=3
build_dir=$root/build/release
keep=

say() { printf 'peers: %s\n' "$*" >&2; }
usage() {
  sed -n '6,14p' "$0" >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --jobs) jobs=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --build-dir) build_dir=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] || usage

for tool in node npm cmake; do
  command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
done

say "installing graphile-worker and pg-boss (npm ci in bench/peers)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)

say "building postgres_runner_bench in $build_dir"
if [[ ! -f $build_dir/build.ninja && ! -f $build_dir/Makefile ]]; then
  if [[ $build_dir == "$root/build/release" ]]; then
    (cd "$root" && cmake --preset release >&2)
  else
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DERRAND_BUILD_BENCHMARKS=ON >&2
  fi
fi
cmake --build "$build_dir" --target postgres_runner_bench -j2 >&2
bench=$build_dir/bench/postgres_runner_bench

state=$(mktemp -d "${TMPDIR:-/tmp}/errand-peers-server.XXXXXX")
results=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/errand-peers-results.XXXXXX")}
mkdir -p "$results"
cleanup() {
  "$root/scripts/pg-test-server.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$state"
  if [[ -z $keep ]]; then rm -rf "$results"; fi
}
trap cleanup EXIT

export ERRAND_PG_SETTINGS=${ERRAND_PG_SETTINGS--c fsync=on -c synchronous_commit=on -c full_page_writes=on}
url=$("$root/scripts/pg-test-server.sh" start "$state")

version_of() { node -p "require('$here/node_modules/$1/package.json').version"; }
server=$(cd "$here" && node --input-type=module -e "
import { withClient } from './common.mjs';
await withClient(process.argv[1], async (c) => {
  const { rows } = await c.query(\"SELECT current_setting('server_version') AS v, current_setting('fsync') AS f,\" +
    \" current_setting('synchronous_commit') AS s, current_setting('full_page_writes') AS p\");
  const r = rows[0];
  console.log(\`PostgreSQL \${r.v}, fsync=\${r.f}, synchronous_commit=\${r.s}, full_page_writes=\${r.p}\`);
});" "$url")

run_errand() {
  ERRAND_BENCH_PG_URL=$url ERRAND_BENCH_JOBS=$jobs "$bench" --benchmark_out="$results/errand-$1.json" --benchmark_out_format=json >&2
}
run_graphile() { (cd "$here" && node graphile.mjs "$url" "$jobs" | tee -a "$results/peers.jsonl" >&2); }
run_pgboss() { (cd "$here" && node pgboss.mjs "$url" "$jobs" | tee -a "$results/peers.jsonl" >&2); }

queues=(errand graphile pgboss)
loads=()
for ((round = 1; round <= rounds; ++round)); do
  loads+=("$(cut -d' ' -f1-3 /proc/loadavg)")
  for ((i = 0; i < ${#queues[@]}; ++i)); do
    queue=${queues[(i + round - 1) % ${#queues[@]}]}
    say "round $round of $rounds: $queue"
    "run_$queue" "$round"
  done
done

echo "errand $(git -C "$root" describe --always --dirty 2>/dev/null || echo '(not a git checkout)'), graphile-worker $(version_of graphile-worker), pg-boss $(version_of pg-boss), node $(node --version)"
echo "$server; $jobs jobs per run, $rounds rounds; $(nproc) cores"
printf -v load_list '%s; ' "${loads[@]}"
echo "load average (1, 5, 15 min) at each round's start: ${load_list%; }"
echo
node "$here/report.mjs" "$results"
