#!/usr/bin/env bash
# Instructions per dispatch for each way of dispatch_bench, counted by
# callgrind: unlike times, the counts are the same on every run of the same
# binary, however busy the machine is.
#
#   bench/dispatch_instructions.sh <path to dispatch_bench> [iterations]
set -euo pipefail

bench=${1:?usage: $0 <path to dispatch_bench> [iterations]}
iterations=${2:-20}
command -v valgrind >/dev/null || { echo "$0: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

steps=$("$bench" --benchmark_filter=none 2>/dev/null | sed -n 's/.*agree on all \([0-9]*\) steps.*/\1/p')
[ -n "$steps" ] || { echo "$0: $bench did not say how many steps it runs" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

printf '%-10s %-7s %12s %8s\n' workload way "instr/step" "ratio"
for workload in lifecycle bare; do
  declare -A per_step=()
  for way in switch errand msm; do
    log=$(valgrind --tool=callgrind --callgrind-out-file="$out/$workload.$way" \
      "--toggle-collect=*dispatch_sequence*${workload}_work*${way}_way*" \
      "$bench" "--benchmark_filter=^$workload/$way" --fixed_iterations="$iterations" 2>&1)
    collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$log")
    [ -n "$collected" ] || { echo "$0: no count for $workload/$way" >&2; echo "$log" >&2; exit 1; }
    per_step[$way]=$(awk -v c="$collected" -v n="$((iterations * steps))" 'BEGIN { printf "%.2f", c / n }')
    ratio=$(awk -v a="${per_step[$way]}" -v b="${per_step[switch]}" 'BEGIN { printf "%.3fx", a / b }')
    printf '%-10s %-7s %12s %8s\n' "$workload" "$way" "${per_step[$way]}" "$ratio"
  done
  unset per_step
done
