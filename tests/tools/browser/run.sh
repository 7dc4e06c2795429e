#!/bin/sh
# The dashboard's browser test, as ctest runs it (tests/tools/CMakeLists.txt):
#
#   run.sh install WORK_DIR             npm ci of package-lock.json into WORK_DIR (once per lock file)
#   run.sh test WORK_DIR ARGUMENTS...   node dashboard_test.mjs ARGUMENTS..., from WORK_DIR
#
# For PostgreSQL, ARGUMENTS may say --pg-url-file FILE instead of --db: the
# URL the postgres_server fixture wrote, or ERRAND_TEST_PG_URL. Without node,
# npm or chromium the test is skipped (status 77) and says so loudly; with
# CI=true it fails instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
action=$1
work=$2
shift 2

unavailable() {
  bar='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '%s\n!! NO DASHBOARD BROWSER TEST: %s\n' "$bar" "$1" >&2
  if [ "${CI:-}" = true ]; then
    printf '!! CI=true: the browser test FAILS.\n%s\n' "$bar" >&2
    exit 1
  fi
  printf '!! It is SKIPPED, not passed: scripts/install-deps.sh installs chromium, nodejs and npm.\n%s\n' "$bar" >&2
  exit 77
}

command -v node >/dev/null 2>&1 || unavailable "no node on PATH"
command -v npm >/dev/null 2>&1 || unavailable "no npm on PATH"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
  unavailable "node $(node --version) is older than 18"
mkdir -p "$work"

case $action in
  install)
    if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/puppeteer-core" ]; then
      cp "$here/package.json" "$here/package-lock.json" "$work/"
      (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund) || unavailable "npm ci failed (output above)"
    fi
    ;;
  test)
    [ -d "$work/node_modules/puppeteer-core" ] || unavailable "puppeteer-core is not installed in $work"
    chromium=
    previous=
    for argument in "$@"; do
      if [ "$previous" = --chromium ]; then chromium=$argument; fi
      previous=$argument
    done
    [ -n "$chromium" ] && [ -x "$chromium" ] || unavailable "no chromium at '$chromium'"
    cp "$here/dashboard_test.mjs" "$work/"
    if [ "${1:-}" = --pg-url-file ]; then
      url=${ERRAND_TEST_PG_URL:-}
      if [ -z "$url" ] && [ -r "$2" ]; then url=$(head -n 1 "$2"); fi
      case $url in
        '' | unavailable*) unavailable "no PostgreSQL server: ${url:-no URL in $2}" ;;
      esac
      shift 2
      set -- --db "$url" --schema "browser_$$" "$@"
    fi
    cd "$work"
    exec node dashboard_test.mjs "$@"
    ;;
  *)
    echo "usage: $0 install|test WORK_DIR [ARGUMENTS...]" >&2
    exit 2
    ;;
esac
