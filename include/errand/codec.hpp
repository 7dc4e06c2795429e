#pragma once
// JSON for errand's data: job rows, events, error payloads and users' payloads become the JSON a
// REST API would return, with no serialization code written by hand.
//
//   C++ type                                 JSON
//   -------------------------------------    -------------------------------------------------------
//   struct described with                    object with one member per public data member, in
//     BOOST_DESCRIBE_STRUCT                  declaration order, described bases' members first
//   enum described with BOOST_DESCRIBE_ENUM  the enumerator's name: "retry_pending"
//   std::string                              string
//   bool                                     true or false
//   integer types                            number
//   double, float                            number
//   std::optional<T>                         null when empty
//   std::vector<T>                           array
//   std::map<std::string, T>                 object, one member per key
//   errand::time_point                       ISO-8601 UTC string: "2026-11-22T10:04:05.123456Z"
//   std::chrono::duration<Rep, Period>       the count in the duration's own unit:
//                                              std::chrono::milliseconds{1500} is 1500
//   errand::json_text                        the JSON value it holds, embedded as JSON (not as a string)
//
//   to_json(job_row{...})  ->  {"id":7,"state":"failed","last_error":null,...}
//   to_json(42)            ->  42
//
// Output is compact: no whitespace outside strings. The top-level value is written bare, never
// wrapped in an object.
//
// Input is lenient about shape and strict about values:
//   - members may come in any order, and members the type does not have are ignored, so a reader
//     accepts rows written by a newer version;
//   - a std::optional member that is null or missing reads as std::nullopt;
//   - anything else that does not fit (a missing member, null where a value is required, a string
//     where a number is expected, an integer outside its type's range, an unknown enumerator name,
//     a time that is not ISO-8601 UTC, text that is not JSON) throws codec_error naming the field:
//       errand: JSON field 'history[2].attempt': expected an integer from -2147483648 to 2147483647, found "three"
//     Text that does not parse names no field: "errand: JSON document: malformed or truncated
//     JSON (118 bytes)".
//
// Limits:
//   - NaN and infinities have no JSON spelling; writing one throws codec_error.
//   - A string holding an escaped NUL (\u0000) is read whole, member names too; text that may hold
//     NUL is sanitised before a database stores it.
//   - A text nests at most max_json_depth arrays and objects; a deeper one throws codec_error, as
//     PostgreSQL and SQLite refuse such texts too, and reading it would run out of stack.
//   - from_json<T> needs T, and every type inside it, to be default-constructible.
//   - Described non-public members are a compile error rather than silently dropped.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace errand {

struct codec_error : std::runtime_error {
  using runtime_error::runtime_error;
};

// The deepest nesting of arrays and objects a text may have: `[[1]]` has two levels. Jackson's
// default; below what SQLite's JSON functions (2000 in 3.40) and PostgreSQL's json input (near
// 15,000 at its default max_stack_depth) accept, so a payload one store takes, every store takes.
inline constexpr std::size_t max_json_depth = 1000;

// A value that is already JSON, such as a user's payload stored as text, nested inside a value
// errand serializes. On output the text must hold exactly one JSON value (codec_error otherwise)
// and is embedded as that value; on input the member's value, whatever its type, is captured as
// compact JSON text. Whitespace and the spelling of numbers are normalised on the way through
// ({ "n": 1E2 } becomes {"n":100.0}); the values are kept.
struct json_text {
  std::string text = "null";  // so that a default-constructed row still serializes

  friend bool operator==(const json_text&, const json_text&) = default;
};

// Compact JSON for `value`, following the table above.
template <class T>
std::string to_json(const T& value);

// The T that `json` describes; throws codec_error naming the field when it does not fit.
template <class T>
T from_json(std::string_view json);

}  // namespace errand

#include <errand/detail/json_codec.hpp>
