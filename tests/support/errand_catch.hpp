#pragma once
// Debian ships Catch2 2.13; Conan and vcpkg ship v3. One include serves both.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
