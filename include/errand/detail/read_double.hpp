#pragma once
// Reading a double from text, exactly and whatever the locale. std::from_chars
// does it; libc++ before LLVM 20 has no floating-point from_chars (it does not
// define __cpp_lib_to_chars), and Conan and vcpkg users build with it, so
// there a stream imbued with the classic locale reads the same grammar. The
// one difference: the stream refuses a number below the smallest normal double
// (about 2.2e-308) as out of range, which the codec then reads as zero.

#include <string_view>
#include <version>

#if defined(__cpp_lib_to_chars)
#include <charconv>
#include <system_error>
#else
#include <locale>
#include <sstream>
#include <string>
#endif

namespace errand::detail {

// True when all of `text` is one number a double can hold (not out of range), stored in `out`.
inline bool read_double(std::string_view text, double& out) {
#if defined(__cpp_lib_to_chars)
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size();
#else
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  double value = 0;
  in >> value;
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return false;
  out = value;
  return true;
#endif
}

}  // namespace errand::detail
