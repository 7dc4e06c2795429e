#pragma once
// Catch2 as errand's conformance suites and tests use it: 2.13 (Debian's) or
// 3 (Conan's and vcpkg's), whichever the build found.

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <string>

namespace errand::conformance {

// Matches text that holds `part`: Catch2 3 calls this matcher ContainsSubstring,
// Catch2 2 calls it Contains (a name that in 3 matches a range's element).
inline auto contains_text(const std::string& part) {
#if CATCH_VERSION_MAJOR >= 3
  return Catch::Matchers::ContainsSubstring(part);
#else
  return Catch::Matchers::Contains(part);
#endif
}

}  // namespace errand::conformance
