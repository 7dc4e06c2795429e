#pragma once
// How the errand command writes for a person: times, spans of time, text
// that is safe on a terminal whatever a job's error holds, and aligned
// tables. And how it reads times and ages from the command line.

#include <errand/lifecycle_states.hpp>
#include <errand/time.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace errand_tool {

// "2026-01-01T00:04:05Z": to the second, as an operator reads a time.
std::string when(errand::time_point t);
std::string when(const std::optional<errand::time_point>& t);  // "-" when absent

// A state's name as errand stores it ("retry_pending"); "<unknown>" for a value that is none.
std::string state_name(errand::job_state s);

// "45s", "3m12s", "2h05m", "6d4h".
std::string span(errand::duration d);

// Text with every control character but newline and tab shown as an escape
// (\x1b, \u009b), so that an error message cannot move the cursor, change
// colours or retitle an operator's terminal.
std::string terminal_safe(std::string_view text);

// One line of at most `width` characters: terminal_safe, with newlines shown
// as "⏎" and tabs as spaces; a longer text ends with "…".
std::string one_line(std::string_view text, std::size_t width);

// An age on the command line: "90s", "15m", "2h", "7d", "1w", or several
// ("1h30m"); nullopt for anything else.
std::optional<errand::duration> parse_age(std::string_view text);

// A point in time on the command line: an age before `now` ("2h") or an
// ISO-8601 UTC time; nullopt for anything else.
std::optional<errand::time_point> parse_time(std::string_view text, errand::time_point now);

// Columns aligned on display width, as psql and the sqlite3 shell print
// them; cells hold terminal-safe text.
class text_table {
 public:
  explicit text_table(std::vector<std::string> headers);
  void add(std::vector<std::string> cells);
  bool empty() const { return rows_.size() == 1; }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace errand_tool
