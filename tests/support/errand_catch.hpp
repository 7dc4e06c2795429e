#pragma once
// Debian ships Catch2 2.13; Conan and vcpkg ship v3. One include serves both,
// with the matchers whose names differ between them.
#include <errand/conformance/catch.hpp>

using errand::conformance::contains_text;
