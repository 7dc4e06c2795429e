#!/usr/bin/env bash
# Compile time of the core: the median of several runs of the compiler on
#   core      bench/compile_time_probe.cpp (<errand/errand.hpp>, the lifecycle, decide() for every event)
#   machine   <errand/lifecycle.hpp> alone, with the lifecycle instantiated
#   baseline  the standard headers the core uses, nothing of errand
# each as -fsyntax-only (parsing and instantiation) and as a full -O2 compile
# to an object file. The figures are CPU seconds (user + system) of the
# compiler, which a busy machine disturbs less than wall time.
#
#   bench/compile_time.sh [runs] [compiler]      (defaults: 5 runs, g++)
set -euo pipefail

runs=${1:-5}
cxx=${2:-g++}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/machine.cpp" <<'CPP'
#include <errand/lifecycle.hpp>
static_assert(errand::job_lifecycle::row_count > 0);
int main() { return errand::job_lifecycle::can_take<errand::claim>(errand::job_state::pending) ? 0 : 1; }
CPP
cat >"$work/baseline.cpp" <<'CPP'
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
int main() { return 0; }
CPP

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() {  # measure <source> <flags...>: the median CPU time (user + system) in seconds
  local source=$1; shift
  for _ in $(seq "$runs"); do
    local TIMEFORMAT='%U %S'
    { time "$cxx" -std=c++20 -I"$root/include" "$@" "$source" -o "$work/out.o"; } 2>&1 |
      awk '{ printf "%.3f\n", $1 + $2 }'
  done | median
}

for source in "$work/baseline.cpp" "$work/machine.cpp" "$root/bench/compile_time_probe.cpp"; do
  "$cxx" -std=c++20 -I"$root/include" -fsyntax-only "$source"  # stops here, with the compiler's errors, if one fails
done

echo "compiler: $("$cxx" --version | head -n 1)"
echo "runs: $runs (median), cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %16s %16s\n' "tu" "syntax-only cpu s" "-O2 -c cpu s"
for tu in baseline machine core; do
  source="$work/$tu.cpp"
  [ "$tu" = core ] && source="$root/bench/compile_time_probe.cpp"
  printf '%-10s %16s %16s\n' "$tu" "$(measure "$source" -fsyntax-only)" "$(measure "$source" -O2 -c)"
done
