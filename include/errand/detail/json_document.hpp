#pragma once
// json_document and compact_value (json_codec.hpp), on the rapidjson DOM that cereal's JSON
// archive parses with. Included at the end of json_codec.hpp by default; with
// ERRAND_SEPARATE_COMPILATION, by <errand/src.hpp> alone, so that only that file compiles it.
//
// rapidjson does the parsing, escaping and number formatting. It comes through cereal, whose
// <cereal/archives/json.hpp> sets its options (assertions that throw, NaN and infinities read,
// full-precision numbers) and includes it: Debian's cereal uses the system's rapidjson, Conan's
// and vcpkg's a copy of their own under another namespace, so the namespace is taken from
// whichever of the two macros is defined. The document is walked by the type of each value,
// never by guessing a type and catching the exception a wrong guess throws: each exception
// cost microseconds, so a payload of a few fields cost tens of microseconds to check.

#include <errand/config.hpp>
#include <errand/detail/json_codec.hpp>
#include <errand/detail/read_double.hpp>

#if !defined(CEREAL_ARCHIVES_JSON_HPP_) && (defined(RAPIDJSON_ASSERT) || defined(CEREAL_RAPIDJSON_ASSERT))
#error "include <errand/codec.hpp> before rapidjson: errand needs cereal's RAPIDJSON_ASSERT, which throws"
#endif
#include <cereal/archives/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace errand::detail::json {

#if defined(CEREAL_RAPIDJSON_NAMESPACE)
namespace rapid = CEREAL_RAPIDJSON_NAMESPACE;
#else
namespace rapid = RAPIDJSON_NAMESPACE;
#endif

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
// rapidjson also reads a fraction straight after NaN or an infinity as the number ("Inf.05" as
// 0.05); a space between them has the parser refuse it.
inline void append_with_shortest_numbers(std::string& out, std::string_view text) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto digits_from = [&](std::size_t at) {
    while (at < text.size() && is_digit(text[at])) ++at;
    return at;
  };
  // The text between the characters that matter is copied in one piece.
  const auto copy_until = [&](std::size_t from, auto stops_here) {
    std::size_t at = from;
    while (at < text.size() && !stops_here(text[at])) ++at;
    out.append(text, from, at - from);
    return at;
  };
  const auto ends_a_run_in_string = [](char c) { return c == '"' || c == '\\'; };
  const auto starts_a_value = [&](char c) { return c == '"' || c == '-' || c == 'N' || c == 'I' || is_digit(c); };
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    if (in_string) {
      i = copy_until(i, ends_a_run_in_string);
      if (i == text.size()) break;
      const std::size_t taken = text[i] == '\\' ? 2 : 1;  // an escape, or the closing quote
      out.append(text.substr(i, taken));
      in_string = taken == 2;
      i += taken;
      continue;
    }
    i = copy_until(i, starts_a_value);
    if (i == text.size()) break;
    const char c = text[i];
    if (c == 'N' || c == 'I') {  // NaN or an infinity, which the parser reads, to be refused later
      const std::size_t end = std::min(text.find_first_not_of("NaInfity", i), text.size());
      out.append(text.substr(i, end - i));
      if (end < text.size() && text[end] == '.') out += ' ';  // else "Inf.05" reads as 0.05: refused so
      i = end;
      continue;
    }
    if (c == '"') {
      out += c;
      in_string = true;
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

// Writes a value that is neither an array nor an object, refusing NaN and infinities, which
// rapidjson reads and no other JSON reader would.
template <class Writer>
void write_scalar(const rapid::Value& value, Writer& out, const field_path& where) {
  if (value.IsString()) {
    out.String(value.GetString(), value.GetStringLength());
  } else if (value.IsInt64()) {
    out.Int64(value.GetInt64());
  } else if (value.IsUint64()) {
    out.Uint64(value.GetUint64());
  } else if (value.IsNumber()) {
    if (!std::isfinite(value.GetDouble())) fail(where, "NaN and infinities have no JSON representation");
    out.Double(value.GetDouble());
  } else if (value.IsBool()) {
    out.Bool(value.GetBool());
  } else {
    out.Null();
  }
}

// A JSON text parsed, and the reader's position in it: the value being read in each object or
// array entered so far. The text is parsed inside an array, so that "1, 2" and "" are told
// apart from one value by their count.
class parsed_json {
 public:
  parsed_json(const parsed_json&) = delete;  // the document points into its own buffers
  parsed_json& operator=(const parsed_json&) = delete;
  parsed_json(std::string_view text, const field_path& where) {
    std::string bracketed;
    bracketed.reserve(text.size() + 2);
    bracketed.append(1, '[');
    append_with_shortest_numbers(bracketed, text);
    bracketed.append(1, ']');
    bool parsed = false;
    bool too_deep = false;
    try {
      // Iterative: the parser keeps its levels in its own stack, not in the thread's.
      const auto parse = [&](document& target) {
        depth_limited handler(target, too_deep);
        rapid::MemoryStream bytes(bracketed.data(), bracketed.size());
        rapid::EncodedInputStream<rapid::UTF8<>, rapid::MemoryStream> input(bytes);
        rapid::GenericReader<rapid::UTF8<>, rapid::UTF8<>, pool> reader(&stacks_, parse_stack_bytes);
        return !reader.Parse<rapid::kParseDefaultFlags | rapid::kParseIterativeFlag>(input, handler).IsError();
      };
      parsed = document_.Populate(parse).IsArray();
    } catch (const cereal::Exception&) {  // an assertion of rapidjson's, which cereal makes throw ("Infe92")
    }
    if (too_deep)
      fail(where, "arrays and objects nested deeper than " + std::to_string(max_json_depth) + " levels (" +
                      std::to_string(text.size()) + " bytes)");
    if (!parsed) fail(where, "malformed or truncated JSON (" + std::to_string(text.size()) + " bytes)");
    if (document_.Size() != 1) fail(where, "expected one JSON value, found " + std::to_string(document_.Size()));
    entered_.push_back({&document_, 0});
  }

  // The member `name` of the object being read, or (name null) the next value in sequence;
  // null when there is none. Found by name, the member becomes the one being read.
  const rapid::Value* find(const char* name) {
    auto& at = entered_.back();
    const rapid::Value& node = *at.node;
    if (!name) {
      if (node.IsArray()) return at.index < node.Size() ? &node[at.index] : nullptr;
      return at.index < node.MemberCount() ? &node.MemberBegin()[at.index].value : nullptr;
    }
    if (!node.IsObject()) return nullptr;
    const auto named = [&](rapid::SizeType i) {
      const auto& key = node.MemberBegin()[i].name;
      return std::string_view(key.GetString(), key.GetStringLength()) == name;
    };
    if (at.index < node.MemberCount() && named(at.index)) return &node.MemberBegin()[at.index].value;
    for (rapid::SizeType i = 0; i < node.MemberCount(); ++i)
      if (named(i)) {
        at.index = i;
        return &node.MemberBegin()[i].value;
      }
    return nullptr;
  }

  // The value find() returned was read: the next one is.
  void advance() { ++entered_.back().index; }

  void enter(const rapid::Value& node) { entered_.push_back({&node, 0}); }

  void leave() {
    entered_.pop_back();
    advance();
  }

  // The object or array entered last.
  const rapid::Value& entered() const { return *entered_.back().node; }

  // In an entered object, the name of the member to be read next; nullopt at its end.
  std::optional<std::string_view> next_name() const {
    const auto& at = entered_.back();
    if (!at.node->IsObject() || at.index >= at.node->MemberCount()) return std::nullopt;
    const auto& key = at.node->MemberBegin()[at.index].name;
    return std::string_view(key.GetString(), key.GetStringLength());
  }

  // Writes `value`, a value of this document, as compact JSON (write_scalar). Its arrays and
  // objects are walked with the reader's stack of positions, above the reader's own (which it
  // leaves as they were), not by recursion: a value nested max_json_depth deep needs no more of
  // the thread's stack than a flat one.
  template <class Writer>
  void write(const rapid::Value& value, Writer& out, const field_path& where) {
    const std::size_t reading = entered_.size();
    const auto start = [&](const rapid::Value& next) {
      if (next.IsObject()) {
        out.StartObject();
        entered_.push_back({&next, 0});
      } else if (next.IsArray()) {
        out.StartArray();
        entered_.push_back({&next, 0});
      } else {
        write_scalar(next, out, where);
      }
    };
    start(value);
    while (entered_.size() > reading) {
      auto& at = entered_.back();
      const rapid::Value& node = *at.node;
      if (node.IsObject() && at.index < node.MemberCount()) {
        const auto& member = node.MemberBegin()[at.index++];
        out.Key(member.name.GetString(), member.name.GetStringLength());
        start(member.value);
      } else if (node.IsArray() && at.index < node.Size()) {
        start(node[at.index++]);
      } else {
        if (node.IsObject())
          out.EndObject();
        else
          out.EndArray();
        entered_.pop_back();
      }
    }
  }

 private:
  struct position {
    const rapid::Value* node;
    rapid::SizeType index;  // of the element or member to be read next
  };
  using pool = rapid::MemoryPoolAllocator<>;
  using document = rapid::GenericDocument<rapid::UTF8<>, pool, pool>;
  static constexpr std::size_t parse_stack_bytes = 256;

  // Passes the parser's events on to the document, and stops the parse at the first array or
  // object nested deeper than max_json_depth (one level more for the array around the text).
  class depth_limited {
   public:
    depth_limited(document& to, bool& too_deep) : to_(to), too_deep_(too_deep) {}

    bool StartObject() { return enter() && to_.StartObject(); }
    bool EndObject(rapid::SizeType members) { return leave() && to_.EndObject(members); }
    bool StartArray() { return enter() && to_.StartArray(); }
    bool EndArray(rapid::SizeType elements) { return leave() && to_.EndArray(elements); }
    bool Null() { return to_.Null(); }
    bool Bool(bool value) { return to_.Bool(value); }
    bool Int(int value) { return to_.Int(value); }
    bool Uint(unsigned value) { return to_.Uint(value); }
    bool Int64(std::int64_t value) { return to_.Int64(value); }
    bool Uint64(std::uint64_t value) { return to_.Uint64(value); }
    bool Double(double value) { return to_.Double(value); }
    bool RawNumber(const char* text, rapid::SizeType length, bool copy) { return to_.RawNumber(text, length, copy); }
    bool String(const char* text, rapid::SizeType length, bool copy) { return to_.String(text, length, copy); }
    bool Key(const char* text, rapid::SizeType length, bool copy) { return to_.Key(text, length, copy); }

   private:
    bool enter() {
      if (++depth_ <= max_json_depth + 1) return true;
      too_deep_ = true;
      return false;
    }
    bool leave() {
      --depth_;
      return true;
    }

    document& to_;
    bool& too_deep_;
    std::size_t depth_ = 0;
  };

  // A payload is usually small: its values and the parser's stacks start in
  // these buffers and reach the heap only for a larger text. rapidjson's own
  // pools would allocate a 64 KiB chunk for every text, and freeing a chunk
  // that large makes glibc consolidate its free lists each time.
  alignas(std::max_align_t) char values_buffer_[1024];
  alignas(std::max_align_t) char stacks_buffer_[1024];
  pool values_{values_buffer_, sizeof values_buffer_};
  pool stacks_{stacks_buffer_, sizeof stacks_buffer_};
  document document_{&values_, parse_stack_bytes, &stacks_};
  std::vector<position> entered_;
};

// Where parsed_json::write writes when only its refusals matter.
struct discarding_writer {
  void StartObject() {}
  void EndObject() {}
  void StartArray() {}
  void EndArray() {}
  void Key(const char*, rapid::SizeType) {}
  void String(const char*, rapid::SizeType) {}
  void Int64(std::int64_t) {}
  void Uint64(std::uint64_t) {}
  void Double(double) {}
  void Bool(bool) {}
  void Null() {}
};

inline std::string compact_text(parsed_json& parsed, const rapid::Value& value, const field_path& where) {
  rapid::StringBuffer buffer;
  rapid::Writer<rapid::StringBuffer> out(buffer);
  parsed.write(value, out, where);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The value found where something else was expected, for error messages.
inline std::string describe_value(const rapid::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsBool()) return value.GetBool() ? "true" : "false";
  if (value.IsInt64()) return std::to_string(value.GetInt64());
  if (value.IsUint64()) return std::to_string(value.GetUint64());
  if (value.IsNumber()) return "a number";
  if (value.IsString()) return quoted_excerpt(std::string_view(value.GetString(), value.GetStringLength()));
  return value.IsArray() ? "an array" : "an object";
}

// Whether `value` holds a `Scalar` (bool, std::int64_t, std::uint64_t, double or std::string),
// and if so, that value. A double takes any number, as rapidjson's GetDouble() does.
template <class Scalar>
bool read_scalar(const rapid::Value& value, Scalar& out) {
  if constexpr (std::is_same_v<Scalar, double>) {
    if (!value.IsNumber()) return false;
    out = value.GetDouble();
  } else if constexpr (std::is_same_v<Scalar, std::string>) {
    if (!value.IsString()) return false;
    out.assign(value.GetString(), value.GetStringLength());
  } else {
    if (!value.template Is<Scalar>()) return false;
    out = value.template Get<Scalar>();
  }
  return true;
}

template <class Scalar>
json_document::found load_scalar(parsed_json& parsed, const char* name, Scalar& out) {
  const rapid::Value* value = parsed.find(name);
  if (!value) return json_document::found::missing;
  if (!read_scalar(*value, out)) return json_document::found::other_type;
  parsed.advance();
  return json_document::found::value;
}

ERRAND_DECL json_document::json_document(std::string_view text, const field_path& where)
    : parsed_(std::make_unique<parsed_json>(text, where)) {}

ERRAND_DECL json_document::~json_document() = default;

ERRAND_DECL json_document::found json_document::load(const char* name, bool& value) {
  return load_scalar(*parsed_, name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::int64_t& value) {
  return load_scalar(*parsed_, name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::uint64_t& value) {
  return load_scalar(*parsed_, name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, double& value) {
  return load_scalar(*parsed_, name, value);
}

ERRAND_DECL json_document::found json_document::load(const char* name, std::string& value) {
  return load_scalar(*parsed_, name, value);
}

ERRAND_DECL json_document::found json_document::load_null(const char* name) {
  const rapid::Value* value = parsed_->find(name);
  if (!value) return found::missing;
  if (!value->IsNull()) return found::other_type;
  parsed_->advance();
  return found::value;
}

ERRAND_DECL json_document::found json_document::enter(const char* name) {
  const rapid::Value* value = parsed_->find(name);
  if (!value) return found::missing;
  if (!value->IsObject() && !value->IsArray()) return found::other_type;
  parsed_->enter(*value);
  return found::value;
}

ERRAND_DECL void json_document::leave() { parsed_->leave(); }

ERRAND_DECL std::optional<std::string_view> json_document::next_name() { return parsed_->next_name(); }

ERRAND_DECL std::optional<std::size_t> json_document::array_size() {
  if (!parsed_->entered().IsArray()) return std::nullopt;
  return parsed_->entered().Size();
}

ERRAND_DECL bool json_document::in_array() { return parsed_->entered().IsArray(); }

ERRAND_DECL std::string json_document::describe(const char* name) {
  const rapid::Value* value = parsed_->find(name);
  return value ? describe_value(*value) : "nothing";
}

ERRAND_DECL std::optional<std::string> json_document::compact_copy(const char* name, const field_path& where) {
  const rapid::Value* value = parsed_->find(name);
  if (!value) return std::nullopt;
  auto text = compact_text(*parsed_, *value, where);
  parsed_->advance();
  return text;
}

ERRAND_DECL std::string compact_value(std::string_view text, const field_path& where) {
  parsed_json embedded(text, where);
  return compact_text(embedded, embedded.entered()[0], where);
}

ERRAND_DECL void check_value(std::string_view text, const field_path& where) {
  parsed_json embedded(text, where);
  discarding_writer nowhere;
  embedded.write(embedded.entered()[0], nowhere, where);
}

}  // namespace errand::detail::json
