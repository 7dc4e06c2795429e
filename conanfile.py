import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class ErrandConan(ConanFile):
    name = "errand"
    description = ("Header-only C++20 toolkit for work that can fail: compile-time state machines for a job's "
                   "lifecycle, failures that carry their reason, and backends (memory, SQLite, PostgreSQL) that "
                   "persist each transition and its error atomically")
    url = "https://github.com/conan-io/conan-center-index"
    license = "BSL-1.0"
    topics = ("job-queue", "state-machine", "retry", "sqlite", "postgresql", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "with_sqlite": [True, False],
        "with_postgres": [True, False],
    }
    default_options = {
        "with_sqlite": True,
        "with_postgres": True,
    }
    # Built from this repository: the recipe sits at its root. A conan-center-index
    # recipe gets the same files from a release archive instead (docs/packaging.md).
    exports_sources = "include/*", "backends/*/include/*", "LICENSE*"
    no_copy_source = True

    _backends = ("memory", "sqlite", "postgres")

    @property
    def _min_cppstd(self):
        return 20

    @property
    def _compilers_minimum_version(self):
        # `using enum`, std::jthread and concepts
        return {
            "gcc": "11",
            "clang": "14",
            "apple-clang": "15",
            "msvc": "193",
        }

    def set_version(self):
        if not self.version:
            cmakelists = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
            self.version = re.search(r"project\(errand\s+VERSION\s+([0-9.]+)", cmakelists).group(1)

    def layout(self):
        basic_layout(self)

    def requirements(self):
        # Headers of every dependency appear in errand's public headers.
        self.requires("boost/1.86.0", transitive_headers=True)
        self.requires("cereal/1.3.2", transitive_headers=True)
        if self.options.with_sqlite:
            self.requires("sqlite3/3.46.1", transitive_headers=True, transitive_libs=True)
        if self.options.with_postgres:
            self.requires("libpqxx/7.10.1", transitive_headers=True, transitive_libs=True)

    def package_id(self):
        # The package holds every backend's headers whatever the options; the
        # options only choose requirements and components.
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, self._min_cppstd)
        minimum_version = self._compilers_minimum_version.get(str(self.settings.compiler))
        if minimum_version and Version(self.settings.compiler.version) < minimum_version:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++{self._min_cppstd}, which {self.settings.compiler} "
                f"{self.settings.compiler.version} does not support well enough")

    def build(self):
        pass

    def package(self):
        copy(self, "LICENSE*", self.source_folder, os.path.join(self.package_folder, "licenses"))
        include = os.path.join(self.package_folder, "include")
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), include)
        for backend in self._backends:
            copy(self, "*.hpp", os.path.join(self.source_folder, "backends", backend, "include"), include)

    def package_info(self):
        # The names errand's own CMake package uses: find_package(errand) and
        # errand::errand, errand::memory, errand::sqlite, errand::postgres. The
        # root target gets a name of its own, because the core component takes
        # errand::errand; it links every enabled component.
        self.cpp_info.set_property("cmake_file_name", "errand")
        self.cpp_info.set_property("cmake_target_name", "errand::all")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []

        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "errand::errand")
        core.requires = ["boost::headers", "cereal::cereal"]
        core.bindirs = []
        core.libdirs = []
        if self.settings.os in ["Linux", "FreeBSD"]:
            core.system_libs = ["pthread"]

        memory = self.cpp_info.components["memory"]
        memory.set_property("cmake_target_name", "errand::memory")
        memory.requires = ["core"]
        memory.bindirs = []
        memory.libdirs = []

        if self.options.with_sqlite:
            sqlite = self.cpp_info.components["sqlite"]
            sqlite.set_property("cmake_target_name", "errand::sqlite")
            sqlite.requires = ["core", "sqlite3::sqlite3"]
            sqlite.bindirs = []
            sqlite.libdirs = []

        if self.options.with_postgres:
            postgres = self.cpp_info.components["postgres"]
            postgres.set_property("cmake_target_name", "errand::postgres")
            postgres.requires = ["core", "libpqxx::libpqxx"]
            postgres.bindirs = []
            postgres.libdirs = []
