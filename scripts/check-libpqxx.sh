#!/usr/bin/env bash
# Builds errand's PostgreSQL tests, the examples that use PostgreSQL and the
# consumer tests against an installed libpqxx, and runs them against a
# throwaway PostgreSQL server (scripts/pg-test-server.sh, or the server
# ERRAND_TEST_PG_URL names).
#
#   scripts/check-libpqxx.sh --pqxx-prefix DIR [--build-dir DIR] [--cxx COMPILER] [--cxxflags FLAGS]
#   ERRAND_PQXX_PREFIX=DIR scripts/check-libpqxx.sh
#
# DIR is where libpqxx is installed (DIR/include/pqxx, DIR/lib/cmake/libpqxx),
# however it got there: your own build, a Conan or vcpkg package folder. This
# script builds no libpqxx.
#
# The compiler: libpqxx 8 needs C++20's <format>, which Debian 12's GCC 12 and
# its libstdc++ lack, so for libpqxx 8 the default is clang++-19 with libc++ 19
# (Debian: clang-19 libc++-19-dev libc++abi-19-dev). libc++ 19 keeps
# std::jthread and <stop_token>, which errand's runner uses, behind
# -fexperimental-library. For libpqxx 7 and older the default is c++.
# --cxx and --cxxflags replace both (the flags are used for linking too).
#
# Debian 12's rapidjson 1.1.0 (cereal's JSON archive includes it) defines a
# copy assignment of GenericStringRef that assigns a const member; clang 19
# rejects it. When the compiler does, a copy of rapidjson with that operator
# deleted (as rapidjson's own later sources do) is written into the build
# directory and put first on the include path. Likewise, Debian's Catch2 2.13
# ships its main() compiled against libstdc++; with libc++ a Catch2 CMake
# package whose main() this build compiles is written there and used instead.
# Nothing outside the build directory is changed.
#
# Exit status: 0 when everything built and every test passed, else non-zero.
# CI=true is set for ctest, so a missing PostgreSQL server fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'check-libpqxx: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

prefix=${ERRAND_PQXX_PREFIX:-}
build_dir=
cxx=
cxxflags=
cxxflags_given=false
while (($#)); do
  case $1 in
    --pqxx-prefix) prefix=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --cxxflags) cxxflags=$2; cxxflags_given=true; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ -n $prefix ]] || die "no libpqxx given: pass --pqxx-prefix DIR or set ERRAND_PQXX_PREFIX"
prefix=$(cd "$prefix" && pwd) || die "--pqxx-prefix: no such directory"
version_header=$prefix/include/pqxx/version.hxx
[[ -f $version_header ]] || die "$prefix has no include/pqxx/version.hxx: not a libpqxx installation"
pqxx_version=$(sed -n 's/^#[[:space:]]*define[[:space:]]\{1,\}PQXX_VERSION[[:space:]]\{1,\}"\(.*\)"$/\1/p' "$version_header")
pqxx_major=${pqxx_version%%.*}
[[ -n $pqxx_version ]] || die "cannot read PQXX_VERSION from $version_header"

if [[ -z $cxx ]]; then
  if ((pqxx_major >= 8)); then cxx=clang++-19; else cxx=c++; fi
fi
if ! $cxxflags_given && ((pqxx_major >= 8)) && [[ $cxx == clang* ]]; then
  cxxflags="-stdlib=libc++ -fexperimental-library"
fi
command -v "$cxx" >/dev/null ||
  die "compiler '$cxx' not found (Debian 12: apt-get install clang-19 libc++-19-dev libc++abi-19-dev)"
command -v cmake >/dev/null || die "cmake not found"
command -v ninja >/dev/null || die "ninja not found (Debian: ninja-build)"

build_dir=${build_dir:-build/libpqxx-$pqxx_version}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)

# rapidjson: does cereal's JSON archive compile as it is?
probe() {
  # shellcheck disable=SC2086 # the flags are a list of words
  printf '#include <cereal/archives/json.hpp>\nint main() {}\n' |
    "$cxx" -std=c++20 $cxxflags "$@" -fsyntax-only -x c++ - 2>"$build_dir/rapidjson-probe.log"
}
include_fix=
if ! probe; then
  # shellcheck disable=SC2086
  document_h=$(printf '#include <rapidjson/document.h>\n' | "$cxx" -std=c++20 $cxxflags -M -x c++ - 2>/dev/null |
    grep -o '[^ ]*/rapidjson/document\.h' | head -n 1 || true)
  [[ -n $document_h ]] || die "cereal's JSON archive does not compile with $cxx, and rapidjson is not the cause:
$(cat "$build_dir/rapidjson-probe.log")"
  fixed=$build_dir/rapidjson-fix
  rm -rf "$fixed"
  mkdir -p "$fixed"
  cp -R "$(dirname "$document_h")" "$fixed/rapidjson"
  sed -i 's/GenericStringRef& operator=(const GenericStringRef& rhs) { s = rhs.s; length = rhs.length; }/GenericStringRef\& operator=(const GenericStringRef\& rhs) = delete;/' \
    "$fixed/rapidjson/document.h"
  probe -isystem "$fixed" || die "cereal's JSON archive does not compile with $cxx even with rapidjson fixed:
$(cat "$build_dir/rapidjson-probe.log")"
  say "rapidjson in $(dirname "$document_h") does not compile with $cxx; using a fixed copy in $fixed"
  include_fix="-isystem $fixed"
fi

# Catch2: with libc++, compile Catch2 2.x's main() in this build.
catch2_option=
tools_option=-DERRAND_BUILD_TOOLS=ON
if [[ " $cxxflags " == *" -stdlib=libc++ "* ]]; then
  [[ -f /usr/include/catch2/catch.hpp ]] ||
    die "with libc++ this script needs Catch2 2.x's single header /usr/include/catch2/catch.hpp (Debian: catch2)"
  catch2_dir=$build_dir/catch2-libcxx
  mkdir -p "$catch2_dir"
  printf '#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n' >"$catch2_dir/catch2_main.cpp"
  cat >"$catch2_dir/Catch2Config.cmake" <<'CMAKE'
# Written by scripts/check-libpqxx.sh: Debian's Catch2 2.x header, with its
# main() compiled by this build's compiler and standard library.
if(NOT TARGET Catch2::Catch2)
  add_library(Catch2::Catch2 INTERFACE IMPORTED)
  add_library(errand_catch2_main STATIC "${CMAKE_CURRENT_LIST_DIR}/catch2_main.cpp")
  target_link_libraries(errand_catch2_main PUBLIC Catch2::Catch2)
  add_library(Catch2::Catch2WithMain ALIAS errand_catch2_main)
endif()
CMAKE
  catch2_option=-DCatch2_DIR=$catch2_dir
  # Debian's cpp-httplib is a library compiled against libstdc++, which a
  # libc++ program cannot link: the errand command and its tests are left out.
  tools_option=-DERRAND_BUILD_TOOLS=OFF
  say "with libc++ the errand command is not built (Debian's cpp-httplib is compiled against libstdc++)"
fi

say "libpqxx $pqxx_version from $prefix"
say "compiler: $("$cxx" --version | head -n 1) ($cxx $cxxflags)"
say "build directory: $build_dir"

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxxflags $include_fix" \
  -DCMAKE_EXE_LINKER_FLAGS="$cxxflags" \
  -DCMAKE_PREFIX_PATH="$prefix" ${catch2_option:+"$catch2_option"} "$tools_option" \
  -DERRAND_WITH_SQLITE=ON -DERRAND_WITH_POSTGRES=ON \
  -DERRAND_BUILD_TESTS=ON -DERRAND_BUILD_EXAMPLES=ON -DERRAND_BUILD_BENCHMARKS=OFF

# The tree must use this libpqxx, not another one the search could find:
# its CMake package, or (libpqxx 6, Debian's) its pkg-config file.
found=$(sed -n 's/^libpqxx_DIR:PATH=//p; s/^pkgcfg_lib_errand_pkg_libpqxx_pqxx:FILEPATH=//p' \
  "$build_dir/CMakeCache.txt" | grep -v -- '-NOTFOUND$' | head -n 1 || true)
[[ $found == "$prefix"/* ]] || die "the build found libpqxx in '${found:-no place}', not in $prefix"
say "libpqxx found at $found"

# The executables of the tests labelled postgres (tests and examples): before
# they are built ctest cannot name them, so take each test's name and the
# words of its command, and keep those that are targets of the build.
mapfile -t targets < <(ctest --test-dir "$build_dir" -L postgres --show-only=json-v1 | python3 -c '
import json, os, subprocess, sys
build = sys.argv[1]
listing = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], capture_output=True, text=True, check=True)
targets = {line.split(":")[0] for line in listing.stdout.splitlines()}
targets -= {"all", "test", "install", "clean", "help"}  # targets CMake adds, never a program of a test
for test in json.load(sys.stdin)["tests"]:
    for word in [test["name"]] + [os.path.basename(w) for w in test.get("command") or []]:
        if word in targets:
            print(word)
' "$build_dir" | sort -u)
((${#targets[@]})) || die "no PostgreSQL test executables found in $build_dir"
say "building ${targets[*]}"
cmake --build "$build_dir" --parallel 2 --target "${targets[@]}"

# The consumer tests build their own projects with the tree's settings, so
# they also check that an installed errand finds this libpqxx.
CI=true ctest --test-dir "$build_dir" -L 'postgres|consumer' --output-on-failure --parallel 2
say "passed: libpqxx $pqxx_version, $("$cxx" --version | head -n 1)"
