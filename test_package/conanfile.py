import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout


class TestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "VirtualRunEnv"
    test_type = "explicit"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        # The consumer links every component the tested package was built with.
        errand = self.dependencies["errand"]
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["ERRAND_TEST_SQLITE"] = bool(errand.options.with_sqlite)
        toolchain.cache_variables["ERRAND_TEST_POSTGRES"] = bool(errand.options.with_postgres)
        toolchain.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            test_package = os.path.join(self.cpp.build.bindir, "test_package")
            self.run(test_package, env="conanrun")
