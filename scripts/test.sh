#!/usr/bin/env bash
# Every errand test, in the configurations users build, on a Debian 12 machine
# with nothing installed: installs what is missing, then runs four stages. The
# first two are a configure, a build and ctest in build/<preset>:
#
#   release           GCC, -O3 (the release preset, warnings as errors): unit,
#                     compile-fail, conformance, SQLite, PostgreSQL (a throwaway
#                     server the tests start), the errand command, examples,
#                     docs and consumer tests, and every public header compiled
#                     alone at -O3 (label headers); all but the dashboard's
#                     browser test
#   clang-asan-ubsan  Debian's clang++ with libstdc++, AddressSanitizer and
#                     UndefinedBehaviorSanitizer: every test but the header and
#                     consumer checks the release stage made, the compile-fail
#                     tests and the dashboard in a headless browser included
#
# and the last two prove the promises under load and hostile bytes, briefly
# (docs/reliability.md has the long runs):
#
#   soak        scripts/soak.sh: 3,000 jobs through worker processes killed at
#               random, on a SQLite file and on PostgreSQL, built by the
#               release stage, then every row and history checked
#   fuzz        scripts/fuzz.sh 15: each libFuzzer target 15 s on its corpus
#
# More stages run only when named: ci (GCC, -O0, warnings as errors, every test
# but the header check), the quickest build to iterate with; clang (-O0, no
# sanitizer) and asan-ubsan (GCC's sanitizers), which clang-asan-ubsan merged
# to keep the run short (docs/decisions.md says why).
#
# Each stage prints its wall and CPU time, and a summary closes the run. A
# failed stage does not stop the others; the exit status is 1 if any failed.
# Safe to run again: a re-run installs nothing and rebuilds only what changed.
#
#   scripts/test.sh                        the four stages
#   scripts/test.sh -L consumer            arguments go to every ctest stage's ctest
#   scripts/test.sh --stages=ci -R decide  only the named stages (comma-separated)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

stages=(release clang-asan-ubsan soak fuzz)
if [[ ${1:-} == --stages=* ]]; then
  IFS=, read -r -a stages <<<"${1#--stages=}"
  shift
fi
ctest_arguments=("$@")

# A stage's configure, build and test preset.
preset_of() {
  case $1 in
    ci) echo ci ;;
    release) echo ci-release ;;
    clang) echo clang ;;
    asan-ubsan) echo asan-ubsan ;;
    clang-asan-ubsan) echo clang-asan-ubsan ;;
    soak | fuzz) echo ;;
    *) return 1 ;;
  esac
}
for stage in "${stages[@]}"; do
  preset_of "$stage" >/dev/null || {
    echo "test.sh: unknown stage '$stage' (stages: ci, release, clang, asan-ubsan, clang-asan-ubsan, soak, fuzz)" >&2
    exit 2
  }
done

timings=$(mktemp)
trap 'rm -f "$timings"' EXIT
summary=()
failed=0

# Runs "$@" as stage $1 (the rest is the command), timing it; its output is shown as it comes.
timed() {
  local name=$1
  shift
  local TIMEFORMAT="%R %U %S"
  local status=0
  echo
  echo "==== $name: $*"
  { time "$@" 2>&3; } 3>&2 2>"$timings" || status=$?
  local line
  line=$(awk -v name="$name" '{ printf "%-16s %6.0f s wall %6.0f s CPU", name, $1, $2 + $3 }' "$timings")
  [[ $status -eq 0 ]] || line+="  FAILED"
  echo "==== $line"
  summary+=("$line")
  return "$status"
}

# shellcheck disable=SC2317  # called through timed
run_stage() {
  local stage=$1 preset own=()
  case $stage in
    soak) scripts/soak.sh 3000; return ;;
    fuzz) scripts/fuzz.sh 15; return ;;
  esac
  preset=$(preset_of "$stage")
  # GCC's header check runs at -O3 in the release stage, the consumer tests
  # (an installed errand found by a program of its own) there too, and the
  # dashboard's browser test (the same JavaScript whatever compiles the
  # server) in the stages that build with a sanitizer or for ci: once each is
  # enough (the clang-asan-ubsan preset leaves out the first two itself). Arguments
  # given to test.sh come after these, so a -LE of yours replaces them.
  case $stage in
    ci) own=(-LE headers) ;;
    release) own=(-LE browser) ;;
    clang) own=(-LE 'browser|consumer') ;;
  esac
  # The benchmarks (and the soak harness) are built by the release stage,
  # which the soak stage runs from; building them again with Clang at -O0
  # proves nothing a test needs and costs a minute and a half of CPU.
  local configure=()
  [[ $stage == clang ]] && configure=(-DERRAND_BUILD_BENCHMARKS=OFF)
  cmake --preset "$preset" "${configure[@]}" >/dev/null &&
    cmake --build --preset "$preset" &&
    ctest --preset "$preset" "${own[@]}" "${ctest_arguments[@]}" 2>&1 | tee "build/$preset/ctest.log"
}

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
echo "test.sh: stages ${stages[*]} on $(nproc) cores, load average $(load)"
run_start=$(date +%s)

timed dependencies scripts/install-deps.sh || exit 1
for stage in "${stages[@]}"; do
  timed "$stage" run_stage "$stage" || failed=1
  preset=$(preset_of "$stage")
  if [[ -n $preset ]]; then
    counts=$(grep -E 'tests passed|tests failed' "build/$preset/ctest.log" 2>/dev/null | tail -1)
    summary[${#summary[@]} - 1]+="  ${counts:-no tests ran}"
  fi
done

echo
echo "==== summary ($(($(date +%s) - run_start)) s in all; load average now $(load))"
printf '%s\n' "${summary[@]}"
exit "$failed"
