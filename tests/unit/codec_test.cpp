#include "errand_catch.hpp"
#include <errand/codec.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#if __has_include(<pthread.h>)
#include <pthread.h>
#endif

namespace codec_test {

using namespace std::chrono_literals;

enum class job_state { pending, running, retry_pending, failed, succeeded };
BOOST_DESCRIBE_ENUM(job_state, pending, running, retry_pending, failed, succeeded)

struct error_info {
  std::string message;
  std::optional<std::string> code;
  bool operator==(const error_info&) const = default;
};
BOOST_DESCRIBE_STRUCT(error_info, (), (message, code))

struct row_identity {
  std::int64_t id = 0;
  bool operator==(const row_identity&) const = default;
};
BOOST_DESCRIBE_STRUCT(row_identity, (), (id))

struct job_row : row_identity {
  job_state state = job_state::pending;
  std::int32_t attempt = 0;
  std::uint8_t priority = 0;
  bool urgent = false;
  double weight = 0;
  std::optional<error_info> last_error;
  std::optional<errand::time_point> last_error_at;
  errand::time_point created_at;
  std::chrono::milliseconds timeout{0};
  std::chrono::microseconds backoff{0};
  std::vector<std::string> tags;
  std::vector<error_info> history;
  std::map<std::string, std::int64_t> counters;
  errand::json_text payload;
  bool operator==(const job_row&) const = default;
};
BOOST_DESCRIBE_STRUCT(job_row, (row_identity),
                      (state, attempt, priority, urgent, weight, last_error, last_error_at, created_at, timeout,
                       backoff, tags, history, counters, payload))

struct progress {
  std::int32_t attempt = 0;
  std::optional<std::string> note;
  job_state state = job_state::pending;
};
BOOST_DESCRIBE_STRUCT(progress, (), (attempt, note, state))

struct nothing {};
BOOST_DESCRIBE_STRUCT(nothing, (), ())

struct envelope {
  std::string kind;
  errand::json_text payload;
  std::optional<errand::json_text> extra;
};
BOOST_DESCRIBE_STRUCT(envelope, (), (kind, payload, extra))

errand::time_point at(std::string_view iso8601) { return errand::from_iso8601(iso8601).value(); }

job_row sample_row() {
  job_row row;
  row.id = 42;
  row.state = job_state::retry_pending;
  row.attempt = 3;
  row.priority = 200;
  row.urgent = true;
  row.weight = 0.1;
  row.last_error = error_info{"connection refused", "ECONNREFUSED"};
  row.last_error_at = at("2026-11-22T10:04:05.123456Z");
  row.created_at = at("2026-11-22T10:00:00Z");
  row.timeout = 1500ms;
  row.backoff = 250us;
  row.tags = {"nightly", "with spaces: and, commas", ""};
  row.history = {{"disk full", std::nullopt}, {"quote \" backslash \\ newline \n tab \t", "E2"}};
  row.counters = {{"runs", 4}, {"bytes", -1}};
  row.payload = errand::json_text{R"({"user":7,"items":[1,2.5,"x"],"ok":true,"none":null})"};
  return row;
}

// The message of the codec_error that decoding `json` as a T throws.
template <class T>
std::string decode_error(std::string_view json) {
  try {
    (void)errand::from_json<T>(json);
  } catch (const errand::codec_error& failure) {
    return failure.what();
  }
  return "(decoded without error)";
}

template <class T>
std::string encode_error(const T& value) {
  try {
    (void)errand::to_json(value);
  } catch (const errand::codec_error& failure) {
    return failure.what();
  }
  return "(encoded without error)";
}

// `depth` arrays and objects, in turn, around a 1: nested(4) is [{"n":[{"n":1}]}].
std::string nested(std::size_t depth) {
  std::string text;
  for (std::size_t level = 0; level < depth; ++level) text += level % 2 == 0 ? "[" : R"({"n":)";
  text += '1';
  for (std::size_t level = depth; level-- > 0;) text += level % 2 == 0 ? ']' : '}';
  return text;
}

std::string too_deep(std::size_t bytes) {
  return "errand: JSON document: arrays and objects nested deeper than 1000 levels (" + std::to_string(bytes) +
         " bytes)";
}

}  // namespace codec_test

using namespace codec_test;
using errand::from_json;
using errand::json_text;
using errand::to_json;

TEST_CASE("a described struct is written as a bare compact object, members in declaration order", "[codec]") {
  CHECK(to_json(progress{3, std::nullopt, job_state::retry_pending}) ==
        R"({"attempt":3,"note":null,"state":"retry_pending"})");
  CHECK(to_json(progress{-1, "half way: 50%", job_state::running}) ==
        R"({"attempt":-1,"note":"half way: 50%","state":"running"})");
  CHECK(to_json(nothing{}) == "{}");
}

TEST_CASE("the whole job row has the shape a REST API returns", "[codec]") {
  CHECK(to_json(sample_row()) ==
        R"({"id":42,"state":"retry_pending","attempt":3,"priority":200,"urgent":true,"weight":0.1,)"
        R"("last_error":{"message":"connection refused","code":"ECONNREFUSED"},)"
        R"("last_error_at":"2026-11-22T10:04:05.123456Z","created_at":"2026-11-22T10:00:00.000000Z",)"
        R"("timeout":1500,"backoff":250,"tags":["nightly","with spaces: and, commas",""],)"
        R"("history":[{"message":"disk full","code":null},)"
        R"({"message":"quote \" backslash \\ newline \n tab \t","code":"E2"}],)"
        R"("counters":{"bytes":-1,"runs":4},)"
        R"("payload":{"user":7,"items":[1,2.5,"x"],"ok":true,"none":null}})");
}

TEST_CASE("a job row survives a round trip", "[codec]") {
  const job_row row = sample_row();
  CHECK(from_json<job_row>(to_json(row)) == row);

  job_row fresh;
  fresh.id = 1;
  const std::string json = to_json(fresh);
  CHECK(json.find(R"("last_error":null,"last_error_at":null)") != std::string::npos);
  CHECK(json.find(R"("payload":null)") != std::string::npos);
  CHECK(from_json<job_row>(json) == fresh);
}

TEST_CASE("values that are not objects are written and read bare", "[codec]") {
  CHECK(to_json(42) == "42");
  CHECK(to_json(std::string("say \"hi\"")) == R"("say \"hi\"")");
  CHECK(to_json(std::vector<int>{}) == "[]");
  CHECK(to_json(std::vector<int>{1, 2}) == "[1,2]");
  CHECK(to_json(std::optional<int>{}) == "null");
  CHECK(to_json(job_state::failed) == R"("failed")");
  CHECK(to_json(std::map<std::string, bool>{}) == "{}");
  CHECK(to_json(std::vector<bool>{true, false}) == "[true,false]");

  CHECK(from_json<int>(" 42 ") == 42);
  CHECK(from_json<std::string>(R"("say \"hi\"")") == "say \"hi\"");
  CHECK(from_json<std::vector<int>>("[1,2]") == std::vector<int>{1, 2});
  CHECK(from_json<std::vector<bool>>("[true,false]") == std::vector<bool>{true, false});
  CHECK(from_json<std::optional<int>>("null") == std::nullopt);
  CHECK(from_json<job_state>(R"("failed")") == job_state::failed);
  CHECK_NOTHROW(from_json<nothing>("{}"));
}

TEST_CASE("an optional reads as empty when null or missing", "[codec]") {
  const auto with_null = from_json<progress>(R"({"attempt":1,"note":null,"state":"pending"})");
  CHECK(with_null.note == std::nullopt);
  const auto missing = from_json<progress>(R"({"attempt":1,"state":"pending"})");
  CHECK(missing.note == std::nullopt);
  const auto present = from_json<progress>(R"({"attempt":1,"note":"n","state":"pending"})");
  CHECK(present.note == "n");

  CHECK(from_json<std::vector<std::optional<int>>>("[1,null,3]") ==
        std::vector<std::optional<int>>{1, std::nullopt, 3});
}

TEST_CASE("members are found in any order and unknown members are ignored", "[codec]") {
  const auto read = from_json<progress>(R"({"future":{"x":[1]},"state":"failed","attempt":2,"note":"n"})");
  CHECK(read.attempt == 2);
  CHECK(read.note == "n");
  CHECK(read.state == job_state::failed);
}

TEST_CASE("times are ISO-8601 UTC strings and durations are counts of their own unit", "[codec]") {
  CHECK(to_json(at("2026-01-02T03:04:05.000006Z")) == R"("2026-01-02T03:04:05.000006Z")");
  CHECK(from_json<errand::time_point>(R"("2026-01-02 03:04:05+00:00")") == at("2026-01-02T03:04:05Z"));
  CHECK(to_json(std::chrono::milliseconds{1500}) == "1500");
  CHECK(to_json(std::chrono::microseconds{-7}) == "-7");
  CHECK(to_json(std::chrono::seconds{600}) == "600");
  CHECK(from_json<std::chrono::milliseconds>("1500") == 1500ms);
}

TEST_CASE("numbers keep their value at the edges of their types", "[codec]") {
  using i64 = std::numeric_limits<std::int64_t>;
  using u64 = std::numeric_limits<std::uint64_t>;
  CHECK(from_json<std::int64_t>(to_json(i64::min())) == i64::min());
  CHECK(from_json<std::int64_t>(to_json(i64::max())) == i64::max());
  CHECK(from_json<std::uint64_t>(to_json(u64::max())) == u64::max());
  CHECK(from_json<std::int8_t>("-128") == -128);
  CHECK(from_json<std::uint16_t>("65535") == 65535);
  CHECK(from_json<double>(to_json(0.1)) == 0.1);
  CHECK(from_json<double>(to_json(1e300)) == 1e300);
  CHECK(from_json<double>("3") == 3.0);
}

TEST_CASE("strings keep every byte through a round trip", "[codec]") {
  const std::string awkward = "spaces  and\nnewlines, \"quotes\", \\ backslashes, \x01 control, \xc3\xa9 and bad \xff";
  CHECK(from_json<std::string>(to_json(awkward)) == awkward);
  CHECK(from_json<std::string>(R"("\u00e9\ud83d\ude00")") == "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("a string holding an escaped NUL is read whole, not cut short at it", "[codec]") {
  const std::string with_nul("before\0after", 12);
  CHECK(from_json<std::string>(R"("before\u0000after")") == with_nul);
  CHECK(from_json<error_info>(R"({"message":"a\u0000b"})").message == std::string("a\0b", 3));
  CHECK(from_json<std::string>(to_json(with_nul)) == with_nul);
  CHECK(to_json(json_text{R"({"k\u0000ey":"v\u0000"})"}) == R"({"k\u0000ey":"v\u0000"})");
  const auto keyed = from_json<std::map<std::string, int>>(R"({"k\u0000ey":1})");
  REQUIRE(keyed.size() == 1);
  CHECK(keyed.begin()->first == std::string("k\0ey", 4));
}

TEST_CASE("json_text is embedded as JSON and read back as compact JSON text", "[codec]") {
  const envelope message{"report", json_text{R"( { "n" : 1E2, "list" : [ ], "empty" : { }, "s" : "a b" } )"},
                         json_text{"[1, -2, 18446744073709551615]"}};
  const std::string json = to_json(message);
  CHECK(json == R"({"kind":"report","payload":{"n":100.0,"list":[],"empty":{},"s":"a b"},)"
                R"("extra":[1,-2,18446744073709551615]})");

  const auto read = from_json<envelope>(json);
  CHECK(read.payload.text == R"({"n":100.0,"list":[],"empty":{},"s":"a b"})");
  REQUIRE(read.extra.has_value());
  CHECK(read.extra->text == "[1,-2,18446744073709551615]");

  CHECK(from_json<envelope>(R"({"kind":"k","payload":"just a string"})").payload.text == R"("just a string")");
  CHECK(from_json<envelope>(R"({"kind":"k","payload":null,"extra":null})").payload.text == "null");
  CHECK(from_json<envelope>(R"({"kind":"k","payload":false})").extra == std::nullopt);
  CHECK(to_json(json_text{}) == "null");
  CHECK(to_json(json_text{R"({"deep":[{"a":[[]]}]})"}) == R"({"deep":[{"a":[[]]}]})");
}

TEST_CASE("corrupt or mistyped JSON is reported with the field it concerns", "[codec]") {
  const std::string int32_range = "an integer from -2147483648 to 2147483647";

  CHECK(decode_error<progress>(R"({"attempt":null,"state":"pending"})") ==
        "errand: JSON field 'attempt': expected " + int32_range + ", found null");
  CHECK(decode_error<progress>(R"({"state":"pending"})") ==
        "errand: JSON field 'attempt': missing, expected " + int32_range);
  CHECK(decode_error<progress>(R"({"attempt":"three","state":"pending"})") ==
        "errand: JSON field 'attempt': expected " + int32_range + ", found \"three\"");
  CHECK(decode_error<progress>(R"({"attempt":1.5,"state":"pending"})") ==
        "errand: JSON field 'attempt': expected " + int32_range + ", found a number");
  CHECK(decode_error<progress>(R"({"attempt":3000000000,"state":"pending"})") ==
        "errand: JSON field 'attempt': expected " + int32_range + ", found 3000000000");
  CHECK(decode_error<progress>(R"({"attempt":1,"note":7,"state":"pending"})") ==
        "errand: JSON field 'note': expected a string, found 7");
  // The offending string is quoted as JSON: a quote or a NUL in it cannot garble or cut the message.
  CHECK(decode_error<progress>(R"({"attempt":"say \"3\"\u0000!","state":"pending"})") ==
        "errand: JSON field 'attempt': expected " + int32_range + R"(, found "say \"3\"\u0000!")");
  CHECK(decode_error<progress>(R"({"attempt":1,"state":"exploded"})") ==
        "errand: JSON field 'state': unknown enumerator \"exploded\", expected one of \"pending\", \"running\", "
        "\"retry_pending\", \"failed\", \"succeeded\"");
  CHECK(decode_error<progress>(R"({"attempt":1,"state":{}})") ==
        "errand: JSON field 'state': expected one of \"pending\", \"running\", \"retry_pending\", \"failed\", "
        "\"succeeded\", found an object");

  const std::string row = to_json(sample_row());
  auto with = [&](std::string_view from, std::string_view to) {
    std::string edited = row;
    const auto position = edited.find(from);
    REQUIRE(position != std::string::npos);
    return edited.replace(position, from.size(), to);
  };
  CHECK(decode_error<job_row>(with(R"("priority":200)", R"("priority":300)")) ==
        "errand: JSON field 'priority': expected an integer from 0 to 255, found 300");
  CHECK(decode_error<job_row>(with(R"("priority":200)", R"("priority":-1)")) ==
        "errand: JSON field 'priority': expected an integer from 0 to 255, found -1");
  CHECK(decode_error<job_row>(with(R"("urgent":true)", R"("urgent":"yes")")) ==
        "errand: JSON field 'urgent': expected a boolean, found \"yes\"");
  CHECK(decode_error<job_row>(with(R"("weight":0.1)", R"("weight":[])")) ==
        "errand: JSON field 'weight': expected a number, found an array");
  CHECK(decode_error<job_row>(with(R"("created_at":"2026-11-22T10:00:00.000000Z")", R"("created_at":"yesterday")")) ==
        "errand: JSON field 'created_at': expected an ISO-8601 UTC time string, found \"yesterday\"");
  CHECK(decode_error<job_row>(with(R"("last_error_at":"2026-11-22T10:04:05.123456Z")",
                                   R"("last_error_at":"2026-11-22T10:04:05+02:00")")) ==
        "errand: JSON field 'last_error_at': expected an ISO-8601 UTC time string, found "
        "\"2026-11-22T10:04:05+02:00\"");
  CHECK(decode_error<job_row>(with(R"("timeout":1500)", R"("timeout":"1.5s")")) ==
        "errand: JSON field 'timeout': expected an integer, found \"1.5s\"");
  CHECK(decode_error<job_row>(with(R"("last_error":{"message":"connection refused",)", R"("last_error":{)")) ==
        "errand: JSON field 'last_error.message': missing, expected a string");
  CHECK(decode_error<job_row>(with(R"("message":"disk full")", R"("message":null)")) ==
        "errand: JSON field 'history[0].message': expected a string, found null");
  CHECK(decode_error<job_row>(with(R"("tags":["nightly")", R"("tags":[17)")) ==
        "errand: JSON field 'tags[0]': expected a string, found 17");
  CHECK(decode_error<job_row>(with(R"("tags":[)", R"("tags":{"a":[1]},"was":[)")) ==
        "errand: JSON field 'tags': expected an array, found an object");
  CHECK(decode_error<job_row>(with(R"("last_error":{)", R"("last_error":[{}],"was":{)")) ==
        "errand: JSON field 'last_error': expected an object, found an array");
  CHECK(decode_error<job_row>(with(R"("counters":{"bytes":-1)", R"("counters":{"bytes":"many")")) ==
        "errand: JSON field 'counters.bytes': expected an integer, found \"many\"");
  CHECK(decode_error<job_row>(with(R"("counters":{)", R"("counters":[],"was":{)")) ==
        "errand: JSON field 'counters': expected an object, found an array");
  CHECK(decode_error<job_row>(with(R"("payload":)", R"("was":)")) ==
        "errand: JSON field 'payload': missing, expected a JSON value");
  CHECK(decode_error<job_row>(with(R"("id":42)", R"("id":"42")")) ==
        "errand: JSON field 'id': expected an integer, found \"42\"");
  CHECK(decode_error<job_row>(with(R"("history":[)", R"("history":null,"was":[)")) ==
        "errand: JSON field 'history': expected an array, found null");
}

TEST_CASE("text that is not one JSON value is reported as such", "[codec]") {
  const std::string row = to_json(sample_row());
  const std::string truncated = row.substr(0, row.size() / 2);
  CHECK(decode_error<job_row>(truncated) ==
        "errand: JSON document: malformed or truncated JSON (" + std::to_string(truncated.size()) + " bytes)");
  CHECK(decode_error<job_row>("<html>oops</html>") == "errand: JSON document: malformed or truncated JSON (17 bytes)");
  CHECK(decode_error<job_row>(row + "}") ==
        "errand: JSON document: malformed or truncated JSON (" + std::to_string(row.size() + 1) + " bytes)");
  // rapidjson's number parser fails an assertion of its own on a word that starts like Infinity.
  CHECK(decode_error<job_row>("[Infe92]") == "errand: JSON document: malformed or truncated JSON (8 bytes)");
  CHECK(decode_error<json_text>("Infe92") == "errand: JSON document: malformed or truncated JSON (6 bytes)");
  // It would read a fraction straight after NaN or an infinity as the number ("Inf.05" as 0.05).
  CHECK(decode_error<json_text>("Inf.05") == "errand: JSON document: malformed or truncated JSON (6 bytes)");
  CHECK(decode_error<double>("-Infinity.5") == "errand: JSON document: malformed or truncated JSON (11 bytes)");
  CHECK(decode_error<std::vector<double>>("[1.5,NaN.5]") ==
        "errand: JSON document: malformed or truncated JSON (11 bytes)");
  CHECK(decode_error<json_text>(R"(["Inf.05", Infinity])") ==
        "errand: JSON document: NaN and infinities have no JSON representation");
  CHECK(decode_error<job_row>("") == "errand: JSON document: expected one JSON value, found 0");
  CHECK(decode_error<int>("1,2") == "errand: JSON document: expected one JSON value, found 2");
  CHECK(decode_error<job_row>("[]") == "errand: JSON document: expected an object, found an array");
  CHECK(decode_error<job_row>("null") == "errand: JSON document: expected an object, found null");
  CHECK(decode_error<std::vector<int>>(R"([1,"2"])") ==
        "errand: JSON field '[1]': expected an integer from -2147483648 to 2147483647, found \"2\"");
}

TEST_CASE("a text nested max_json_depth deep is read and written; a deeper one is refused, however deep",
          "[codec][bad-input]") {
  static_assert(errand::max_json_depth == 1000);
  CHECK(nested(4) == R"([{"n":[{"n":1}]}])");
  const std::string deepest = nested(errand::max_json_depth);
  CHECK(from_json<json_text>(deepest).text == deepest);
  CHECK(to_json(json_text{deepest}) == deepest);

  const std::string deeper = nested(errand::max_json_depth + 1);
  CHECK(decode_error<json_text>(deeper) == too_deep(deeper.size()));
  CHECK(encode_error(json_text{deeper}) == too_deep(deeper.size()));
  CHECK(decode_error<std::vector<int>>(deeper) == too_deep(deeper.size()));
  // Deep enough to overflow the stack of a parser that recurses once per level: the reader
  // crashed on it before it counted levels.
  const std::string brackets = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  CHECK(decode_error<json_text>(brackets) == too_deep(brackets.size()));
  CHECK(decode_error<json_text>(std::string(5000, '[')) == too_deep(5000));
}

#if __has_include(<pthread.h>)
TEST_CASE("a text nested max_json_depth deep is read and written on a thread with a small stack", "[codec]") {
  // Reading and writing walk the levels with a stack of their own, not by recursion.
  struct work {
    std::string text;
    std::string read, written;
  } deep{nested(errand::max_json_depth), {}, {}};
  const auto run = [](void* argument) -> void* {
    auto& w = *static_cast<work*>(argument);
    try {
      w.read = from_json<json_text>(w.text).text;
      w.written = to_json(json_text{w.text});
    } catch (const std::exception& e) {
      w.read = e.what();
    }
    return nullptr;
  };
  pthread_attr_t small_stack;
  REQUIRE(pthread_attr_init(&small_stack) == 0);
  REQUIRE(pthread_attr_setstacksize(&small_stack, 64 * 1024) == 0);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, &small_stack, run, &deep) == 0);
  REQUIRE(pthread_join(thread, nullptr) == 0);
  pthread_attr_destroy(&small_stack);
  CHECK(deep.read == deep.text);
  CHECK(deep.written == deep.text);
}
#endif

TEST_CASE("values JSON cannot hold are refused on output, naming the field", "[codec]") {
  job_row row = sample_row();
  row.weight = std::nan("");
  CHECK(encode_error(row) == "errand: JSON field 'weight': NaN and infinities have no JSON representation");

  row = sample_row();
  row.created_at = errand::time_point::max();
  CHECK(encode_error(row) == "errand: JSON field 'created_at': a time outside the years 0001 to 9999 "
                             "(9223372036854775807 microseconds since 1970) has no ISO-8601 text");
  CHECK(to_json(errand::latest_time) == R"("9999-12-31T23:59:59.999999Z")");

  row = sample_row();
  row.state = static_cast<job_state>(42);
  CHECK(encode_error(row) ==
        "errand: JSON field 'state': 42 is not an enumerator; expected one of \"pending\", \"running\", "
        "\"retry_pending\", \"failed\", \"succeeded\"");

  row = sample_row();
  row.payload = json_text{R"({"user":7,)"};
  CHECK(encode_error(row) == "errand: JSON field 'payload': malformed or truncated JSON (10 bytes)");
  row.payload = json_text{"1 2"};
  CHECK(encode_error(row) == "errand: JSON field 'payload': malformed or truncated JSON (3 bytes)");
  row.payload = json_text{""};
  CHECK(encode_error(row) == "errand: JSON field 'payload': expected one JSON value, found 0");
  row.payload = json_text{"[NaN]"};
  CHECK(encode_error(row) == "errand: JSON field 'payload': NaN and infinities have no JSON representation");
  row.payload = json_text{R"({"a":{"b":[1,2],"c":-Infinity}})"};
  CHECK(encode_error(row) == "errand: JSON field 'payload': NaN and infinities have no JSON representation");

  CHECK(encode_error(std::vector<double>{1, INFINITY}) ==
        "errand: JSON field '[1]': NaN and infinities have no JSON representation");
}

TEST_CASE("a zero with any exponent reads as zero, in numbers and in json_text", "[codec]") {
  // Found by fuzzing: the rapidjson that Debian's cereal parses with read 0e92 as 1.41e73.
  CHECK(errand::from_json<double>("0e92") == 0.0);
  CHECK(errand::from_json<double>("-0.0E+300") == 0.0);
  CHECK(errand::from_json<double>("0e309") == 0.0);
  CHECK(errand::from_json<errand::json_text>(R"({"a":0e92,"s":"0e92","q":"\"0e9","b":[0.0e50,5e-1]})").text ==
        R"({"a":0.0,"s":"0e92","q":"\"0e9","b":[0.0,0.5]})");
  CHECK_THROWS_AS(errand::from_json<double>("0e"), errand::codec_error);
  CHECK_THROWS_AS(errand::from_json<double>("0.e92"), errand::codec_error);
}

TEST_CASE("a zero with hundreds of digits after its point reads as zero", "[codec]") {
  // Found by fuzzing: the rapidjson that Debian's cereal parses with crashed reading
  // 0.000... with some hundreds of zeros (a read outside its table of powers of ten).
  const std::string zeros(470, '0');
  CHECK(errand::from_json<double>("0." + zeros) == 0.0);
  CHECK(errand::from_json<double>("-0." + zeros + "e-7") == 0.0);
  CHECK(errand::from_json<std::vector<double>>("[1,0." + zeros + ",2]") == std::vector<double>{1, 0, 2});
  CHECK(errand::from_json<errand::json_text>(R"({"z":0.)" + zeros + R"(,"s":"0.000"})").text ==
        R"({"z":0.0,"s":"0.000"})");
  CHECK(errand::from_json<double>("0." + std::string(300, '0') + "125") == 1.25e-301);
  CHECK(errand::from_json<double>("0." + zeros + "125") == 0.0);
  CHECK(errand::from_json<double>("0." + std::string(330, '0') + "1") == 0.0);  // below the smallest double
  CHECK(errand::from_json<double>("1" + zeros + "e-470") == 1.0);
  CHECK(errand::from_json<double>("-1" + std::string(300, '0')) == -1e300);
  CHECK_THROWS_AS(errand::from_json<double>("-1" + zeros), errand::codec_error);  // too large for a double
  CHECK_THROWS_AS(errand::from_json<double>("00." + zeros), errand::codec_error);
  CHECK_THROWS_AS(errand::from_json<double>("0.0.0"), errand::codec_error);
  CHECK_THROWS_AS(errand::from_json<double>("1e400"), errand::codec_error);  // too large for a double
  // The shortest text of the same double, still a double where it was one; integers as they were.
  CHECK(errand::from_json<errand::json_text>("[1.50,2E+2,-0.0e5,12345678901234567890,7]").text ==
        "[1.5,200.0,-0.0,12345678901234567890,7]");
  CHECK_THROWS_AS(errand::from_json<int>("1.0"), errand::codec_error);
}
