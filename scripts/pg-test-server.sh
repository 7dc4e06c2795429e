#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for errand's tests and benchmarks.
#
#   scripts/pg-test-server.sh start [STATE_DIR]   start a cluster, write its URL to STATE_DIR/url
#   scripts/pg-test-server.sh stop  [STATE_DIR]   stop it and delete its data
#   scripts/pg-test-server.sh pause [STATE_DIR]   stop the server, keeping its data (a database outage)
#   scripts/pg-test-server.sh resume [STATE_DIR]  start it again on the same port
#   scripts/pg-test-server.sh run [STATE_DIR] -- COMMAND...
#                                                 start, run COMMAND with ERRAND_TEST_PG_URL and
#                                                 ERRAND_BENCH_PG_URL set, stop when it exits
#
# The cluster lives in a fresh temporary directory, listens on a free port on 127.0.0.1 only
# (its Unix socket stays inside that directory), trusts local connections except those of
# members of the role errand_password_login, whom it asks for a password (so tests can show a
# wrong one refused), and runs with fsync=off: it is fast and holds nothing worth keeping. initdb refuses to run as root, so
# under root the cluster belongs to a dedicated user, errand_pg, created on first use.
#
# When ERRAND_TEST_PG_URL is already set, no cluster is started: that server is used as is.
# ERRAND_PG_SETTINGS adds server options after errand's, e.g. for a benchmark
# with the durability of a production server:
#   ERRAND_PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
#
# Exit status of start: 0 when a server is ready; when no server can be had, 1 if CI=true (the
# postgres tests must fail in CI) and 77 otherwise (ctest reports the tests as skipped, not
# passed). Either way STATE_DIR/url then holds "unavailable: <reason>", which the tests report.

set -euo pipefail

readonly skip_status=77
readonly service_user=errand_pg
readonly database=errand_test
readonly superuser=errand
readonly password_group=errand_password_login

command=${1:-}
state_dir=${2:-${TMPDIR:-/tmp}/errand-pg-test-$(id -un)}
if [[ ${2:-} == -- ]]; then state_dir=${TMPDIR:-/tmp}/errand-pg-test-$(id -un); fi

say() { printf 'pg-test-server: %s\n' "$*" >&2; }

loud() {
  local line='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '%s\n!! %s\n%s\n' "$line" "$*" "$line" >&2
}

unavailable() {
  mkdir -p "$state_dir"
  printf 'unavailable: %s\n' "$1" >"$state_dir/url"
  loud "NO POSTGRESQL SERVER FOR THE TESTS: $1"
  if [[ ${CI:-} == true ]]; then
    loud "CI=true: the PostgreSQL tests will FAIL."
    exit 1
  fi
  loud "The PostgreSQL tests will be SKIPPED (not passed). Install postgresql or set ERRAND_TEST_PG_URL."
  exit "$skip_status"
}

find_bin_dir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

# Runs a server binary as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$service_user" -- "$@"
  else
    "$@"
  fi
}

ensure_service_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  id "$service_user" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$service_user" 2>/dev/null ||
    useradd -r -M -s /bin/false "$service_user"
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop_cluster() {
  [[ -f $state_dir/data_dir ]] || return 0
  local data_dir bin_dir
  data_dir=$(cat "$state_dir/data_dir")
  bin_dir=$(cat "$state_dir/bin_dir" 2>/dev/null || true)
  if [[ -n $bin_dir && -f $data_dir/postmaster.pid ]]; then
    as_owner "$bin_dir/pg_ctl" -D "$data_dir" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$(dirname "$data_dir")"
  rm -f "$state_dir/data_dir" "$state_dir/bin_dir" "$state_dir/server_options"
}

start_server() {
  as_owner "$1/pg_ctl" -D "$2" -l "$(dirname "$2")/server.log" -w -t 60 -o "$(cat "$state_dir/server_options")" \
    start >/dev/null 2>&1
}

start_cluster() {
  mkdir -p "$state_dir"
  stop_cluster  # a cluster left behind by an interrupted run
  rm -f "$state_dir/url"

  if [[ -n ${ERRAND_TEST_PG_URL:-} ]]; then
    printf '%s\n' "$ERRAND_TEST_PG_URL" >"$state_dir/url"
    say "using the server in ERRAND_TEST_PG_URL"
    return 0
  fi

  local bin_dir
  bin_dir=$(find_bin_dir) || unavailable "no initdb/pg_ctl found (looked in /usr/lib/postgresql/*/bin and PATH)"
  ensure_service_user || unavailable "cannot create the user '$service_user' that owns the cluster (initdb refuses root)"

  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/errand-pg.XXXXXX")
  chmod 755 "$root"
  local data_dir=$root/data
  printf '%s\n' "$data_dir" >"$state_dir/data_dir"
  printf '%s\n' "$bin_dir" >"$state_dir/bin_dir"
  if [[ $(id -u) -eq 0 ]]; then chown "$service_user" "$root"; fi

  if ! as_owner "$bin_dir/initdb" -D "$data_dir" -U "$superuser" --auth=trust --encoding=UTF8 --locale=C \
    >"$root/initdb.log" 2>&1; then
    cat "$root/initdb.log" >&2
    unavailable "initdb failed (log above)"
  fi
  printf '%s\n' "local all all trust" "host all +$password_group 127.0.0.1/32 scram-sha-256" \
    "host all all 127.0.0.1/32 trust" | as_owner tee "$data_dir/pg_hba.conf" >/dev/null

  local attempt port started=false
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_is_free "$port" || continue
    printf '%s\n' "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$root \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 ${ERRAND_PG_SETTINGS:-}" \
      >"$state_dir/server_options"
    if start_server "$bin_dir" "$data_dir"; then
      started=true
      break
    fi
    say "attempt $attempt: the server did not start on port $port; trying another"
  done
  if [[ $started != true ]]; then
    tail -n 20 "$root/server.log" >&2 || true
    unavailable "the server did not start (log above)"
  fi

  as_owner "$bin_dir/psql" -h 127.0.0.1 -p "$port" -U "$superuser" -d postgres -qAt \
    -c "CREATE DATABASE $database" -c "CREATE ROLE $password_group NOLOGIN" >/dev/null
  local url="postgresql://$superuser@127.0.0.1:$port/$database"
  printf '%s\n' "$url" >"$state_dir/url"
  say "PostgreSQL $("$bin_dir/postgres" --version | awk '{print $3}') ready at $url (data in $data_dir)"
  printf '%s\n' "$url"
}

case $command in
  start)
    start_cluster
    ;;
  pause)
    as_owner "$(cat "$state_dir/bin_dir")/pg_ctl" -D "$(cat "$state_dir/data_dir")" -m fast -w stop >/dev/null
    ;;
  resume)
    start_server "$(cat "$state_dir/bin_dir")" "$(cat "$state_dir/data_dir")"
    ;;
  stop)
    stop_cluster
    if grep -q '^unavailable' "$state_dir/url" 2>/dev/null; then exit "$skip_status"; fi
    ;;
  run)
    shift
    if [[ ${1:-} != -- ]]; then shift; fi
    [[ ${1:-} == -- ]] || { say "usage: $0 run [STATE_DIR] -- COMMAND..."; exit 2; }
    shift
    trap stop_cluster EXIT
    status=0
    start_cluster >/dev/null || status=$?
    if [[ $status -ne 0 ]]; then exit "$status"; fi
    url=$(cat "$state_dir/url")
    ERRAND_TEST_PG_URL=$url ERRAND_BENCH_PG_URL=${ERRAND_BENCH_PG_URL:-$url} "$@"
    ;;
  *)
    say "usage: $0 start|stop|pause|resume [STATE_DIR]   or   $0 run [STATE_DIR] -- COMMAND..."
    exit 2
    ;;
esac
