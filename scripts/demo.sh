#!/usr/bin/env bash
# The demo on a Debian 12 machine with nothing installed: installs what is
# missing, builds the work-orders example (preset `demo`, build/demo) and runs
# it. Safe to run again. Arguments are passed to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh demo
cmake --preset demo
cmake --build --preset demo
exec build/demo/bin/work_orders_demo "$@"
