// Contract 7 of docs/concepts.md: error text holding any bytes is stored, valid and bounded.

#include "errand_catch.hpp"
#include <errand/error_text.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace {

using namespace std::string_literals;

// An oracle written from the Unicode definition, independent of the header:
// decode each sequence to its code point and refuse overlong forms,
// surrogates and anything above U+10FFFF.
bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t code_point;
    std::uint32_t smallest;
    if (lead < 0x80) {
      length = 1, code_point = lead, smallest = 0;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1Fu, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0Fu, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07u, smallest = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3Fu);
    }
    if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

bool storable(std::string_view text, std::size_t limit = errand::max_error_bytes) {
  return valid_utf8(text) && text.find('\0') == std::string_view::npos && text.size() <= limit;
}

std::string marker_for(std::size_t original_size) {
  return "\xE2\x80\xA6 [truncated from " + std::to_string(original_size) + " bytes]";
}

bool ends_with(std::string_view text, std::string_view tail) {
  return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}

const std::string replacement(errand::replacement_character);

}  // namespace

TEST_CASE("contract 7: text that is already storable is kept byte for byte", "[contract][error_text]") {
  const std::string plain =
      GENERATE(""s, "connection refused"s, "quote \" apostrophe ' backslash \\ tab \t newline \n"s,
               "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xA5"s,  // é € 💥
               "'); DROP TABLE jobs; --"s);
  CHECK(errand::storable_error_text(plain) == plain);
}

TEST_CASE("contract 7: a NUL byte becomes a visible marker", "[contract][error_text]") {
  const std::string text("before\0after\0"s);
  const auto stored = errand::storable_error_text(text);
  CHECK(stored == "before\\0after\\0");
  CHECK(storable(stored));
}

TEST_CASE("contract 7: every byte that is not UTF-8 becomes U+FFFD", "[contract][error_text]") {
  struct example {
    const char* what;
    std::string bytes;
    std::string stored;
  };
  const auto r = replacement;
  const example examples[] = {
      {"a lone continuation byte", "a\x80z", "a" + r + "z"},
      {"a byte no UTF-8 text holds", "a\xFFz", "a" + r + "z"},
      {"an overlong 2-byte '/'", "\xC0\xAF", r + r},
      {"an overlong 2-byte U+007F", "\xC1\xBF", r + r},
      {"an overlong 3-byte '/'", "\xE0\x80\xAF", r + r + r},
      {"an overlong 3-byte U+07FF", "\xE0\x9F\xBF", r + r + r},
      {"an overlong 4-byte '/'", "\xF0\x80\x80\xAF", r + r + r + r},
      {"an overlong 4-byte U+FFFF", "\xF0\x8F\xBF\xBF", r + r + r + r},
      {"the high surrogate U+D800", "\xED\xA0\x80", r + r + r},
      {"the low surrogate U+DFFF", "\xED\xBF\xBF", r + r + r},
      {"a code point above U+10FFFF", "\xF4\x90\x80\x80", r + r + r + r},
      {"a lead byte above F4", "\xF5\x80\x80\x80", r + r + r + r},
      {"a 3-byte sequence cut short at the end", "x\xE2\x82", "x" + r + r},
      {"a 4-byte sequence cut short before ASCII", "\xF0\x9F\x92z", r + r + r + "z"},
      {"a lead byte followed by another lead byte", "\xC3\xC3\xA9", r + "\xC3\xA9"},
  };
  for (const auto& e : examples) {
    INFO(e.what);
    const auto stored = errand::storable_error_text(e.bytes);
    CHECK(stored == e.stored);
    CHECK(storable(stored));
  }
}

TEST_CASE("contract 7: the edges of each UTF-8 length are kept", "[contract][error_text]") {
  const std::string edges[] = {
      "\x7F",              // U+007F, the last 1-byte
      "\xC2\x80",          // U+0080, the first 2-byte
      "\xDF\xBF",          // U+07FF
      "\xE0\xA0\x80",      // U+0800, the first 3-byte
      "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
      "\xEE\x80\x80",      // U+E000, just above them
      "\xEF\xBF\xBF",      // U+FFFF
      "\xF0\x90\x80\x80",  // U+10000, the first 4-byte
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, the last code point
  };
  for (const auto& edge : edges) {
    INFO("bytes: " << edge.size());
    CHECK(errand::storable_error_text(edge) == edge);
  }
}

TEST_CASE("contract 7: text exactly at the limit is kept whole, one byte more is cut with the marker",
          "[contract][error_text]") {
  const std::string at_limit(errand::max_error_bytes, 'x');
  CHECK(errand::storable_error_text(at_limit) == at_limit);

  const std::string over = at_limit + "y";
  const auto stored = errand::storable_error_text(over);
  CHECK(stored.size() == errand::max_error_bytes);
  CHECK(ends_with(stored, marker_for(over.size())));
  CHECK(stored.starts_with(std::string(stored.size() - marker_for(over.size()).size(), 'x')));
  CHECK(storable(stored));
}

TEST_CASE("contract 7: a cut never splits a multi-byte character", "[contract][error_text]") {
  const std::size_t limit = 100;
  const std::string character = GENERATE(std::string("\xC3\xA9"),           // é, 2 bytes
                                         std::string("\xE2\x82\xAC"),       // €, 3 bytes
                                         std::string("\xF0\x9F\x92\xA5"));  // 💥, 4 bytes
  // Shift the text one byte at a time so that the cut falls at every offset
  // inside a character.
  for (std::size_t shift = 0; shift < 4; ++shift) {
    std::string text(shift, 'a');
    while (text.size() < 3 * limit) text += character;
    const auto stored = errand::storable_error_text(text, limit);
    INFO("character bytes " << character.size() << ", shift " << shift << ": " << stored);
    CHECK(storable(stored, limit));
    CHECK(ends_with(stored, marker_for(text.size())));
    // At most one character's worth of room is given up to stay whole.
    CHECK(stored.size() > limit - character.size());
  }
}

TEST_CASE("contract 7: text that grows past the limit while it is sanitised is cut too", "[contract][error_text]") {
  // 1 000 invalid bytes become 3 000 bytes of U+FFFD: more than the limit of 2 048.
  const std::string text(1000, '\xFF');
  const auto stored = errand::storable_error_text(text, 2048);
  CHECK(storable(stored, 2048));
  CHECK(ends_with(stored, marker_for(1000)));
  CHECK(stored.starts_with(replacement + replacement));
}

TEST_CASE("contract 7: 1 MB of text is stored under the documented limit", "[contract][error_text]") {
  const std::size_t megabyte = 1 << 20;
  SECTION("ASCII") {
    const auto stored = errand::storable_error_text(std::string(megabyte, 'e'));
    CHECK(stored.size() <= errand::max_error_bytes);
    CHECK(ends_with(stored, marker_for(megabyte)));
  }
  SECTION("invalid bytes and NULs") {
    std::string text(megabyte, '\0');
    for (std::size_t i = 0; i < text.size(); i += 2) text[i] = '\xFE';
    const auto stored = errand::storable_error_text(text);
    CHECK(storable(stored));
    CHECK(ends_with(stored, marker_for(megabyte)));
  }
  SECTION("4-byte characters") {
    std::string text;
    while (text.size() < megabyte) text += "\xF0\x9F\x92\xA5";
    const auto stored = errand::storable_error_text(text);
    CHECK(storable(stored));
    CHECK(ends_with(stored, marker_for(text.size())));
  }
}

TEST_CASE("contract 7: a limit smaller than the marker still yields storable text within it",
          "[contract][error_text]") {
  const std::string text(200, 'x');
  for (std::size_t limit = 0; limit <= marker_for(text.size()).size() + 1; ++limit) {
    INFO("limit " << limit);
    const auto stored = errand::storable_error_text(text, limit);
    CHECK(storable(stored, limit));
  }
  CHECK(errand::storable_error_text(text, 10) == "\xE2\x80\xA6 [trunc");
}

TEST_CASE("contract 7: random bytes always come out storable, and storing twice changes nothing",
          "[contract][error_text]") {
  const std::uint64_t seed = 20260101;
  INFO("seed " << seed);
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> size(0, 300);
  std::uniform_int_distribution<std::size_t> limit_of(0, 200);
  // Bytes near the interesting boundaries turn up far more often than chance would give.
  const unsigned char biased[] = {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(biased) - 1);
  for (int round = 0; round < 5000; ++round) {
    std::string text(size(random), '\0');
    for (auto& c : text) c = static_cast<char>(random() % 2 ? byte(random) : biased[pick(random)]);
    const auto limit = limit_of(random);
    const auto stored = errand::storable_error_text(text, limit);
    INFO("round " << round << ", limit " << limit);
    REQUIRE(storable(stored, limit));
    REQUIRE(errand::storable_error_text(stored, limit) == stored);
  }
}
