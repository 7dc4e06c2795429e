#pragma once
// Time as errand stores it: microseconds since the Unix epoch, UTC, written as
// ISO-8601 ("2026-11-22T10:04:05.123456Z") wherever a human or a database reads it.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace errand {

using duration = std::chrono::microseconds;
using time_point = std::chrono::sys_time<duration>;

// The earliest and the latest time errand stores: the years 0001 to 9999, which ISO-8601 writes
// with four digits and every store reads back (Python's datetime has the same range). A job
// spec's run_at outside them is refused; a time computed past them is held at them (shifted).
inline constexpr time_point earliest_time{std::chrono::sys_days{std::chrono::year{1} / 1 / 1}};
inline constexpr time_point latest_time{std::chrono::sys_days{std::chrono::year{9999} / 12 / 31} +
                                        std::chrono::days{1} - duration{1}};

inline constexpr bool storable_time(time_point t) { return t >= earliest_time && t <= latest_time; }

namespace detail {
// What a message says of a time that is not storable_time.
inline std::string outside_storable_years(time_point t) {
  return "outside the years 0001 to 9999 (" + std::to_string(t.time_since_epoch().count()) +
         " microseconds since 1970)";
}
}  // namespace detail

// `at` moved by `by`, held between earliest_time and latest_time: a lease, a deadline or a retry
// delay of duration::max() ("for ever") ends at latest_time, where `at + by` would overflow into
// the past.
constexpr time_point shifted(time_point at, duration by) {
  at = at < earliest_time ? earliest_time : at > latest_time ? latest_time : at;
  if (by >= duration::zero()) return by >= latest_time - at ? latest_time : at + by;
  return by <= earliest_time - at ? earliest_time : at + by;
}

inline std::string to_iso8601(time_point t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> hms{t - day};
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<long long>(hms.subseconds().count()));
  return text;
}

// Accepts "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+00:00)" and a space instead of 'T'.
// Anything else, including a non-UTC offset, is nullopt: a time errand did not
// write is reported, not guessed.
inline std::optional<time_point> from_iso8601(std::string_view text) {
  int year = 0;
  unsigned month = 0, day = 0;
  int hour = 0, minute = 0, second = 0;
  std::size_t pos = 0;
  auto digits = [&](std::size_t count, auto& out) {
    if (pos + count > text.size()) return false;
    long long value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(value);
    pos += count;
    return true;
  };
  auto expect = [&](std::string_view allowed) {
    if (pos >= text.size() || allowed.find(text[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
  };
  if (!(digits(4, year) && expect("-") && digits(2, month) && expect("-") && digits(2, day) && expect("T ") &&
        digits(2, hour) && expect(":") && digits(2, minute) && expect(":") && digits(2, second)))
    return std::nullopt;
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int scale = 100000;
    std::size_t fraction_digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (fraction_digits < 6) micros += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++fraction_digits;
    }
    if (fraction_digits == 0 || fraction_digits > 9) return std::nullopt;
  }
  const std::string_view zone = text.substr(pos);
  if (zone != "Z" && zone != "+00:00" && zone != "+00") return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return time_point{sys_days{ymd}} + hours{hour} + minutes{minute} + seconds{second} + microseconds{micros};
}

}  // namespace errand
