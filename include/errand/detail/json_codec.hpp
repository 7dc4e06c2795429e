#pragma once
// The machinery behind <errand/codec.hpp>: templates that walk Boost.Describe'd
// types, writing JSON text themselves and reading it from a json_document.
//
// A json_document is a parsed text and a position in it, on the rapidjson
// document that cereal's JSON header brings (json_document.hpp holds that code
// and says why it is written the way it is). Its members are not templates, so
// that those headers and code stay out of the translation units that only use
// the codec: by default
// json_document.hpp follows at the end of this header; with
// ERRAND_SEPARATE_COMPILATION (config.hpp) it is compiled once, in the file
// that includes <errand/src.hpp> (or a backend's src.hpp).

#include <errand/codec.hpp>
#include <errand/config.hpp>
#include <errand/enum_name.hpp>
#include <errand/time.hpp>

#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
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

class path_entry;

// Where the codec is in the document: "history[2].attempt". A chain of the
// path entries on the codec's stack, so that writing and reading allocate
// nothing for it; spelled out only for an error message.
class field_path {
 public:
  bool empty() const { return innermost_ == nullptr; }
  std::string text() const;

 private:
  friend class path_entry;
  const path_entry* innermost_ = nullptr;
};

class path_entry {
 public:
  path_entry(field_path& path, std::string_view member) : path_entry(path, segment{member}) {}
  path_entry(field_path& path, std::size_t index) : path_entry(path, segment{index}) {}
  path_entry(const path_entry&) = delete;
  path_entry& operator=(const path_entry&) = delete;
  ~path_entry() { path_.innermost_ = outer_; }

 private:
  friend class field_path;
  using segment = std::variant<std::string_view, std::size_t>;
  path_entry(field_path& path, segment s) : path_(path), outer_(path.innermost_), segment_(s) {
    path_.innermost_ = this;
  }

  field_path& path_;
  const path_entry* outer_;
  segment segment_;
};

inline std::string field_path::text() const {
  std::vector<const path_entry*> outermost_first;
  for (const auto* entry = innermost_; entry; entry = entry->outer_) outermost_first.push_back(entry);
  std::reverse(outermost_first.begin(), outermost_first.end());
  std::string text;
  for (const auto* entry : outermost_first) {
    if (const auto* member = std::get_if<std::string_view>(&entry->segment_)) {
      if (!text.empty()) text += '.';
      text += *member;
    } else {
      text += '[' + std::to_string(std::get<std::size_t>(entry->segment_)) + ']';
    }
  }
  return text;
}

[[noreturn]] inline void fail(const field_path& where, const std::string& problem) {
  if (where.empty()) throw codec_error("errand: JSON document: " + problem);
  throw codec_error("errand: JSON field '" + where.text() + "': " + problem);
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

class parsed_json;

// A JSON text, parsed, and the reader's position in it. Each load tests one
// guess about the next value (the member `name`, or the next in sequence when
// `name` is null): `other_type` when it has another type, `missing` when the
// member is not there.
class json_document {
 public:
  enum class found { value, other_type, missing };

  // Throws codec_error (at `where`) when the text is not exactly one JSON value.
  ERRAND_DECL json_document(std::string_view text, const field_path& where);
  ERRAND_DECL ~json_document();
  json_document(const json_document&) = delete;
  json_document& operator=(const json_document&) = delete;

  ERRAND_DECL found load(const char* name, bool& value);
  ERRAND_DECL found load(const char* name, std::int64_t& value);
  ERRAND_DECL found load(const char* name, std::uint64_t& value);
  ERRAND_DECL found load(const char* name, double& value);
  ERRAND_DECL found load(const char* name, std::string& value);
  ERRAND_DECL found load_null(const char* name);

  // Enters the value if it is an object or an array; leave() ends it.
  ERRAND_DECL found enter(const char* name);
  ERRAND_DECL void leave();
  // In an entered object, the next member's name; nullopt at its end.
  ERRAND_DECL std::optional<std::string_view> next_name();
  // The size of the array just entered; nullopt for an object.
  ERRAND_DECL std::optional<std::size_t> array_size();
  ERRAND_DECL bool in_array();

  // The value found where something else was expected, for error messages.
  ERRAND_DECL std::string describe(const char* name);
  // The value, whatever its type, as compact JSON text; nullopt when missing.
  ERRAND_DECL std::optional<std::string> compact_copy(const char* name, const field_path& where);

 private:
  std::unique_ptr<parsed_json> parsed_;
};

// The one JSON value `text` holds, as compact JSON; codec_error (at `where`) otherwise.
ERRAND_DECL std::string compact_value(std::string_view text, const field_path& where);

// The codec_error compact_value would throw, without the copy: whether `text` is one JSON value.
ERRAND_DECL void check_value(std::string_view text, const field_path& where);

// Writes compact JSON straight into a string. Output is on the hot path (decide() serializes every
// event it records) and cereal's writer costs microseconds per value, so only json_text, which
// must be parsed to be checked, goes through rapidjson (json_document.hpp).
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
      out_ += compact_value(value.text, path_);
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
      if (!storable_time(value)) fail(path_, "a time " + outside_storable_years(value) + " has no ISO-8601 text");
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
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
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

// Error messages quote the offending text as a JSON string, so that a control character shows
// as its escape and a NUL cannot cut the message short; a corrupt row can hold megabytes.
inline std::string quoted_excerpt(std::string_view text) {
  constexpr std::size_t limit = 64;
  std::string quoted;
  writer(quoted).write(std::string(text.substr(0, limit)));
  if (text.size() > limit) quoted += "... (" + std::to_string(text.size()) + " bytes)";
  return quoted;
}

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
      const auto size = document_.array_size();
      if (!size) fail(path_, "expected an array, found an object");
      value.clear();
      value.reserve(*size);
      for (std::size_t index = 0; index < *size; ++index) {
        const path_entry entry(path_, index);
        typename T::value_type element{};
        read(element, nullptr);
        value.push_back(std::move(element));
      }
      document_.leave();
    } else if constexpr (is_string_map<T>) {
      enter<T>(name);
      if (document_.in_array()) fail(path_, "expected an object, found an array");
      value.clear();
      while (const auto key = document_.next_name()) {
        const path_entry entry(path_, *key);
        typename T::mapped_type element{};
        read(element, nullptr);
        value.insert_or_assign(std::string(*key), std::move(element));
      }
      document_.leave();
    } else if constexpr (described_struct<T>) {
      static_assert(has_only_public_members<T>, "errand codec: reads and writes public members only");
      enter<T>(name);
      if (document_.in_array()) fail(path_, "expected an object, found an array");
      boost::mp11::mp_for_each<public_members<T>>([&](auto member) {
        const path_entry entry(path_, std::string_view(member.name));
        read(value.*member.pointer, member.name);
      });
      document_.leave();
    } else {
      static_assert(no_json_mapping<T>,
                    "errand codec: no JSON mapping for this type; describe structs with BOOST_DESCRIBE_STRUCT "
                    "and enums with BOOST_DESCRIBE_ENUM");
    }
  }

 private:
  // Loads a scalar read as `Scalar` on behalf of a `Target` (a time is loaded as a string).
  template <class Target, class Scalar>
  void load(Scalar& value, const char* name) {
    found_or_fail<Target>(document_.load(name, value), name);
  }

  // Enters the object or array holding a `Target`; which of the two it is, the caller checks.
  template <class Target>
  void enter(const char* name) {
    found_or_fail<Target>(document_.enter(name), name);
  }

  template <class Target>
  void found_or_fail(json_document::found found, const char* name) {
    if (found == json_document::found::other_type)
      fail(path_, "expected " + expectation<Target>() + ", found " + document_.describe(name));
    if (found == json_document::found::missing) fail(path_, "missing, expected " + expectation<Target>());
  }

  template <class T>
  void read_optional(std::optional<T>& value, const char* name) {
    if (document_.load_null(name) == json_document::found::other_type)
      read(value.emplace(), name);  // present and not null
    else
      value.reset();
  }

  void read_json_text(json_text& value, const char* name) {
    auto text = document_.compact_copy(name, path_);
    if (!text) fail(path_, "missing, expected " + expectation<json_text>());
    value.text = std::move(*text);
  }

  field_path path_;
  json_document document_;
};

}  // namespace errand::detail::json

namespace errand {

template <class T>
std::string to_json(const T& value) {
  std::string out;
  out.reserve(64);  // an event's payload, written for every transition, in one allocation instead of three
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

#if !defined(ERRAND_SEPARATE_COMPILATION)
#include <errand/detail/json_document.hpp>
#endif
