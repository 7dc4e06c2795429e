# errand is header-only: one configuration is all there is to install.
set(VCPKG_BUILD_TYPE release)

# This port builds the errand checkout it lives in (ports/errand), used as an
# overlay port: vcpkg install errand --overlay-ports=<checkout>/ports
# A registry's copy of the port takes the sources from a release instead, with
# vcpkg_from_github in place of the next line; docs/packaging.md gives the call
# and what a maintainer fills in at release time.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        sqlite      ERRAND_WITH_SQLITE
        postgres    ERRAND_WITH_POSTGRES
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DERRAND_WITH_MEMORY=ON
        -DERRAND_BUILD_TESTS=OFF
        -DERRAND_BUILD_EXAMPLES=OFF
        -DERRAND_BUILD_BENCHMARKS=OFF
        -DERRAND_BUILD_TOOLS=OFF
        -DERRAND_INSTALL=ON
        -DERRAND_INSTALL_CMAKEDIR=share/errand
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/errand)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
