#include "text.hpp"

#include <errand/enum_name.hpp>
#include <errand/error_text.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace errand_tool {

namespace {

// Characters, not bytes: a continuation byte of UTF-8 starts none.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string escaped(unsigned code) {
  char text[12];
  std::snprintf(text, sizeof text, code < 0x80 ? "\\x%02x" : "\\u%04x", code);
  return text;
}

// Calls keep(piece) for each character of valid UTF-8 text, and
// control(code) for each C0, DEL and C1 control character.
template <class Keep, class Control>
void for_each_character(std::string_view text, Keep&& keep, Control&& control) {
  const std::string valid = errand::storable_error_text(text, 3 * text.size() + 64);
  for (std::size_t i = 0; i < valid.size();) {
    const auto byte = static_cast<unsigned char>(valid[i]);
    const std::size_t length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
    if (byte < 0x20 || byte == 0x7F)
      control(unsigned{byte});
    else if (byte == 0xC2 && i + 1 < valid.size() && static_cast<unsigned char>(valid[i + 1]) < 0xA0)
      control(unsigned{static_cast<unsigned char>(valid[i + 1])});  // U+0080..U+009F
    else
      keep(std::string_view(valid).substr(i, length));
    i += length;
  }
}

}  // namespace

std::string when(errand::time_point t) {
  const std::string full = errand::to_iso8601(t);  // 2026-01-01T00:04:05.123456Z
  return full.substr(0, 19) + "Z";
}

std::string when(const std::optional<errand::time_point>& t) { return t ? when(*t) : "-"; }

std::string state_name(errand::job_state s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

std::string span(errand::duration d) {
  using namespace std::chrono;
  const auto total = duration_cast<seconds>(d < errand::duration::zero() ? -d : d).count();
  // Appended, not "0" + to_string(n): GCC 12 at -O3 warns (-Wrestrict) on the insert that would do.
  const auto two = [](long long n) {
    std::string digits = n < 10 ? "0" : "";
    digits += std::to_string(n);
    return digits;
  };
  std::string text;
  if (total < 60)
    text = std::to_string(total) + "s";
  else if (total < 3600)
    text = std::to_string(total / 60) + "m" + two(total % 60) + "s";
  else if (total < 86400)
    text = std::to_string(total / 3600) + "h" + two(total % 3600 / 60) + "m";
  else
    text = std::to_string(total / 86400) + "d" + std::to_string(total % 86400 / 3600) + "h";
  return d < errand::duration::zero() ? "-" + text : text;
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  for_each_character(
      text, [&](std::string_view c) { out += c; },
      [&](unsigned code) {
        out += code == '\n' || code == '\t' ? std::string(1, static_cast<char>(code)) : escaped(code);
      });
  return out;
}

std::string one_line(std::string_view text, std::size_t width) {
  struct piece {
    std::string text;
    std::size_t characters;
  };
  std::vector<piece> pieces;
  std::size_t characters = 0;
  const auto add = [&](std::string p, std::size_t n) {
    characters += n;
    pieces.push_back({std::move(p), n});
  };
  for_each_character(
      text, [&](std::string_view c) { add(std::string(c), 1); },
      [&](unsigned code) {
        if (code == '\n')
          add("⏎", 1);
        else if (code == '\t')
          add(" ", 1);
        else
          add(escaped(code), escaped(code).size());
      });
  std::string out;
  const std::size_t room = characters <= width ? width : width - std::min<std::size_t>(width, 1);
  std::size_t used = 0;
  for (const auto& p : pieces) {
    if (used + p.characters > room) break;
    out += p.text;
    used += p.characters;
  }
  return characters <= width ? out : out + "…";
}

std::optional<errand::duration> parse_age(std::string_view text) {
  using namespace std::chrono;
  if (text.empty()) return std::nullopt;
  // No age is longer than the years errand stores: a longer one would overflow a count of microseconds.
  const errand::duration longest = errand::latest_time - errand::earliest_time;
  errand::duration total{};
  while (!text.empty()) {
    long long count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error != std::errc{} || end == text.data() + text.size() || count < 0) return std::nullopt;
    const char unit = *end;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
    const auto add = [&](auto one) {
      if (count > longest / one) return false;
      total += one * count;
      return total <= longest;
    };
    bool fits = false;
    switch (unit) {
      case 's':
        fits = add(seconds{1});
        break;
      case 'm':
        fits = add(minutes{1});
        break;
      case 'h':
        fits = add(hours{1});
        break;
      case 'd':
        fits = add(days{1});
        break;
      case 'w':
        fits = add(weeks{1});
        break;
      default:
        return std::nullopt;
    }
    if (!fits) return std::nullopt;
  }
  return total;
}

std::optional<errand::time_point> parse_time(std::string_view text, errand::time_point now) {
  if (const auto age = parse_age(text)) return errand::shifted(now, -*age);
  return errand::from_iso8601(text);
}

text_table::text_table(std::vector<std::string> headers) : rows_{std::move(headers)} {}

void text_table::add(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

void text_table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i]));
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text.append(widths[i] - display_width(cells[i]) + 2, ' ');
    }
    out << text.substr(0, text.find_last_not_of(' ') + 1) << '\n';
  };
  line(rows_.front());
  std::vector<std::string> rule;
  for (const auto w : widths) rule.emplace_back(w, '-');
  line(rule);
  for (std::size_t r = 1; r < rows_.size(); ++r) line(rows_[r]);
}

}  // namespace errand_tool
