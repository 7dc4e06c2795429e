#!/usr/bin/env bash
# The demo on a Debian 12 machine with nothing installed: installs what is
# missing, builds the work-orders example and the errand command (preset
# `demo`, build/demo), runs the example, then asks the errand command why
# the work order that failed for good failed. Safe to run again.
# An argument names the database file (default /tmp/errand-demo/work_orders.db).
set -euo pipefail
cd "$(dirname "$0")/.."

database=${1:-/tmp/errand-demo/work_orders.db}
scripts/install-deps.sh demo
cmake --preset demo
cmake --build --preset demo
build/demo/bin/work_orders_demo "$database"

# Work order 4's cluster does not exist: it failed on every attempt.
echo
echo "Why did work order 4 fail? One command answers:"
echo "\$ build/demo/bin/errand --db $database show 4"
exec build/demo/bin/errand --db "$database" show 4
