#!/usr/bin/env bash
# Installs what errand needs from Debian 12's packages, and only what is
# missing: when everything is there it runs no apt at all, so a re-run is quick
# and changes nothing. Uses sudo when not run as root.
#
#   scripts/install-deps.sh        everything: build, tests (with clang), benchmarks, a PostgreSQL
#                                  server and a browser for the tests
#   scripts/install-deps.sh demo   what the demo needs (the library, the examples and the errand command)
set -euo pipefail

build=(g++ make cmake ninja-build pkg-config libboost1.81-dev libcereal-dev libsqlite3-dev sqlite3 libpqxx-dev libpq-dev
  libcli11-dev libcpp-httplib-dev)
# The dashboard's browser test drives chromium with puppeteer-core, which npm installs.
# libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes, which clang only recommends.
tests=(catch2 libbenchmark-dev postgresql clang libclang-rt-14-dev chromium nodejs npm)
case "${1:-all}" in
  demo) wanted=("${build[@]}") ;;
  all) wanted=("${build[@]}" "${tests[@]}") ;;
  *)
    echo "usage: $0 [demo]" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: this is not a Debian system; install these or their equivalents yourself: ${wanted[*]}" >&2
  exit 0
fi

# A Node.js installed from elsewhere (it brings its own npm) serves as well as Debian's.
provided_by_command() {
  case $1 in
    nodejs) command -v node >/dev/null 2>&1 ;;
    npm) command -v npm >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

missing=()
for package in "${wanted[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]] &&
    ! provided_by_command "$package"; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: run as root, or install sudo, to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
