#pragma once
// Building message and SQL text by appending to one string. Text here is never
// built as "'" + std::string(name): putting a one-character literal in front
// of a temporary string makes GCC 12 at -O3 report an overlapping memcpy of
// 2^63 bytes (-Wrestrict, GCC bug 105329) in every program that includes the
// header, which -Werror turns into a failed build.

#include <errand/enum_name.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace errand::detail {

// The pieces one after the other, in a string allocated once.
template <class... Pieces>
std::string concat(const Pieces&... pieces) {
  const std::array<std::string_view, sizeof...(Pieces)> views{std::string_view(pieces)...};
  std::size_t size = 0;
  for (const auto view : views) size += view.size();
  std::string out;
  out.reserve(size);
  for (const auto view : views) out.append(view);
  return out;
}

// 'text'
inline std::string quoted(std::string_view text) { return concat("'", text, "'"); }

// 'the first `most` bytes…' of a value quoted in an error message.
inline std::string quoted_excerpt(std::string_view text, std::size_t most = 60) {
  return concat("'", text.substr(0, most), text.size() > most ? "…'" : "'");
}

// "('pending', 'running')": the enumerators' names, as SQL lists them.
template <described_enum E, std::size_t N>
std::string quoted_names(const std::array<E, N>& values) {
  std::string list = "(";
  for (const E value : values) {
    if (list.size() > 1) list += ", ";
    list += quoted(*name_of(value));
  }
  list += ')';
  return list;
}

}  // namespace errand::detail
