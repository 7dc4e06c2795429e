#pragma once
// Contract 7 of docs/concepts.md: whatever bytes a failure carries, they are stored. Error text
// is made valid UTF-8 without NUL bytes and cut to a documented limit, with a
// marker saying so, before it reaches any backend; no write can fail on it.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace errand {

// The most bytes of error text errand stores (the marker included): 16 KiB
// keeps a stack trace and drops a 1 MB HTML error page.
inline constexpr std::size_t max_error_bytes = 16 * 1024;

// Stands where a byte that is not UTF-8 stood (U+FFFD).
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";
// Stands where a NUL byte stood: PostgreSQL TEXT and C strings cannot hold one.
inline constexpr std::string_view nul_marker = "\\0";

namespace detail {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else
    return 0;
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

// Cuts `text` to at most `size` bytes without splitting a UTF-8 character.
inline void cut_to_whole_characters(std::string& text, std::size_t size) {
  if (text.size() <= size) return;
  while (size > 0 && (static_cast<unsigned char>(text[size]) & 0xC0) == 0x80) --size;
  text.resize(size);
}

}  // namespace detail

// Why a database cannot hold `text` as it is (a NUL byte, or bytes that are not
// UTF-8), or nullopt when it can. Names a job is found by (queue, kind, unique
// key) are refused for this rather than changed: a changed name would find
// another job.
inline std::optional<std::string> unstorable_reason(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\0') return "holds a NUL byte at offset " + std::to_string(i);
    const auto length = detail::utf8_sequence_length(text, i);
    if (length == 0) return "is not valid UTF-8 at offset " + std::to_string(i);
    i += length;
  }
  return std::nullopt;
}

// The storable form of `text`: valid UTF-8, no NUL, at most `limit` bytes; a cut
// text ends with "… [truncated from N bytes]", N being the size reported.
inline std::string storable_error_text(std::string_view text, std::size_t limit = max_error_bytes) {
  if (text.size() <= limit && !unstorable_reason(text)) return std::string(text);  // nearly every text, copied at once
  std::string clean;
  clean.reserve(std::min(text.size(), limit));
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {
      clean += nul_marker;
      ++i;
      continue;
    }
    if (const std::size_t length = detail::utf8_sequence_length(text, i)) {
      clean.append(text.substr(i, length));
      i += length;
    } else {
      clean += replacement_character;
      ++i;
    }
    if (clean.size() > 2 * limit) break;  // the rest is cut anyway; don't copy 1 MB
  }
  if (clean.size() <= limit) return clean;
  std::string marker = "\xE2\x80\xA6 [truncated from " + std::to_string(text.size()) + " bytes]";
  if (marker.size() >= limit) {  // a limit too small for the marker keeps what of the marker fits
    detail::cut_to_whole_characters(marker, limit);
    return marker;
  }
  detail::cut_to_whole_characters(clean, limit - marker.size());
  return clean + marker;
}

}  // namespace errand
