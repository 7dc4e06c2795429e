# A stand-in for one of errand's conan-center-index requirements, made from
# what this machine already has: the system's -dev package (Debian: libboost-dev,
# libcereal-dev, libsqlite3-dev, libpqxx-dev) or, with the `prefix` option, an
# installation prefix (a libpqxx 8 you built). It downloads and builds nothing;
# it declares the CMake file and target names conan-center-index's recipe
# declares, so errand's recipe and test_package see what they would see there.
# scripts/check-packaging.sh --system exports it once per requirement,
#   conan export tests/packaging/conan-system --name sqlite3 --version 3.40.1
# and maps the requirement onto it with [replace_requires] in a profile.
import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration

# name: CMake file name, root target, component name and target, libraries,
# and the libraries those need.
_PACKAGES = {
    "boost": ("Boost", "Boost::boost", "headers", "Boost::headers", [], []),
    "cereal": ("cereal", "cereal::cereal", None, None, [], []),
    "sqlite3": ("SQLite3", "SQLite::SQLite3", "sqlite", "SQLite::SQLite3", ["sqlite3"], []),
    "libpqxx": ("libpqxx", "libpqxx::pqxx", "pqxx", "libpqxx::pqxx", ["pqxx"], ["pq"]),
}


class SystemStandIn(ConanFile):
    description = "Stand-in for a conan-center-index package, using the system's installation"
    license = "BSL-1.0"
    package_type = "unknown"
    options = {"prefix": ["ANY"]}
    default_options = {"prefix": ""}

    def validate(self):
        if self.name not in _PACKAGES:
            raise ConanInvalidConfiguration(f"no stand-in for '{self.name}'; known: {', '.join(_PACKAGES)}")
        if self.options.prefix and not os.path.isdir(os.path.join(str(self.options.prefix), "include")):
            raise ConanInvalidConfiguration(f"{self.name}: prefix {self.options.prefix} has no include/")

    def package_info(self):
        file_name, target, component, component_target, libs, needed_libs = _PACKAGES[self.name]
        self.cpp_info.set_property("cmake_file_name", file_name)
        self.cpp_info.set_property("cmake_target_name", target)
        info = self.cpp_info
        if component:
            info = self.cpp_info.components[component]
            info.set_property("cmake_target_name", component_target)
        info.bindirs = []
        if self.options.prefix:
            prefix = str(self.options.prefix)
            info.includedirs = [os.path.join(prefix, "include")]
            info.libdirs = [os.path.join(prefix, "lib")]
            info.libs = libs
            info.system_libs = needed_libs
        else:
            info.includedirs = []
            info.libdirs = []
            info.system_libs = libs + needed_libs
