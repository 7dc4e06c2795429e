#!/bin/sh
# Runs an example twice, as an operator would after a crash:
#
#   stop_and_restart.sh PROGRAM [ARGUMENTS...]
#
# first as `PROGRAM --stop-midway ARGUMENTS` (it starts from an empty
# database and exits in the middle of its scenario), then as
# `PROGRAM ARGUMENTS` (it finds what the database kept and goes on).
set -eu
program=$1
shift
"$program" --stop-midway "$@"
echo "--- the program is started again ---"
exec "$program" "$@"
