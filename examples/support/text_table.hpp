#pragma once
// What the examples share: an aligned plain-text table, printed the way the
// sqlite3 and psql shells print query results, and how absent values show.

#include <errand/time.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand_examples {

// What a NULL column shows, as `.nullvalue NULL` makes the sqlite3 shell show it.
inline std::string or_null(const std::optional<std::string>& text) { return text ? *text : "NULL"; }
inline std::string or_null(const std::optional<errand::time_point>& at) {
  return at ? errand::to_iso8601(*at) : "NULL";
}

class text_table {
 public:
  explicit text_table(std::vector<std::string> headers) : rows_{std::move(headers)} {}

  void add(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  void print(std::ostream& out, std::string_view indent = "  ") const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()));
      for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
    }
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      print_row(out, indent, rows_[r], widths);
      if (r == 0) {
        std::vector<std::string> rule;
        for (const auto w : widths) rule.emplace_back(w, '-');
        print_row(out, indent, rule, widths);
      }
    }
  }

 private:
  // Counts characters, not bytes, so that "→" takes one column.
  static std::size_t display_width(std::string_view text) {
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  }

  static void print_row(std::ostream& out, std::string_view indent, const std::vector<std::string>& cells,
                        const std::vector<std::size_t>& widths) {
    std::string line(indent);
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(widths[i] - display_width(cells[i]) + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  }

  std::vector<std::vector<std::string>> rows_;
};

}  // namespace errand_examples
