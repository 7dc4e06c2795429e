#!/usr/bin/env bash
# Every errand test, on a Debian 12 machine with nothing installed: installs
# what is missing, configures and builds the `ci` preset (build/ci), and runs
# ctest: unit, compile-fail, conformance, SQLite, PostgreSQL (a throwaway
# server the tests start themselves), examples and consumer tests.
# Safe to run again: a re-run installs nothing and rebuilds only what changed.
# Arguments are passed to ctest, e.g. `scripts/test.sh -L consumer`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset ci
cmake --build --preset ci
ctest --preset ci "$@"
