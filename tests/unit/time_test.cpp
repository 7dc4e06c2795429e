// time.hpp: errand's times are microseconds, UTC, written as ISO-8601.

#include "errand_catch.hpp"
#include <errand/time.hpp>

#include <chrono>
#include <string>

namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

errand::time_point at(year_month_day day, microseconds since_midnight = 0us) {
  return errand::time_point{sys_days{day}} + since_midnight;
}

}  // namespace

TEST_CASE("to_iso8601 writes UTC with six fractional digits", "[time]") {
  CHECK(errand::to_iso8601(errand::time_point{}) == "1970-01-01T00:00:00.000000Z");
  CHECK(errand::to_iso8601(at(2026y / 11 / 22, 10h + 4min + 5s + 123456us)) == "2026-11-22T10:04:05.123456Z");
  CHECK(errand::to_iso8601(at(2024y / 2 / 29, 23h + 59min + 59s + 999999us)) == "2024-02-29T23:59:59.999999Z");
  CHECK(errand::to_iso8601(errand::time_point{} - 1us) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("to_iso8601 and from_iso8601 round-trip every microsecond", "[time]") {
  const errand::time_point times[] = {
      errand::time_point{},
      errand::time_point{} - 1us,
      at(2000y / 1 / 1),
      at(2024y / 2 / 29, 12h + 1us),
      at(2026y / 1 / 1, 86399s + 999999us),
      at(9999y / 12 / 31, 23h + 59min + 59s + 999999us),
  };
  for (const auto t : times) {
    const auto text = errand::to_iso8601(t);
    INFO(text);
    REQUIRE(errand::from_iso8601(text).has_value());
    CHECK(*errand::from_iso8601(text) == t);
  }
}

TEST_CASE("from_iso8601 accepts the UTC spellings databases write", "[time]") {
  const auto expected = at(2026y / 11 / 22, 10h + 4min + 5s);
  const std::string spellings[] = {"2026-11-22T10:04:05Z", "2026-11-22 10:04:05Z", "2026-11-22T10:04:05+00:00",
                                   "2026-11-22 10:04:05+00", "2026-11-22T10:04:05.000000Z"};
  for (const auto& text : spellings) {
    INFO(text);
    CHECK(errand::from_iso8601(text) == expected);
  }
}

TEST_CASE("from_iso8601 reads one to nine fractional digits and keeps microseconds", "[time]") {
  const auto second = at(2026y / 1 / 1);
  CHECK(errand::from_iso8601("2026-01-01T00:00:00.5Z") == second + 500000us);
  CHECK(errand::from_iso8601("2026-01-01T00:00:00.123Z") == second + 123000us);
  CHECK(errand::from_iso8601("2026-01-01T00:00:00.000001Z") == second + 1us);
  CHECK(errand::from_iso8601("2026-01-01T00:00:00.123456789Z") == second + 123456us);
}

TEST_CASE("from_iso8601 rejects garbage and non-UTC offsets rather than guessing", "[time]") {
  const std::string rejected[] = {
      "",
      "garbage",
      "2026-01-01",                 // no time
      "2026-01-01T00:00:00",        // no zone: local time is a guess
      "2026-01-01T00:00:00+01:00",  // a non-UTC offset
      "2026-01-01T00:00:00-05:00",
      "2026-01-01T00:00:00+00:30",
      "2026-01-01T00:00:00z",   // lower-case zone
      "2026-01-01T00:00:00Z ",  // trailing text
      "2026-01-01T00:00:00ZZ",
      "2026-01-01T00:00:00.Z",            // a dot without digits
      "2026-01-01T00:00:00.1234567890Z",  // ten fractional digits
      "2026-1-01T00:00:00Z",              // a short month
      "2026-01-01X00:00:00Z",             // neither 'T' nor a space
      "2026-13-01T00:00:00Z",             // month 13
      "2026-02-30T00:00:00Z",             // February 30th
      "2025-02-29T00:00:00Z",             // not a leap year
      "2026-01-01T24:00:00Z",
      "2026-01-01T00:60:00Z",
      "2026-01-01T00:00:61Z",
      "+2026-01-01T00:00:00Z",
      "1767225600",  // seconds since the epoch are not ISO-8601
  };
  for (const auto& text : rejected) {
    INFO('"' << text << '"');
    CHECK_FALSE(errand::from_iso8601(text).has_value());
  }
}

TEST_CASE("errand's times are the years 0001 to 9999, which every store reads back", "[time]") {
  CHECK(errand::to_iso8601(errand::earliest_time) == "0001-01-01T00:00:00.000000Z");
  CHECK(errand::to_iso8601(errand::latest_time) == "9999-12-31T23:59:59.999999Z");
  CHECK(errand::from_iso8601(errand::to_iso8601(errand::latest_time)) == errand::latest_time);
  CHECK(errand::from_iso8601(errand::to_iso8601(errand::earliest_time)) == errand::earliest_time);
  CHECK(errand::storable_time(errand::latest_time));
  CHECK_FALSE(errand::storable_time(errand::latest_time + 1us));
  CHECK_FALSE(errand::storable_time(errand::earliest_time - 1us));
  CHECK_FALSE(errand::storable_time(errand::time_point::max()));
  CHECK(errand::detail::outside_storable_years(errand::time_point::max()) ==
        "outside the years 0001 to 9999 (9223372036854775807 microseconds since 1970)");
}

TEST_CASE("shifted moves a time and holds it within the storable years instead of overflowing", "[time]") {
  const auto t = at(2026y / 11 / 30, 10h);
  CHECK(errand::shifted(t, 90s) == t + 90s);
  CHECK(errand::shifted(t, -90s) == t - 90s);
  CHECK(errand::shifted(t, errand::duration::max()) == errand::latest_time);  // "for ever"
  CHECK(errand::shifted(t, -errand::duration::max()) == errand::earliest_time);
  CHECK(errand::shifted(t, errand::duration::min()) == errand::earliest_time);
  CHECK(errand::shifted(t, errand::latest_time - t) == errand::latest_time);
  CHECK(errand::shifted(t, errand::latest_time - t + 1us) == errand::latest_time);
  CHECK(errand::shifted(errand::time_point::max(), -1s) == errand::latest_time - 1s);
  CHECK(errand::shifted(errand::time_point::min(), 1s) == errand::earliest_time + 1s);
  static_assert(errand::shifted(errand::latest_time, errand::duration::max()) == errand::latest_time);
}
