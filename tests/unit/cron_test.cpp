// Cron expressions (cron.hpp): a table of expressions with the time each one
// next matches, the errors bad ones get, and next_after() checked minute by
// minute against matches().

#include "errand_catch.hpp"
#include <errand/cron.hpp>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

errand::time_point at(const char* iso) { return *errand::from_iso8601(iso); }

struct next_case {
  const char* expression;
  const char* after;
  const char* expected;
};

// 2026-01-01 is a Thursday.
const next_case table[] = {
    // every minute, whatever the seconds
    {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "2026-01-01T00:00:30.5Z", "2026-01-01T00:01:00Z"},
    {"0 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"},
    // steps, ranges and lists
    {"*/15 * * * *", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z"},
    {"5-10/2 3 * * *", "2026-01-01T03:06:00Z", "2026-01-01T03:07:00Z"},
    {"5-10/2 3 * * *", "2026-01-01T03:09:00Z", "2026-01-02T03:05:00Z"},
    {"0 9-17/4 * * *", "2026-01-01T09:00:00Z", "2026-01-01T13:00:00Z"},
    {"0 9-17/4 * * *", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z"},
    {"0 9-17/4 * * *", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"},
    {"0 0 1,15 * *", "2026-01-01T00:00:00Z", "2026-01-15T00:00:00Z"},
    {"15,45 8,20 * * *", "2026-01-01T08:45:00Z", "2026-01-01T20:15:00Z"},
    // names, in any case, and in ranges
    {"30 2 * * MON-FRI", "2026-01-02T02:30:00Z", "2026-01-05T02:30:00Z"},
    {"30 2 * * mon-fri", "2026-01-01T02:29:00Z", "2026-01-01T02:30:00Z"},
    {"0 12 * JAN,jul *", "2026-02-01T00:00:00Z", "2026-07-01T12:00:00Z"},
    {"0 0 1 Dec *", "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"},
    // day of week: 0 and 7 are Sunday
    {"0 0 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 5-7", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"},
    {"0 0 * * 5-7", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"},
    // both day fields restricted: either one matches (Vixie cron)
    {"0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 13 * FRI", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 1,15 * MON", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 1,15 * MON", "2026-01-12T00:00:00Z", "2026-01-15T00:00:00Z"},
    // a day field starting with '*' (a step too): both must match
    {"0 0 */2 * MON", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 */2 * MON", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"},
    {"0 0 13 * *", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 * * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    // month ends: months without the day are skipped
    {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 31 * *", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
    {"0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
    {"0 0 28-31 2 *", "2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z"},
    {"0 0 28-31 2 *", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"},
    // 29 February: leap years only, and 2100 is not one
    {"0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
    // the end of a year
    {"59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
    {"0 0 1 1 *", "2026-12-31T23:59:59.999999Z", "2027-01-01T00:00:00Z"},
    // shorthands
    {"@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@annually", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@monthly", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00Z"},
    {"@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"@daily", "2026-01-01T23:59:00Z", "2026-01-02T00:00:00Z"},
    {"@midnight", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"@hourly", "2026-01-01T00:59:59.999999Z", "2026-01-01T01:00:00Z"},
    {"  @HOURLY  ", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"},
    // blanks between fields: any number of spaces and tabs
    {" 0\t3  * * * ", "2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z"},
};

struct error_case {
  const char* expression;
  const char* message;
};

const error_case errors[] = {
    {"", "expects 5 fields (minute hour day-of-month month day-of-week), found 0"},
    {"* * * *", "found 4"},
    {"* * * * * *", "found 6"},
    {"60 * * * *", "field minute '60': '60' is out of range 0-59"},
    {"* 24 * * *", "field hour '24': '24' is out of range 0-23"},
    {"* * 0 * *", "field day-of-month '0': '0' is out of range 1-31"},
    {"* * 32 * *", "out of range 1-31"},
    {"* * * 13 *", "field month '13': '13' is out of range 1-12"},
    {"* * * * 8", "field day-of-week '8': '8' is out of range 0-7"},
    {"* * * * 99999999999", "out of range 0-7"},
    {"*/0 * * * *", "a step of 0 never advances"},
    {"*/x * * * *", "the step 'x' is not a number"},
    {"*/ * * * *", "the step '' is not a number"},
    {"5/10 * * * *", "a step needs a range or '*': write '5-59/10'"},
    {"10-5 * * * *", "the range '10-5' runs backwards"},
    {"* * * * FRI-MON", "the range 'FRI-MON' runs backwards"},
    {"1,,2 * * * *", "an item of the list is empty"},
    {"1, * * * *", "an item of the list is empty"},
    {"- * * * *", "a value is missing"},
    {"a * * * *", "field minute 'a': 'a' is not a number"},
    {"1x * * * *", "'1x' is not a number"},
    {"* * * FOO *", "field month 'FOO': 'FOO' is not a number or a name"},
    {"* * * * MONDAY", "'MONDAY' is not a number or a name"},
    {"* * MON * *", "field day-of-month 'MON': 'MON' is not a number"},
    {"0 0 30 2 *", "never matches: no month in '2' has a day '30'"},
    {"0 0 31 4,6,9,11 *", "never matches"},
    {"0 0 L * *", "'L' is not a number"},
    {"@reboot", "is not a time"},
    {"@fortnightly", "is not a known shorthand"},
};

}  // namespace

TEST_CASE("cron: each expression of the table next matches at the time listed", "[cron]") {
  for (const auto& c : table) {
    INFO("'" << c.expression << "' after " << c.after);
    const errand::cron_expression cron(c.expression);
    const auto next = cron.next_after(at(c.after));
    CHECK(errand::to_iso8601(next) == errand::to_iso8601(at(c.expected)));
    CHECK(cron.matches(next));
    CHECK(cron.text() == c.expression);
  }
}

TEST_CASE("cron: a bad expression is refused with the field and the reason", "[cron][bad-input]") {
  for (const auto& c : errors) {
    INFO("'" << c.expression << "'");
    CHECK_THROWS_AS(errand::cron_expression(c.expression), std::invalid_argument);
    CHECK_THROWS_WITH(errand::cron_expression(c.expression),
                      Catch::Matchers::StartsWith(std::string("errand: cron expression '") + c.expression + "'") &&
                          contains_text(c.message));
  }
}

TEST_CASE("cron: matches() tells the minutes of a day, Friday the 13th by either field", "[cron]") {
  const errand::cron_expression friday_or_13th("0 0 13 * FRI");
  CHECK(friday_or_13th.matches(at("2026-01-02T00:00:00Z")));    // a Friday
  CHECK(friday_or_13th.matches(at("2026-01-13T00:00:59.9Z")));  // a 13th (a Tuesday), any second of the minute
  CHECK(friday_or_13th.matches(at("2026-02-13T00:00:00Z")));    // both
  CHECK_FALSE(friday_or_13th.matches(at("2026-01-14T00:00:00Z")));
  CHECK_FALSE(friday_or_13th.matches(at("2026-01-13T00:01:00Z")));
}

TEST_CASE("cron: a fixed offset from UTC moves the wall clock the fields are read in", "[cron]") {
  const errand::cron_expression three_am("0 3 * * *");
  CHECK(three_am.next_after(at("2026-01-01T00:00:00Z"), 1h) == at("2026-01-01T02:00:00Z"));
  CHECK(three_am.next_after(at("2026-01-01T00:00:00Z"), -5h) == at("2026-01-01T08:00:00Z"));
  CHECK(three_am.next_after(at("2026-01-01T02:00:00Z"), 1h) == at("2026-01-02T02:00:00Z"));
  CHECK(three_am.matches(at("2026-01-01T02:00:00Z"), 1h));
  // Monday 00:00 at UTC+09:00 is Sunday 15:00 UTC, and the 1st of the month at UTC-03:00 is the 1st, 03:00 UTC.
  CHECK(errand::cron_expression("0 0 * * MON").next_after(at("2026-01-01T00:00:00Z"), 9h) ==
        at("2026-01-04T15:00:00Z"));
  CHECK(errand::cron_expression("@monthly").next_after(at("2026-01-15T00:00:00Z"), -3h) == at("2026-02-01T03:00:00Z"));
  // A half-hour offset.
  CHECK(errand::cron_expression("0 * * * *").next_after(at("2026-01-01T00:00:00Z"), 330min) ==
        at("2026-01-01T00:30:00Z"));
}

TEST_CASE("cron: next_after agrees with a minute-by-minute walk", "[cron][property]") {
  const char* expressions[] = {"*/7 */5 * * *",     "0 0 13 * FRI", "0 0 */2 * MON",  "0 0 31 * *",
                               "30 23 28-31 * *",   "0 12 * 2 SUN", "59 23 * * 6",    "0 0 29 2 *",
                               "1-5,50-55 0 1 * *", "@weekly",      "0 6 1,15 * 1-5", "0 0 1 */3 *"};
  const char* starts[] = {"2026-01-01T00:00:00Z", "2026-02-27T23:31:17Z", "2027-12-31T23:58:00Z"};
  for (const char* text : expressions) {
    const errand::cron_expression cron(text);
    for (const char* start : starts) {
      INFO("'" << text << "' after " << start);
      const auto from = at(start);
      const auto next = cron.next_after(from);
      REQUIRE(next > from);
      auto walk = std::chrono::floor<std::chrono::minutes>(from) + std::chrono::minutes{1};
      const auto limit = walk + std::chrono::days{62};
      while (walk < limit && !cron.matches(walk)) walk += std::chrono::minutes{1};
      if (walk < limit)
        CHECK(errand::to_iso8601(next) == errand::to_iso8601(walk));
      else
        CHECK(next >= limit);
    }
  }
}
