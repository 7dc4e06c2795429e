#pragma once
// Cron expressions, as crontab(5) writes them, and the time they next match.
//
//   errand::cron_expression nightly("30 2 * * MON-FRI");  // 02:30 on weekdays
//   nightly.next_after(now);                              // the first such minute after now
//
// Five fields, separated by blanks:
//
//   field          values           names
//   minute         0-59
//   hour           0-23
//   day of month   1-31
//   month          1-12             JAN-DEC
//   day of week    0-7 (0, 7: Sun)  SUN-SAT
//
// Each field is a list of items separated by commas; an item is `*`, a value,
// a range `a-b`, or either of those with a step: `*/15`, `8-18/2`. Names are
// case-insensitive and may be used in ranges (`MON-FRI`). A step needs a
// range or `*` (`5/10` is refused, as Vixie cron refuses it); ranges do not
// wrap around (`FRI-MON` is refused: write `FRI-SAT,SUN-MON` or `0,1,5,6`).
//
// Shorthands: @yearly (@annually) = "0 0 1 1 *", @monthly = "0 0 1 * *",
// @weekly = "0 0 * * 0", @daily (@midnight) = "0 0 * * *", @hourly = "0 * * * *".
// @reboot is refused: it is not a time.
//
// Day of month and day of week, as in Vixie cron (cronie, Debian's cron):
// when both fields are restricted, a day matches when EITHER matches
// ("0 0 1,15 * MON" runs on the 1st, the 15th and every Monday). When either
// field starts with `*`, a day must match both, so the `*` field matches
// every day. `*/2` starts with `*`, so "0 0 */2 * MON" means odd days that
// are Mondays, exactly as Vixie cron reads it.
//
// An expression that can never match ("0 0 30 2 *": there is no 30 February)
// is refused when parsed, naming the days and months. "0 0 29 2 *" is
// accepted and matches in leap years only.
//
// Times are whole minutes in UTC, or in a fixed offset from UTC given to
// next_after(). There is no time-zone database here: an offset does not
// follow daylight saving time (docs/scheduling.md says why).

#include <errand/time.hpp>

#include <algorithm>
#include <bitset>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace errand {

class cron_expression {
 public:
  // Throws std::invalid_argument naming the expression, the field and what is wrong with it.
  explicit cron_expression(std::string_view text) : text_(text) {
    const std::vector<std::string> fields = split(expand_shorthand(text));
    if (fields.size() != 5)
      fail("expects 5 fields (minute hour day-of-month month day-of-week), found " + std::to_string(fields.size()));
    minutes_ = parse_field<60>(fields[0], field_minute);
    hours_ = parse_field<24>(fields[1], field_hour);
    days_of_month_ = parse_field<32>(fields[2], field_day_of_month);
    months_ = parse_field<13>(fields[3], field_month);
    const auto weekdays = parse_field<8>(fields[4], field_day_of_week);
    for (unsigned d = 0; d < 7; ++d) days_of_week_[d] = weekdays[d];
    if (weekdays[7]) days_of_week_[0] = true;  // 7 is Sunday too
    any_day_of_month_ = fields[2].front() == '*';
    any_day_of_week_ = fields[4].front() == '*';
    refuse_impossible_days(fields[2], fields[3]);
  }

  // The expression as written.
  const std::string& text() const noexcept { return text_; }

  // The first whole minute strictly after `after` that matches, reading the
  // fields as wall-clock time at `utc_offset` from UTC (zero: UTC).
  time_point next_after(time_point after, std::chrono::minutes utc_offset = {}) const {
    using namespace std::chrono;
    const auto local_after = after + utc_offset;
    auto t = floor<minutes>(local_after) + minutes{1};
    const auto give_up = floor<days>(t) + days{366 * search_years};
    while (t < give_up) {
      const auto day = floor<days>(t);
      const year_month_day date{day};
      if (!months_[static_cast<unsigned>(date.month())]) {
        const auto next_month = year_month{date.year(), date.month()} + months{1};
        t = sys_days{next_month / 1};
        continue;
      }
      if (!day_matches(date, weekday{day})) {
        t = day + days{1};
        continue;
      }
      const hh_mm_ss<minutes> clock{t - day};
      const auto hour = static_cast<std::size_t>(clock.hours().count());
      if (!hours_[hour]) {
        t = day + hours{hour + 1};
        continue;
      }
      const auto minute = static_cast<std::size_t>(clock.minutes().count());
      std::size_t next = minute;
      while (next < 60 && !minutes_[next]) ++next;
      if (next == 60) {
        t = day + hours{hour + 1};
        continue;
      }
      return time_point{t + minutes{next - minute}} - utc_offset;
    }
    // Unreachable for an expression the constructor accepted: every one of them matches within a few years.
    throw std::logic_error("errand: cron expression '" + text_ + "' has no time within " +
                           std::to_string(search_years) + " years after " + to_iso8601(after));
  }

  // Whether the whole minute holding `t` matches (at `utc_offset` from UTC).
  bool matches(time_point t, std::chrono::minutes utc_offset = {}) const {
    using namespace std::chrono;
    const auto local = floor<minutes>(t + utc_offset);
    const auto day = floor<days>(local);
    const year_month_day date{day};
    const hh_mm_ss<minutes> clock{local - day};
    return months_[static_cast<unsigned>(date.month())] && day_matches(date, weekday{day}) &&
           hours_[static_cast<std::size_t>(clock.hours().count())] &&
           minutes_[static_cast<std::size_t>(clock.minutes().count())];
  }

 private:
  static constexpr int search_years = 50;

  struct field_rules {
    const char* name;
    unsigned low;
    unsigned high;
    const char* const* names;  // value `low + i` is names[i]; null: numbers only
  };
  static constexpr const char* month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static constexpr const char* weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  static constexpr field_rules field_minute{"minute", 0, 59, nullptr};
  static constexpr field_rules field_hour{"hour", 0, 23, nullptr};
  static constexpr field_rules field_day_of_month{"day-of-month", 1, 31, nullptr};
  static constexpr field_rules field_month{"month", 1, 12, month_names};
  static constexpr field_rules field_day_of_week{"day-of-week", 0, 7, weekday_names};

  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("errand: cron expression '" + text_ + "' " + why);
  }
  [[noreturn]] void fail(const field_rules& field, std::string_view text, const std::string& why) const {
    fail("field " + std::string(field.name) + " '" + std::string(text) + "': " + why);
  }

  std::string expand_shorthand(std::string_view text) const {
    std::size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    if (start == text.size() || text[start] != '@') return std::string(text);
    std::size_t end = text.size();
    while (end > start && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    std::string word(text.substr(start, end - start));
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word == "@yearly" || word == "@annually") return "0 0 1 1 *";
    if (word == "@monthly") return "0 0 1 * *";
    if (word == "@weekly") return "0 0 * * 0";
    if (word == "@daily" || word == "@midnight") return "0 0 * * *";
    if (word == "@hourly") return "0 * * * *";
    if (word == "@reboot") fail("is not a time: @reboot means 'at start-up', which a schedule cannot express");
    fail("is not a known shorthand (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
  }

  static std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> fields;
    std::string current;
    for (const char c : text) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!current.empty()) fields.push_back(std::move(current));
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) fields.push_back(std::move(current));
    return fields;
  }

  // A number or, where the field has names, a name.
  unsigned parse_value(const field_rules& field, std::string_view whole, std::string_view text) const {
    if (text.empty()) fail(field, whole, "a value is missing");
    if (std::isdigit(static_cast<unsigned char>(text.front()))) {
      unsigned value = 0;
      for (const char c : text) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
          fail(field, whole, "'" + std::string(text) + "' is not a number");
        value = std::min(value * 10 + static_cast<unsigned>(c - '0'), 1000u);  // anything past 1000 is out of range
      }
      if (value < field.low || value > field.high)
        fail(field, whole,
             "'" + std::string(text) + "' is out of range " + std::to_string(field.low) + "-" +
                 std::to_string(field.high));
      return value;
    }
    if (field.names) {
      std::string upper(text);
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const unsigned count = field.names == month_names ? 12 : 7;
      for (unsigned i = 0; i < count; ++i)
        if (upper == field.names[i]) return field.low + i;
    }
    fail(field, whole, "'" + std::string(text) + "' is not " + (field.names ? "a number or a name" : "a number"));
  }

  template <std::size_t N>
  std::bitset<N> parse_field(const std::string& text, const field_rules& field) const {
    std::bitset<N> bits;
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = text.find(',', start);
      const std::string_view item =
          std::string_view(text).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item.empty()) fail(field, text, "an item of the list is empty");
      const std::size_t slash = item.find('/');
      const std::string_view range = item.substr(0, slash);
      unsigned step = 1;
      if (slash != std::string_view::npos) {
        const std::string_view step_text = item.substr(slash + 1);
        if (step_text.empty() || step_text.find_first_not_of("0123456789") != std::string_view::npos)
          fail(field, text, "the step '" + std::string(step_text) + "' is not a number");
        step = 0;
        for (const char c : step_text) step = std::min(step * 10 + static_cast<unsigned>(c - '0'), 1000u);
        if (step == 0) fail(field, text, "a step of 0 never advances");
      }
      unsigned low = field.low, high = field.high;
      if (range != "*") {
        const std::size_t dash = range.find('-');
        low = parse_value(field, text, range.substr(0, dash));
        if (dash != std::string_view::npos) {
          high = parse_value(field, text, range.substr(dash + 1));
          if (high < low)
            fail(
                field, text,
                "the range '" + std::string(range) + "' runs backwards; ranges do not wrap around, write it as a list");
        } else if (slash != std::string_view::npos) {
          fail(field, text,
               "a step needs a range or '*': write '" + std::string(range) + "-" + std::to_string(field.high) + "/" +
                   std::to_string(step) + "'");
        } else {
          high = low;
        }
      }
      for (unsigned v = low; v <= high; v += step) bits[v] = true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return bits;
  }

  // Only when days must match both fields and day-of-week is '*' can the
  // days of month chosen fall outside every month chosen.
  void refuse_impossible_days(const std::string& day_text, const std::string& month_text) const {
    if (any_day_of_month_ || !any_day_of_week_) return;
    static constexpr unsigned longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (unsigned m = 1; m <= 12; ++m)
      for (unsigned d = 1; d <= longest[m]; ++d)
        if (months_[m] && days_of_month_[d]) return;
    fail("never matches: no month in '" + month_text + "' has a day '" + day_text + "'");
  }

  bool day_matches(std::chrono::year_month_day date, std::chrono::weekday day) const {
    const bool by_month = days_of_month_[static_cast<unsigned>(date.day())];
    const bool by_week = days_of_week_[day.c_encoding()];
    if (any_day_of_month_ || any_day_of_week_) return by_month && by_week;
    return by_month || by_week;
  }

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1-31
  std::bitset<13> months_;         // 1-12
  std::bitset<7> days_of_week_;    // 0 Sunday - 6 Saturday
  bool any_day_of_month_ = false;
  bool any_day_of_week_ = false;
};

}  // namespace errand
