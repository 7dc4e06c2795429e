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

    @property
    def _compilers_minimum_version_with_libpqxx8(self):
        # libpqxx 8's own minimums (its requirements.json): it needs <format>.
        return {
            "gcc": "13",
            "clang": "16",
        }

    # The runner's std::jthread and <stop_token> are behind -fexperimental-library
    # in libc++ before release 20. errand has been built with libc++ 19.
    _libcxx_minimum_clang = "19"
    _libcxx_stable_jthread_clang = "20"

    @property
    def _uses_experimental_libcxx(self):
        return (self.settings.compiler == "clang" and self.settings.get_safe("compiler.libcxx") == "libc++"
                and Version(self.settings.compiler.version) < self._libcxx_stable_jthread_clang)

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
            # 3.35: UPDATE ... RETURNING
            self.requires("sqlite3/[>=3.35 <4]", transitive_headers=True, transitive_libs=True)
        if self.options.with_postgres:
            # errand's PostgreSQL layer is written for libpqxx 6.4 to 8.x;
            # conan-center-index has 8.x only.
            self.requires("libpqxx/[>=7 <9]", transitive_headers=True, transitive_libs=True)

    def package_id(self):
        # The package holds every backend's headers whatever the options; the
        # options only choose requirements and components.
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, self._min_cppstd)
        compiler = str(self.settings.compiler)
        version = Version(self.settings.compiler.version)
        minimum_version = self._compilers_minimum_version.get(compiler)
        if minimum_version and version < minimum_version:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++{self._min_cppstd}, which {compiler} "
                f"{self.settings.compiler.version} does not support well enough")
        if (compiler == "clang" and self.settings.get_safe("compiler.libcxx") == "libc++"
                and version < self._libcxx_minimum_clang):
            raise ConanInvalidConfiguration(
                f"{self.ref} uses std::jthread and <stop_token>; with libc++ it is built with clang and libc++ "
                f"{self._libcxx_minimum_clang} or newer (this package adds the -fexperimental-library they need "
                f"below {self._libcxx_stable_jthread_clang}); use libstdc++ or a newer clang")
        if self.options.with_postgres:
            libpqxx = str(self.dependencies["libpqxx"].ref.version)
            libpqxx_major = libpqxx.split(".")[0]
            pqxx_minimum = self._compilers_minimum_version_with_libpqxx8.get(compiler)
            if libpqxx_major.isdigit() and int(libpqxx_major) >= 8 and pqxx_minimum and version < pqxx_minimum:
                raise ConanInvalidConfiguration(
                    f"{self.ref} with_postgres uses libpqxx {libpqxx}, which needs {compiler} {pqxx_minimum} "
                    f"or newer and a standard library with <format>; use a newer compiler "
                    f"or -o errand/*:with_postgres=False")

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
        if self._uses_experimental_libcxx:
            core.cxxflags = ["-fexperimental-library"]
            core.exelinkflags = ["-fexperimental-library"]
            core.sharedlinkflags = ["-fexperimental-library"]

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
