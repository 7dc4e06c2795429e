# Provides the imported target libpqxx::pqxx however libpqxx was installed,
# and sets ERRAND_LIBPQXX_FOUND.
#
# libpqxx 7 and later (Conan, vcpkg, source builds) install a CMake package
# that defines libpqxx::pqxx. Debian 12's libpqxx-dev 6.4 ships only a
# pkg-config file, so the same target name is built from that. errand's build
# tree and its installed package both include this file, so errand::postgres
# links the same name wherever it is used.

if(TARGET libpqxx::pqxx)
  set(ERRAND_LIBPQXX_FOUND TRUE)
  return()
endif()

find_package(libpqxx CONFIG QUIET)
if(TARGET libpqxx::pqxx)
  set(ERRAND_LIBPQXX_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(errand_pkg_libpqxx QUIET IMPORTED_TARGET libpqxx)
endif()
if(TARGET PkgConfig::errand_pkg_libpqxx)
  add_library(libpqxx::pqxx INTERFACE IMPORTED)
  target_link_libraries(libpqxx::pqxx INTERFACE PkgConfig::errand_pkg_libpqxx)
  set(ERRAND_LIBPQXX_FOUND TRUE)
else()
  set(ERRAND_LIBPQXX_FOUND FALSE)
endif()
