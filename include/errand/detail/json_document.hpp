#pragma once
// json_document and compact_value (json_codec.hpp), through cereal's JSON archives. Included at
// the end of json_codec.hpp by default; with ERRAND_SEPARATE_COMPILATION, by <errand/src.hpp>
// alone, so that only that file compiles cereal.
//
// cereal's JSON archives do the parsing, escaping and number formatting; the codec walks
// Boost.Describe'd types and drives the archives directly (setNextName, startNode, saveValue,
// loadValue, ...) instead of going through cereal's serialize() dispatch, because that dispatch
// wraps the top-level value in {"value0": ...}, writes an empty optional as {"nullopt": ...} and
// cannot say which field a failure happened in.
//
// Only cereal's archive interface is used, never rapidjson's: Debian's cereal uses the system
// rapidjson while Conan's and vcpkg's bundle their own copy under another namespace. Two
// consequences shape the code below:
//   - The input archive can load a value as a type it is told but cannot say which type a value
//     has; a mismatch surfaces as cereal::RapidJSONException (cereal makes rapidjson's assertions
//     throw), a missing member as plain cereal::Exception. Values of unknown shape (json_text,
//     error messages) are therefore read by trying one type after another.
//   - The output archive has no way to write raw JSON and cannot write a bare top-level value, so
//     a json_text is parsed and its values written one by one, and every document is written as the
//     single element of an array whose brackets are then cut off.

#include <errand/config.hpp>
#include <errand/detail/json_codec.hpp>
#include <errand/detail/read_double.hpp>

#if !defined(CEREAL_ARCHIVES_JSON_HPP_) && (defined(RAPIDJSON_ASSERT) || defined(CEREAL_RAPIDJSON_ASSERT))
#error "include <errand/codec.hpp> before rapidjson: errand needs cereal's RAPIDJSON_ASSERT, which throws"
#endif
#include <cereal/archives/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace errand::detail::json {

// cereal's writer is rapidjson's PrettyWriter, which even with NoIndent() puts a newline before
// each member and a space after each colon. That is the only whitespace it writes outside strings,
// and inside strings it escapes every control character, so dropping unquoted spaces and newlines
// leaves the compact form.
inline std::string without_layout(std::string_view pretty) {
  std::string compact;
  compact.reserve(pretty.size());
  bool in_string = false;
  bool escaped = false;
  for (const char c : pretty) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == ' ' || c == '\n') {
      continue;
    } else if (c == '"') {
      in_string = true;
    }
    compact += c;
  }
  return compact;
}

// Compact JSON for the one value `write_value` writes into the archive it is given.
template <class WriteValue>
std::string write_compact(WriteValue&& write_value) {
  std::ostringstream pretty;
  {
    cereal::JSONOutputArchive archive(pretty, cereal::JSONOutputArchive::Options::NoIndent());
    archive.makeArray();
    std::forward<WriteValue>(write_value)(archive);
  }  // the archive writes its closing brackets when it is destroyed
  const std::string compact = without_layout(pretty.str());
  return compact.substr(1, compact.size() - 2);
}

// The decimal exponent of the first non-zero digit of a well-formed JSON number, saturated
// ("123" 2, "0.05" -2, "1e400" 400): says whether a number out of a double's range is too
// large or too small.
inline long leading_digit_exponent(std::string_view number) {
  constexpr long limit = 1'000'000;
  const std::size_t e = number.find_first_of("eE");
  const std::string_view digits = number.substr(0, e);
  long exponent = 0;
  if (e != std::string_view::npos) {
    const bool negative = number[e + 1] == '-';
    for (const char c : number.substr(e + 1))
      if (c >= '0' && c <= '9') exponent = std::min(limit, exponent * 10 + (c - '0'));
    if (negative) exponent = -exponent;
  }
  const std::size_t point = std::min(digits.find('.'), digits.size());
  const std::size_t first = digits.find_first_of("123456789");
  if (first == std::string_view::npos) return -limit;  // zero
  return exponent + (first < point ? static_cast<long>(point - first) - 1 : -static_cast<long>(first - point));
}

// Appends `text` to `out` with each number that has a fraction or an exponent, or an integer too
// long for 64 bits, written as the shortest text of the double it means ("0e92" as "0.0",
// "1.50" as "1.5"), with a point added where that text has none, so that it stays a double.
// rapidjson 1.1.0, which Debian's cereal parses with, reads some numbers wrong (0e92 as 1.41e73)
// and crashes on others (0.000…1 with some hundreds of zeros reads outside its table of powers of
// ten); std::from_chars reads every one right, and rapidjson reads the shortest text of a double
// right. A number too small for a double is written as zero; one too large, and anything that is
// not a well-formed JSON number, is left as it is, for the parser to refuse ("1e400", "0e", "00").
inline void append_with_shortest_numbers(std::string& out, std::string_view text) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto digits_from = [&](std::size_t at) {
    while (at < text.size() && is_digit(text[at])) ++at;
    return at;
  };
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c != '-' && !is_digit(c)) {
      out += c;
      ++i;
      continue;
    }
    const std::size_t integer = i + (c == '-' ? 1 : 0);
    std::size_t end = digits_from(integer);
    bool well_formed = end > integer && (text[integer] != '0' || end == integer + 1);
    const bool long_integer = end - integer > 20;
    bool plain_integer = true;
    if (end < text.size() && text[end] == '.') {
      plain_integer = false;
      const std::size_t fraction = end + 1;
      end = digits_from(fraction);
      well_formed = well_formed && end > fraction;
    }
    if (well_formed && end < text.size() && (text[end] == 'e' || text[end] == 'E')) {
      plain_integer = false;
      std::size_t exponent = end + 1;
      if (exponent < text.size() && (text[exponent] == '+' || text[exponent] == '-')) ++exponent;
      end = digits_from(exponent);
      well_formed = end > exponent;
    }
    const std::string_view number = text.substr(i, end - i);
    i = end;
    if (!well_formed || (plain_integer && !long_integer)) {
      out.append(number);
      continue;
    }
    double value = 0;
    if (!read_double(number, value)) {
      if (leading_digit_exponent(number.substr(c == '-' ? 1 : 0)) > 0) {
        out.append(number);  // too large: the parser says so
        continue;
      }
      value = c == '-' ? -0.0 : 0.0;  // too small: zero, as every JSON parser reads it
    }
    char shortest[32];
    const auto written = std::to_chars(std::begin(shortest), std::end(shortest), value).ptr;
    const std::string_view as_text(shortest, static_cast<std::size_t>(written - shortest));
    out.append(as_text);
    if (as_text.find_first_of(".e") == std::string_view::npos) out.append(".0");
  }
}

// A JSON text parsed by cereal's input archive, positioned before its one value. The text is
// parsed inside an array because the archive accepts only an object or an array at the top.
class parsed_json {
 public:
  parsed_json(std::string_view text, const field_path& where) {
    std::string bracketed;
    bracketed.reserve(text.size() + 2);
    bracketed.append(1, '[');
    append_with_shortest_numbers(bracketed, text);
    bracketed.append(1, ']');
    stream_.str(std::move(bracketed));
    try {
      archive_.emplace(stream_);
    } catch (const cereal::Exception&) {
      fail(where, "malformed or truncated JSON (" + std::to_string(text.size()) + " bytes)");
    }
    cereal::size_type count = 0;
    archive_->loadSize(count);
    if (count != 1) fail(where, "expected one JSON value, found " + std::to_string(count));
  }

  cereal::JSONInputArchive& archive() { return *archive_; }

 private:
  std::istringstream stream_;
  std::optional<cereal::JSONInputArchive> archive_;
};

// The try_ functions below test one guess about the next value (the member `name`, or the next in
// sequence when `name` is null): they return false when it has another type, and let
// cereal::Exception through when the member is missing.

template <class Scalar>
bool try_load(cereal::JSONInputArchive& in, const char* name, Scalar& value) {
  in.setNextName(name);
  try {
    in.loadValue(value);
    return true;
  } catch (const cereal::RapidJSONException&) {
    return false;
  }
}

// Enters the value if it is an object or an array.
inline bool try_start_node(cereal::JSONInputArchive& in, const char* name) {
  in.setNextName(name);
  try {
    in.startNode();
    return true;
  } catch (const cereal::RapidJSONException&) {
    return false;
  }
}

// The size of the node just entered if it is an array: only arrays answer loadSize.
inline std::optional<cereal::size_type> entered_array_size(cereal::JSONInputArchive& in) {
  cereal::size_type size = 0;
  try {
    in.loadSize(size);
    return size;
  } catch (const cereal::RapidJSONException&) {
    return std::nullopt;
  }
}

// An object with members shows its first member's name, sparing the exception that asking it for
// an array size costs.
inline bool entered_array(cereal::JSONInputArchive& in) {
  return in.getNodeName() == nullptr && entered_array_size(in).has_value();
}

// The value the codec found where it expected something else, for error messages.
inline std::string describe_value(cereal::JSONInputArchive& in, const char* name) {
  if (std::nullptr_t null = nullptr; try_load(in, name, null)) return "null";
  if (bool flag = false; try_load(in, name, flag)) return flag ? "true" : "false";
  if (std::int64_t integer = 0; try_load(in, name, integer)) return std::to_string(integer);
  if (std::uint64_t integer = 0; try_load(in, name, integer)) return std::to_string(integer);
  if (double number = 0; try_load(in, name, number)) return "a number";
  if (std::string text; try_load(in, name, text)) return quoted_excerpt(text);
  if (try_start_node(in, name)) {
    const bool is_array = entered_array(in);
    in.finishNode();
    return is_array ? "an array" : "an object";
  }
  return "an unreadable value";
}

template <class Scalar>
void write_scalar(cereal::JSONOutputArchive& out, const char* name, const Scalar& value) {
  out.setNextName(name);
  out.writeName();
  out.saveValue(value);
}

// Copies one value of any shape from `in` to `out`. Each wrong guess costs an exception, so the
// common shapes go first: containers (payloads are mostly objects), strings, integers, then null,
// which every row without a payload holds. A successful load moves the archive on, so integers
// must be tried before double, which would accept them too and round those above 2^53.
inline void copy_any_value(cereal::JSONInputArchive& in, const char* in_name, cereal::JSONOutputArchive& out,
                           const char* out_name, const field_path& where) {
  if (try_start_node(in, in_name)) {
    out.setNextName(out_name);
    out.startNode();
    const auto array_size = in.getNodeName() ? std::nullopt : entered_array_size(in);
    if (array_size) {
      out.makeArray();
      for (cereal::size_type i = 0; i < *array_size; ++i) copy_any_value(in, nullptr, out, nullptr, where);
    } else {
      while (const char* member = in.getNodeName()) copy_any_value(in, nullptr, out, member, where);
    }
    in.finishNode();
    out.finishNode();
    return;
  }
  if (std::string text; try_load(in, in_name, text)) return write_scalar(out, out_name, text);
  if (std::int64_t integer = 0; try_load(in, in_name, integer)) return write_scalar(out, out_name, integer);
  if (std::nullptr_t null = nullptr; try_load(in, in_name, null)) return write_scalar(out, out_name, null);
  if (bool flag = false; try_load(in, in_name, flag)) return write_scalar(out, out_name, flag);
  if (std::uint64_t integer = 0; try_load(in, in_name, integer)) return write_scalar(out, out_name, integer);
  if (double number = 0; try_load(in, in_name, number)) {
    // cereal's parser accepts NaN and Infinity, which no other JSON reader would.
    if (!std::isfinite(number)) fail(where, "NaN and infinities have no JSON representation");
    return write_scalar(out, out_name, number);
  }
  fail(where, "holds a JSON value of unknown type");
}

// What the archive did with one guess about the next value.
template <class Step>
json_document::found attempted(Step&& step) {
  try {
    std::forward<Step>(step)();
    return json_document::found::value;
  } catch (const cereal::RapidJSONException&) {
    return json_document::found::other_type;
  } catch (const cereal::Exception&) {
    return json_document::found::missing;
  }
}

template <class Scalar>
json_document::found load_scalar(cereal::JSONInputArchive& in, const char* name, Scalar& value) {
  return attempted([&] {
    in.setNextName(name);
    in.loadValue(value);
  });
}

ERRAND_DECL json_document::json_document(std::string_view text, const field_path& where)
    : parsed_(std::make_unique<parsed_json>(text, where)) {}

ERRAND_DECL json_document::~json_document() = default;

ERRAND_DECL json_document::found json_document::load(const char* name, bool& value) {
  return load_scalar(parsed_->archive(), name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::int64_t& value) {
  return load_scalar(parsed_->archive(), name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::uint64_t& value) {
  return load_scalar(parsed_->archive(), name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, double& value) {
  return load_scalar(parsed_->archive(), name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::string& value) {
  return load_scalar(parsed_->archive(), name, value);
}

ERRAND_DECL json_document::found json_document::load_null(const char* name) {
  std::nullptr_t null = nullptr;
  return load_scalar(parsed_->archive(), name, null);
}

ERRAND_DECL json_document::found json_document::enter(const char* name) {
  return attempted([&] {
    parsed_->archive().setNextName(name);
    parsed_->archive().startNode();
  });
}

ERRAND_DECL void json_document::leave() { parsed_->archive().finishNode(); }

ERRAND_DECL const char* json_document::next_name() { return parsed_->archive().getNodeName(); }

ERRAND_DECL std::optional<std::size_t> json_document::array_size() { return entered_array_size(parsed_->archive()); }

ERRAND_DECL bool json_document::in_array() { return entered_array(parsed_->archive()); }

ERRAND_DECL std::string json_document::describe(const char* name) { return describe_value(parsed_->archive(), name); }

ERRAND_DECL std::optional<std::string> json_document::compact_copy(const char* name, const field_path& where) {
  try {
    return write_compact(
        [&](cereal::JSONOutputArchive& out) { copy_any_value(parsed_->archive(), name, out, nullptr, where); });
  } catch (const cereal::Exception&) {
    return std::nullopt;
  }
}

ERRAND_DECL std::string compact_value(std::string_view text, const field_path& where) {
  return write_compact([&](cereal::JSONOutputArchive& out) {
    parsed_json embedded(text, where);
    copy_any_value(embedded.archive(), nullptr, out, nullptr, where);
  });
}

}  // namespace errand::detail::json
