#!/bin/sh
# Runs an example against the throwaway PostgreSQL server that ctest's
# postgres_server fixture starts (scripts/pg-test-server.sh):
#
#   with_test_pg_server.sh URL_FILE PROGRAM [ARGUMENTS...]
#
# reads the server's URL from URL_FILE into ERRAND_EXAMPLE_PG_URL, or takes
# ERRAND_TEST_PG_URL when it is set. With no server to be had it exits 77,
# which ctest reports as skipped, or 1 when CI=true, so CI fails.
set -eu
url_file=$1
shift
url=${ERRAND_TEST_PG_URL:-}
if [ -z "$url" ] && [ -r "$url_file" ]; then url=$(head -n 1 "$url_file"); fi
case $url in
  '' | unavailable*)
    echo "NO POSTGRESQL SERVER for this example: ${url:-no URL in $url_file}" >&2
    if [ "${CI:-}" = true ]; then exit 1; fi
    exit 77
    ;;
esac
ERRAND_EXAMPLE_PG_URL=$url exec "$@"
