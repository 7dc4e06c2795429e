#pragma once
// Reading a double from text, exactly and whatever the locale. std::from_chars
// does it; libc++ before LLVM 20 has no floating-point from_chars (it does not
// define __cpp_lib_to_chars), and Conan and vcpkg users build with it. There
// std::strtod reads the same numbers (and "inf", "Infinity", "NaN", as
// PostgreSQL writes them), once the point is spelled as the C locale of the
// moment spells it.

#include <string_view>
#include <version>

#if defined(__cpp_lib_to_chars)
#include <charconv>
#include <system_error>
#else
#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <string>
#endif

namespace errand::detail {

// True when all of `text` is one number a double can hold, stored in `out`;
// false for anything else, a number too large or too small for a double among them.
inline bool read_double(std::string_view text, double& out) {
#if defined(__cpp_lib_to_chars)
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size();
#else
  if (text.empty() || text.front() == ' ' || text.front() == '+') return false;
  std::string local(text);
  const char point = *std::localeconv()->decimal_point;
  for (char& c : local)
    if (c == '.') c = point;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(local.c_str(), &end);
  if (end != local.c_str() + local.size()) return false;
  if (errno == ERANGE && (value == 0 || std::isinf(value))) return false;
  out = value;
  return true;
#endif
}

}  // namespace errand::detail
