#!/usr/bin/env bash
# What errand costs the compiler, per translation unit: the median of several
# runs, each at -O0 and at -O2 (to an object file), as CPU seconds (user +
# system, which a busy machine disturbs less than wall time) and the peak
# memory of the -O2 run. The translation units:
#
#   baseline          the standard headers errand and its backends include, nothing of errand
#   machine           <errand/lifecycle.hpp>, the lifecycle instantiated
#   core              bench/compile_time_probe.cpp: <errand/errand.hpp>, decide() for every event
#   memory+runner     <errand/memory.hpp>, a memory_store and a runner<memory_store> with a handler
#   sqlite            <errand/sqlite.hpp> alone
#   postgres+runner   <errand/postgres.hpp>, a postgres_store and a runner<postgres_store> with a handler
#
# each as it costs by default (header-only) and with ERRAND_SEPARATE_COMPILATION
# (docs/compile-time.md), where it sees declarations only; and the one file a
# program with ERRAND_SEPARATE_COMPILATION adds per backend, <errand/<backend>/src.hpp>.
#
#   bench/compile_time.sh [runs] [compiler]      (defaults: 5 runs, g++)
#
# ERRAND_TREE=<directory> measures the headers of another checkout of errand
# (its include/ and backends/*/include/), for a before-and-after comparison.
set -euo pipefail

runs=${1:-5}
cxx=${2:-g++}
root=$(cd "$(dirname "$0")/.." && pwd)
tree=${ERRAND_TREE:-$root}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

includes=(-I"$tree/include")
for backend in memory sqlite postgres; do includes+=(-I"$tree/backends/$backend/include"); done
if pkg-config --exists libpqxx 2>/dev/null; then
  read -ra pqxx_flags <<<"$(pkg-config --cflags libpqxx)"
  includes+=("${pqxx_flags[@]}")
fi

cat >"$work/baseline.cpp" <<'CPP'
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>
int main() { return 0; }
CPP
cat >"$work/machine.cpp" <<'CPP'
#include <errand/lifecycle.hpp>
static_assert(errand::job_lifecycle::row_count > 0);
int main() { return errand::job_lifecycle::can_take<errand::claim>(errand::job_state::pending) ? 0 : 1; }
CPP
cp "$root/bench/compile_time_probe.cpp" "$work/core.cpp"
cat >"$work/memory+runner.cpp" <<'CPP'
#include <errand/memory.hpp>
int main() {
  errand::memory_store store;
  errand::runner<errand::memory_store> workers(store, {.threads = 1});
  workers.handle("noop", [](const std::string&, errand::job_context&) {});
  return static_cast<int>(workers.poll());
}
CPP
cat >"$work/sqlite.cpp" <<'CPP'
#include <errand/sqlite.hpp>
int main() { return 0; }
CPP
cat >"$work/postgres+runner.cpp" <<'CPP'
#include <errand/postgres.hpp>
int main(int argc, char** argv) {
  if (argc < 2) return 0;
  errand::postgres_store store(argv[1]);
  errand::runner<errand::postgres_store> workers(store, {.threads = 1});
  workers.handle("noop", [](const std::string&, errand::job_context&) {});
  return static_cast<int>(workers.poll());
}
CPP
for backend in memory sqlite postgres; do
  echo "#include <errand/$backend/src.hpp>" >"$work/$backend-src.cpp"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

compile() { "$cxx" -std=c++20 "${includes[@]}" "$@" -c -o "$work/out.o"; }

# GNU time (Debian package "time") reports the peak memory too; bash's time does not.
gnu_time=false
[ -x /usr/bin/time ] && gnu_time=true

# measure <source> <flags...>: "<median CPU seconds> <median peak MB or ->", over $runs runs.
measure() {
  local source=$1
  shift
  for _ in $(seq "$runs"); do
    if $gnu_time; then
      /usr/bin/time -f '%U %S %M' -o "$work/time" "$cxx" -std=c++20 "${includes[@]}" "$@" -c -o "$work/out.o" "$source"
      awk '{ printf "%.2f %d\n", $1 + $2, $3 / 1024 }' "$work/time"
    else
      local TIMEFORMAT='%U %S'
      { time compile "$@" "$source"; } 2>&1 | awk '{ printf "%.2f -\n", $1 + $2 }'
    fi
  done >"$work/runs"
  local rss=-
  $gnu_time && rss=$(cut -d' ' -f2 "$work/runs" | median)
  echo "$(cut -d' ' -f1 "$work/runs" | median) $rss"
}

separate=-DERRAND_SEPARATE_COMPILATION
rows=(
  "baseline|baseline.cpp|"
  "machine|machine.cpp|"
  "core|core.cpp|"
  "memory+runner|memory+runner.cpp|"
  "memory+runner separate|memory+runner.cpp|$separate"
  "sqlite|sqlite.cpp|"
  "sqlite separate|sqlite.cpp|$separate"
  "postgres+runner|postgres+runner.cpp|"
  "postgres+runner separate|postgres+runner.cpp|$separate"
  "memory src.hpp|memory-src.cpp|$separate"
  "sqlite src.hpp|sqlite-src.cpp|$separate"
  "postgres src.hpp|postgres-src.cpp|$separate"
)

# A tree without ERRAND_SEPARATE_COMPILATION has no src.hpp: those rows are left out.
available=()
for row in "${rows[@]}"; do
  IFS='|' read -r name source flags <<<"$row"
  if [[ $source == *-src.cpp ]] && [ ! -e "$tree/backends/${source%-src.cpp}/include/errand/${source%-src.cpp}/src.hpp" ]; then
    continue
  fi
  # Stops here, with the compiler's errors, if one fails.
  # shellcheck disable=SC2086
  compile -fsyntax-only $flags "$work/$source"
  available+=("$row")
done

echo "compiler: $("$cxx" --version | head -n 1)"
echo "headers: $tree"
echo "runs: $runs (median), cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %10s %12s\n' "translation unit" "-O0 cpu s" "-O2 cpu s" "-O2 peak MB"
for row in "${available[@]}"; do
  IFS='|' read -r name source flags <<<"$row"
  # shellcheck disable=SC2086
  read -r o0 _ <<<"$(measure "$work/$source" -O0 $flags)"
  # shellcheck disable=SC2086
  read -r o2 rss <<<"$(measure "$work/$source" -O2 $flags)"
  printf '%-26s %10s %10s %12s\n' "$name" "$o0" "$o2" "$rss"
done
