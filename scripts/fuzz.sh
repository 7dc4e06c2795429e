#!/usr/bin/env bash
# Builds errand's libFuzzer targets with Clang (ASan and UBSan on) and runs
# each on its seed corpus for the given number of seconds (default 60). A
# crash, a sanitizer report or a broken invariant stops the run with the input
# that caused it saved under build/fuzz/findings/<target>/, and exits non-zero.
#
#   scripts/fuzz.sh            60 s per target
#   scripts/fuzz.sh 3600       an hour per target
#   FUZZ_JOBS=2 scripts/fuzz.sh 3600   two processes per target (libFuzzer -fork)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
jobs="${FUZZ_JOBS:-1}"
build=build/fuzz

CXX="${FUZZ_CXX:-clang++}" cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j 2

status=0
for target in fuzz_codec fuzz_decide fuzz_error_text fuzz_rows fuzz_records; do
  corpus="$build/corpus/$target"
  findings="$build/findings/$target"
  mkdir -p "$corpus" "$findings"
  seeds="tests/fuzz/corpus/${target#fuzz_}"
  started=$(date +%s)
  parallel=()
  [[ "$jobs" -gt 1 ]] && parallel=(-fork="$jobs")
  if ! "$build/$target" "$corpus" "$seeds" -max_total_time="$seconds" "${parallel[@]}" \
    -artifact_prefix="$findings/" -print_final_stats=1 >"$build/$target.log" 2>&1; then
    echo "fuzz: $target FAILED after $(($(date +%s) - started)) s; input saved in $findings/, log in $build/$target.log"
    tail -n 30 "$build/$target.log"
    status=1
    continue
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$build/$target.log" | grep -Eo '[0-9]+$' | tail -n 1)
  echo "fuzz: $target passed: ${runs:-?} inputs in $(($(date +%s) - started)) s, corpus $(ls "$corpus" | wc -l) files"
done
exit "$status"
