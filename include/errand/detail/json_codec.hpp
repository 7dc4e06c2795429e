#pragma once
// The machinery behind <errand/codec.hpp>.
//
// cereal's JSON archives do the parsing, escaping and number formatting; this file walks
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

#include <errand/codec.hpp>
#include <errand/enum_name.hpp>
#include <errand/time.hpp>

#if !defined(CEREAL_ARCHIVES_JSON_HPP_) && (defined(RAPIDJSON_ASSERT) || defined(CEREAL_RAPIDJSON_ASSERT))
#error "include <errand/codec.hpp> before rapidjson: errand needs cereal's RAPIDJSON_ASSERT, which throws"
#endif
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>
#include <cereal/archives/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace errand::detail::json {

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

template <class T>
inline constexpr bool is_vector = false;
template <class T, class Allocator>
inline constexpr bool is_vector<std::vector<T, Allocator>> = true;

template <class T>
inline constexpr bool is_string_map = false;
template <class T, class Compare, class Allocator>
inline constexpr bool is_string_map<std::map<std::string, T, Compare, Allocator>> = true;

template <class T>
inline constexpr bool is_duration = false;
template <class Rep, class Period>
inline constexpr bool is_duration<std::chrono::duration<Rep, Period>> = true;

template <class T>
concept described_struct = std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

template <class T>
using public_members =
    boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;

// A described private member would vanish from every stored row without a word.
template <class T>
inline constexpr bool has_only_public_members = boost::mp11::mp_empty<boost::describe::describe_members<
    T, boost::describe::mod_protected | boost::describe::mod_private | boost::describe::mod_inherited>>::value;

template <class T>
inline constexpr bool no_json_mapping = false;

// Where the codec is in the document: "history[2].attempt". Kept as views, spelled out only for an
// error message.
class field_path {
 public:
  void push(std::string_view member) { segments_.emplace_back(member); }
  void push(std::size_t index) { segments_.emplace_back(index); }
  void pop() { segments_.pop_back(); }
  bool empty() const { return segments_.empty(); }

  std::string text() const {
    std::string text;
    for (const auto& segment : segments_) {
      if (const auto* member = std::get_if<std::string_view>(&segment)) {
        if (!text.empty()) text += '.';
        text += *member;
      } else {
        text += '[' + std::to_string(std::get<std::size_t>(segment)) + ']';
      }
    }
    return text;
  }

 private:
  std::vector<std::variant<std::string_view, std::size_t>> segments_;
};

class path_entry {
 public:
  path_entry(field_path& path, auto segment) : path_(path) { path_.push(segment); }
  path_entry(const path_entry&) = delete;
  path_entry& operator=(const path_entry&) = delete;
  ~path_entry() { path_.pop(); }

 private:
  field_path& path_;
};

[[noreturn]] inline void fail(const field_path& where, const std::string& problem) {
  if (where.empty()) throw codec_error("errand: JSON document: " + problem);
  throw codec_error("errand: JSON field '" + where.text() + "': " + problem);
}

// Error messages quote the offending text, but a corrupt row can hold megabytes.
inline std::string quoted_excerpt(std::string_view text) {
  constexpr std::size_t limit = 64;
  if (text.size() <= limit) return '"' + std::string(text) + '"';
  return '"' + std::string(text.substr(0, limit)) + "\"... (" + std::to_string(text.size()) + " bytes)";
}

template <described_enum E>
std::string quoted_enumerator_names() {
  std::string names;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto enumerator) {
    if (!names.empty()) names += ", ";
    names += '"' + std::string(enumerator.name) + '"';
  });
  return names;
}

// What the codec wanted to find, for error messages.
template <class T>
std::string expectation() {
  if constexpr (std::is_same_v<T, bool>) {
    return "a boolean";
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (sizeof(T) >= sizeof(std::int64_t))
      return std::is_signed_v<T> ? "an integer" : "a non-negative integer";
    else
      return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
             std::to_string(std::numeric_limits<T>::max());
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (described_enum<T>) {
    return "one of " + quoted_enumerator_names<T>();
  } else if constexpr (std::is_same_v<T, time_point>) {
    return "an ISO-8601 UTC time string";
  } else if constexpr (is_duration<T>) {
    return expectation<typename T::rep>();
  } else if constexpr (is_optional<T>) {
    return expectation<typename T::value_type>() + " or null";
  } else if constexpr (is_vector<T>) {
    return "an array";
  } else if constexpr (std::is_same_v<T, json_text>) {
    return "a JSON value";
  } else {
    return "an object";
  }
}

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

// Appends `text` to `out`, writing a number whose digits are all zero without its exponent
// ("0e92" as "0", "-0.0E+300" as "-0.0"). rapidjson 1.1.0, which Debian's cereal parses with,
// reads such a number as a huge one (0e92 as 1.41e73: it normalises a zero mantissa with
// __builtin_clzll(0)); the value is zero whatever the exponent, so the exponent is dropped.
inline void append_without_zero_exponents(std::string& out, std::string_view text) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') in_string = true;
    if (c != '-' && !is_digit(c)) {
      out += c;
      ++i;
      continue;
    }
    std::size_t end = i + (c == '-' ? 1 : 0);
    bool all_zero = true;
    while (end < text.size() && (is_digit(text[end]) || text[end] == '.')) {
      if (text[end] != '0' && text[end] != '.') all_zero = false;
      ++end;
    }
    const std::size_t significand_end = end;
    if (end < text.size() && (text[end] == 'e' || text[end] == 'E')) {
      ++end;
      if (end < text.size() && (text[end] == '+' || text[end] == '-')) ++end;
      const std::size_t exponent_digits = end;
      while (end < text.size() && is_digit(text[end])) ++end;
      const bool drop_exponent = all_zero && end > exponent_digits;  // "0e" stays malformed
      out.append(text.substr(i, (drop_exponent ? significand_end : end) - i));
    } else {
      out.append(text.substr(i, end - i));
    }
    i = end;
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
    append_without_zero_exponents(bracketed, text);
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

// Writes compact JSON straight into a string. Output is on the hot path (decide() serializes every
// event it records) and cereal's writer costs microseconds per value, so only json_text, which
// must be parsed to be checked, goes through cereal.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  template <class T>
  void write(const T& value) {
    if constexpr (is_optional<T>) {
      if (value)
        write(*value);
      else
        out_ += "null";
    } else if constexpr (std::is_same_v<T, json_text>) {
      out_ += write_compact([&](cereal::JSONOutputArchive& archive) {
        parsed_json embedded(value.text, path_);
        copy_any_value(embedded.archive(), nullptr, archive, nullptr, path_);
      });
    } else if constexpr (std::is_same_v<T, bool>) {
      out_ += value ? "true" : "false";
    } else if constexpr (std::is_integral_v<T>) {
      char digits[24];
      out_.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) fail(path_, "NaN and infinities have no JSON representation");
      char digits[32];
      out_.append(digits, std::to_chars(digits, digits + sizeof digits, static_cast<double>(value)).ptr);
    } else if constexpr (std::is_same_v<T, std::string>) {
      write_string(value);
    } else if constexpr (described_enum<T>) {
      const auto enumerator = name_of(value);
      if (!enumerator)
        fail(path_, std::to_string(static_cast<std::underlying_type_t<T>>(value)) + " is not an enumerator; expected " +
                        expectation<T>());
      write_string(*enumerator);
    } else if constexpr (std::is_same_v<T, time_point>) {
      write_string(to_iso8601(value));
    } else if constexpr (is_duration<T>) {
      write(value.count());
    } else if constexpr (is_vector<T>) {
      out_ += '[';
      std::size_t index = 0;
      for (const auto& element : value) {
        if (index) out_ += ',';
        const path_entry entry(path_, index++);
        write(element);
      }
      out_ += ']';
    } else if constexpr (is_string_map<T>) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, element] : value) {
        if (!std::exchange(first, false)) out_ += ',';
        const path_entry entry(path_, std::string_view(key));
        write_member(key, element);
      }
      out_ += '}';
    } else if constexpr (described_struct<T>) {
      static_assert(has_only_public_members<T>, "errand codec: reads and writes public members only");
      out_ += '{';
      bool first = true;
      boost::mp11::mp_for_each<public_members<T>>([&](auto member) {
        if (!std::exchange(first, false)) out_ += ',';
        const path_entry entry(path_, std::string_view(member.name));
        write_member(member.name, value.*member.pointer);
      });
      out_ += '}';
    } else {
      static_assert(no_json_mapping<T>,
                    "errand codec: no JSON mapping for this type; describe structs with BOOST_DESCRIBE_STRUCT "
                    "and enums with BOOST_DESCRIBE_ENUM");
    }
  }

 private:
  template <class T>
  void write_member(std::string_view name, const T& value) {
    write_string(name);
    out_ += ':';
    write(value);
  }

  void write_string(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    std::size_t plain_from = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(text, plain_from, i - plain_from);
      plain_from = i + 1;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          out_ += "\\u00";
          out_ += hex[c >> 4];
          out_ += hex[c & 0xF];
      }
    }
    out_.append(text, plain_from);
    out_ += '"';
  }

  std::string& out_;
  field_path path_;
};

// Reads values out of a parsed document, naming the field in every failure.
class reader {
 public:
  explicit reader(std::string_view json) : document_(json, path_) {}

  // `name` is the member name, or null for an array element or the top-level value.
  template <class T>
  void read(T& value, const char* name) {
    if constexpr (is_optional<T>) {
      read_optional(value, name);
    } else if constexpr (std::is_same_v<T, json_text>) {
      read_json_text(value, name);
    } else if constexpr (std::is_same_v<T, bool>) {
      load<T>(value, name);
    } else if constexpr (std::is_integral_v<T>) {
      using wide = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
      wide number = 0;
      load<T>(number, name);
      if (!std::in_range<T>(number)) fail(path_, "expected " + expectation<T>() + ", found " + std::to_string(number));
      value = static_cast<T>(number);
    } else if constexpr (std::is_floating_point_v<T>) {
      double number = 0;
      load<T>(number, name);
      if (!std::isfinite(number)) fail(path_, "expected a finite number");
      value = static_cast<T>(number);
    } else if constexpr (std::is_same_v<T, std::string>) {
      load<T>(value, name);
    } else if constexpr (described_enum<T>) {
      std::string text;
      load<T>(text, name);
      const auto enumerator = from_name<T>(text);
      if (!enumerator) fail(path_, "unknown enumerator " + quoted_excerpt(text) + ", expected " + expectation<T>());
      value = *enumerator;
    } else if constexpr (std::is_same_v<T, time_point>) {
      std::string text;
      load<T>(text, name);
      const auto time = from_iso8601(text);
      if (!time) fail(path_, "expected " + expectation<T>() + ", found " + quoted_excerpt(text));
      value = *time;
    } else if constexpr (is_duration<T>) {
      typename T::rep count{};
      read(count, name);
      value = T{count};
    } else if constexpr (is_vector<T>) {
      enter<T>(name);
      const auto size = entered_array_size(archive());
      if (!size) fail(path_, "expected an array, found an object");
      value.clear();
      value.reserve(*size);
      for (std::size_t index = 0; index < *size; ++index) {
        const path_entry entry(path_, index);
        typename T::value_type element{};
        read(element, nullptr);
        value.push_back(std::move(element));
      }
      archive().finishNode();
    } else if constexpr (is_string_map<T>) {
      enter<T>(name);
      if (entered_array(archive())) fail(path_, "expected an object, found an array");
      value.clear();
      while (const char* key = archive().getNodeName()) {
        const path_entry entry(path_, std::string_view(key));
        typename T::mapped_type element{};
        read(element, nullptr);
        value.insert_or_assign(std::string(key), std::move(element));
      }
      archive().finishNode();
    } else if constexpr (described_struct<T>) {
      static_assert(has_only_public_members<T>, "errand codec: reads and writes public members only");
      enter<T>(name);
      if (entered_array(archive())) fail(path_, "expected an object, found an array");
      boost::mp11::mp_for_each<public_members<T>>([&](auto member) {
        const path_entry entry(path_, std::string_view(member.name));
        read(value.*member.pointer, member.name);
      });
      archive().finishNode();
    } else {
      static_assert(no_json_mapping<T>,
                    "errand codec: no JSON mapping for this type; describe structs with BOOST_DESCRIBE_STRUCT "
                    "and enums with BOOST_DESCRIBE_ENUM");
    }
  }

 private:
  cereal::JSONInputArchive& archive() { return document_.archive(); }

  // Loads a scalar read as `Scalar` on behalf of a `Target` (a time is loaded as a string).
  template <class Target, class Scalar>
  void load(Scalar& value, const char* name) {
    archive().setNextName(name);
    try {
      archive().loadValue(value);
    } catch (const cereal::RapidJSONException&) {
      fail_unexpected<Target>(name);
    } catch (const cereal::Exception&) {
      fail_missing<Target>();
    }
  }

  // Enters the object or array holding a `Target`; which of the two it is, the caller checks.
  template <class Target>
  void enter(const char* name) {
    archive().setNextName(name);
    try {
      archive().startNode();
    } catch (const cereal::RapidJSONException&) {
      fail_unexpected<Target>(name);
    } catch (const cereal::Exception&) {
      fail_missing<Target>();
    }
  }

  template <class Target>
  [[noreturn]] void fail_unexpected(const char* name) {
    fail(path_, "expected " + expectation<Target>() + ", found " + describe_value(archive(), name));
  }

  template <class Target>
  [[noreturn]] void fail_missing() {
    fail(path_, "missing, expected " + expectation<Target>());
  }

  template <class T>
  void read_optional(std::optional<T>& value, const char* name) {
    std::nullptr_t null = nullptr;
    archive().setNextName(name);
    try {
      archive().loadValue(null);
      value.reset();
      return;
    } catch (const cereal::RapidJSONException&) {
      // Present and not null: read as a T below. The failed load left the archive on the member.
    } catch (const cereal::Exception&) {
      value.reset();
      return;
    }
    read(value.emplace(), name);
  }

  void read_json_text(json_text& value, const char* name) {
    try {
      value.text =
          write_compact([&](cereal::JSONOutputArchive& out) { copy_any_value(archive(), name, out, nullptr, path_); });
    } catch (const cereal::Exception&) {
      fail_missing<json_text>();
    }
  }

  field_path path_;
  parsed_json document_;
};

}  // namespace errand::detail::json

namespace errand {

template <class T>
std::string to_json(const T& value) {
  std::string out;
  detail::json::writer(out).write(value);
  return out;
}

template <class T>
T from_json(std::string_view json) {
  detail::json::reader reader(json);
  T value{};
  reader.read(value, nullptr);
  return value;
}

}  // namespace errand
