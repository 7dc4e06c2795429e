#!/usr/bin/env bash
# Checks errand's Conan recipe and vcpkg port with the real tools:
#   conan   conan create . (conanfile.py, then test_package/ built and run)
#   vcpkg   vcpkg install "errand[sqlite,postgres]" with ports/ as an overlay
#           (classic mode), then tests/consumer/find_package built with vcpkg's
#           toolchain file from a vcpkg.json manifest (manifest mode) and run
# A tool that is not installed is skipped, and the summary says so. Not part
# of CI: neither tool is installed there.
#
#   scripts/check-packaging.sh [--system] [--work-dir DIR]
#
# Default: the tools as this machine has them configured: Conan's default
# profile and remotes, vcpkg's registry in VCPKG_ROOT. They download and build
# the dependencies (Boost, cereal, SQLite, libpqxx 8: a compiler with <format>,
# GCC 13 or clang 16, is needed for the postgres backend).
#
# --system: nothing is downloaded, nothing but errand is built. The
# dependencies are the system's packages (Debian: libboost-dev libcereal-dev
# libsqlite3-dev libpqxx-dev), through the stand-ins in tests/packaging:
# Conan runs with a CONAN_HOME of its own in the work directory, a detected
# profile, and [replace_requires] onto tests/packaging/conan-system exported
# with the system's versions; vcpkg gets tests/packaging/vcpkg-system-ports as
# a second overlay, the system's cmake and ninja, and no binary cache.
#
# vcpkg needs VCPKG_ROOT (or a vcpkg executable inside its checkout) for its
# scripts and its helper ports vcpkg-cmake and vcpkg-cmake-config.
#
# Exit status: 0 when every check that ran passed and at least one ran;
# 1 when a check failed; 2 when no tool was installed (or bad arguments).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$PWD

say() { printf 'check-packaging: %s\n' "$*" >&2; }

system=false
work=
while (($#)); do
  case $1 in
    --system) system=true; shift ;;
    --work-dir) work=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument '$1' (see --help)"; exit 2 ;;
  esac
done
work=${work:-build/packaging}
mkdir -p "$work"
work=$(cd "$work" && pwd)

declare -a summary=()
failed=0
ran=0

# check <name> <command...>: runs one check, records pass or fail.
check() {
  local name=$1
  shift
  printf '\n=== %s\n$ %s\n' "$name" "$*"
  ran=$((ran + 1))
  if "$@"; then
    summary+=("PASS  $name")
  else
    summary+=("FAIL  $name")
    failed=$((failed + 1))
  fi
}

skip() {
  say "SKIPPED $1"
  summary+=("SKIP  $1")
}

# The value of `#define NAME value` in a header, without quotes.
define_value() {
  sed -n "s/^#[[:space:]]*define[[:space:]]\{1,\}$2[[:space:]]\{1,\}\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$1" |
    head -n 1
}

# Versions of the system's packages, as conan-center-index spells them.
system_versions() {
  local boost cereal
  boost=$(define_value /usr/include/boost/version.hpp BOOST_VERSION) || return 1
  cereal=/usr/include/cereal/version.hpp
  [[ -n $boost && -f $cereal && -f /usr/include/sqlite3.h && -f /usr/include/pqxx/version.hxx ]] || {
    say "--system needs the system's Boost, cereal, SQLite and libpqxx headers" \
      "(Debian: libboost-dev libcereal-dev libsqlite3-dev libpqxx-dev)"
    return 1
  }
  printf 'boost %s\n' "$((boost / 100000)).$((boost / 100 % 1000)).$((boost % 100))"
  printf 'cereal %s.%s.%s\n' "$(define_value $cereal CEREAL_VERSION_MAJOR)" \
    "$(define_value $cereal CEREAL_VERSION_MINOR)" "$(define_value $cereal CEREAL_VERSION_PATCH)"
  printf 'sqlite3 %s\n' "$(define_value /usr/include/sqlite3.h SQLITE_VERSION)"
  printf 'libpqxx %s\n' "$(define_value /usr/include/pqxx/version.hxx PQXX_VERSION)"
}

# Conan builds test_package inside its folder; a copy keeps the checkout clean.
test_package_copy() {
  rm -rf "$work/test_package"
  cp -R test_package "$work/test_package"
  printf '%s\n' "$work/test_package"
}

conan_create_system() {
  export CONAN_HOME=$work/conan-home
  local versions name version profile=$work/conan-system.profile
  versions=$(system_versions) || return 1
  conan profile detect --force || return 1
  {
    printf 'include(default)\n[settings]\ncompiler.cppstd=20\n[replace_requires]\n'
    while read -r name version; do printf '%s/*: %s/%s\n' "$name" "$name" "$version"; done <<<"$versions"
  } >"$profile"
  printf -- '--- %s\n' "$profile"
  cat "$profile"
  while read -r name version; do
    conan export tests/packaging/conan-system --name "$name" --version "$version" || return 1
  done <<<"$versions"
  conan create . -pr:a "$profile" --build=missing --no-remote -tf "$(test_package_copy)"
}

vcpkg_root() {
  local root=${VCPKG_ROOT:-$(dirname "$(readlink -f "$(command -v vcpkg)")")}
  if [[ ! -f $root/scripts/buildsystems/vcpkg.cmake ]]; then
    say "vcpkg: no vcpkg checkout at '$root' (set VCPKG_ROOT to it)"
    return 1
  fi
  # Offline, vcpkg's rpath fix-up must find patchelf instead of downloading it.
  if $system && [[ $(uname -s) == Linux ]] && ! command -v patchelf >/dev/null; then
    say "vcpkg: --system needs patchelf on PATH, or vcpkg downloads it (Debian: patchelf)"
    return 1
  fi
  # The toolchain file runs the vcpkg in the checkout, or downloads one.
  if [[ ! -x $root/vcpkg ]]; then
    say "vcpkg: $root/vcpkg is missing (run $root/bootstrap-vcpkg.sh, or link your vcpkg there)"
    return 1
  fi
  printf '%s\n' "$root"
}

# The overlays: errand's port, and in --system mode the stand-ins.
overlays=("$repo/ports")
if $system; then
  overlays+=("$repo/tests/packaging/vcpkg-system-ports")
  export VCPKG_FORCE_SYSTEM_BINARIES=1 VCPKG_DISABLE_METRICS=1
fi

vcpkg_classic() {
  rm -rf "$work/vcpkg/classic-installed"
  local args=("--x-install-root=$work/vcpkg/classic-installed" "--x-buildtrees-root=$work/vcpkg/buildtrees"
    "--x-packages-root=$work/vcpkg/packages")
  local overlay
  for overlay in "${overlays[@]}"; do args+=("--overlay-ports=$overlay"); done
  $system && args+=(--binarysource=clear)
  # --classic: the checkout's own vcpkg.json would otherwise mean manifest mode.
  vcpkg install --classic "errand[sqlite,postgres]" "${args[@]}" || return 1
  vcpkg list --classic "--x-install-root=$work/vcpkg/classic-installed" errand
}

# tests/consumer/find_package with a vcpkg.json: vcpkg's toolchain file
# installs errand from the overlay when CMake configures the project.
vcpkg_manifest_consumer() {
  local root=$1 project=$work/vcpkg/manifest-consumer
  rm -rf "$project"
  mkdir -p "$project"
  cp -R tests/consumer/find_package tests/consumer/consumer.cpp "$project/"
  cat >"$project/find_package/vcpkg.json" <<'JSON'
{
  "dependencies": [
    { "name": "errand", "features": ["sqlite", "postgres"] }
  ]
}
JSON
  local overlay_list
  overlay_list=$(IFS=';'; printf '%s' "${overlays[*]}")
  local install_options="--x-buildtrees-root=$work/vcpkg/buildtrees;--x-packages-root=$work/vcpkg/packages"
  $system && install_options+=";--binarysource=clear"
  cmake -S "$project/find_package" -B "$project/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$root/scripts/buildsystems/vcpkg.cmake" \
    -DVCPKG_OVERLAY_PORTS="$overlay_list" -DVCPKG_INSTALL_OPTIONS="$install_options" \
    -DERRAND_CONSUMER_COMPONENTS=memory,sqlite,postgres || return 1
  # errand must come from the manifest's installed tree, not from elsewhere.
  local found
  found=$(sed -n 's/^errand_DIR:PATH=//p' "$project/build/CMakeCache.txt")
  printf 'errand_DIR: %s\n' "$found"
  [[ $found == "$project/build/vcpkg_installed/"* ]] || {
    say "vcpkg: the consumer found errand in '$found', not in the manifest's vcpkg_installed"
    return 1
  }
  cmake --build "$project/build" || return 1
  mkdir -p "$project/scratch"
  "$project/build/errand_consumer" "$project/scratch"
}

mode=$($system && echo "system packages" || echo "the tools' registries")
say "dependencies from $mode; work directory $work"

if command -v conan >/dev/null; then
  say "conan: $(conan --version)"
  if $system; then
    check "conan create (system packages)" conan_create_system
  else
    check "conan create" conan create . -s compiler.cppstd=20 --build=missing -tf "$(test_package_copy)"
  fi
else
  skip "conan: not installed (Conan 2: pip install conan)"
fi

if command -v vcpkg >/dev/null; then
  say "vcpkg: $(vcpkg version | head -n 1)"
  if root=$(vcpkg_root); then
    export VCPKG_ROOT=$root
    check "vcpkg install errand[sqlite,postgres] (classic mode)" vcpkg_classic
    check "vcpkg manifest mode: consumer with vcpkg's toolchain file" vcpkg_manifest_consumer "$root"
  else
    ran=$((ran + 1))
    failed=$((failed + 1))
    summary+=("FAIL  vcpkg: no VCPKG_ROOT")
  fi
else
  skip "vcpkg: not installed (https://learn.microsoft.com/vcpkg/get_started/get-started)"
fi

printf '\n=== summary (%s)\n' "$mode"
printf '%s\n' "${summary[@]}"
if ((failed)); then
  exit 1
fi
if ((ran == 0)); then
  say "nothing was checked: neither conan nor vcpkg is installed"
  exit 2
fi
