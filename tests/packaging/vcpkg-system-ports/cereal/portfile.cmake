# Stand-in port for scripts/check-packaging.sh --system: CMake finds the system's package where it is.
set(VCPKG_POLICY_EMPTY_PACKAGE enabled)
