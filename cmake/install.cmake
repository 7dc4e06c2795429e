# Install rules: the headers, one export set per component, and the package
# files that make find_package(errand CONFIG COMPONENTS sqlite postgres) work.
#
# Each backend gets its own targets file (errand-<backend>-targets.cmake) so
# that a consumer asking only for sqlite never needs libpqxx. Everything
# installed is relative to the prefix, so an installed tree can be moved.
# Every rule belongs to the install component "errand", so
# `cmake --install <build> --component errand` installs the library alone,
# whatever the examples or benchmarks install.

include(CMakePackageConfigHelpers)

set(ERRAND_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/errand"
    CACHE STRING "Where errand's CMake package files are installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT errand)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/conformance/include/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT errand)
install(TARGETS errand errand_conformance EXPORT errand-targets COMPONENT errand)
install(EXPORT errand-targets NAMESPACE errand:: DESTINATION "${ERRAND_INSTALL_CMAKEDIR}" COMPONENT errand)

foreach(backend IN LISTS ERRAND_COMPONENTS)
  if(NOT TARGET errand_${backend})
    message(FATAL_ERROR "errand: backends/${backend} must define the target errand_${backend}")
  endif()
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/backends/${backend}/include/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
          COMPONENT errand)
  install(TARGETS errand_${backend} EXPORT errand-${backend}-targets COMPONENT errand)
  install(EXPORT errand-${backend}-targets NAMESPACE errand:: DESTINATION "${ERRAND_INSTALL_CMAKEDIR}"
          COMPONENT errand)
endforeach()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/errandConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/errandConfig.cmake"
                              INSTALL_DESTINATION "${ERRAND_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/errandConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/errandConfig.cmake" "${PROJECT_BINARY_DIR}/errandConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/errandFindLibpqxx.cmake"
        DESTINATION "${ERRAND_INSTALL_CMAKEDIR}" COMPONENT errand)
