#pragma once
// Rows between errand's structs and PostgreSQL text. A job and a history
// record are Boost.Describe'd structs whose member names are the column
// names, so the select lists and the decoding are generated from the structs:
// column i holds member i. Times travel as ISO-8601 UTC text in both
// directions, whatever the session's TimeZone and DateStyle. A value errand
// cannot read (an unknown state in a legacy row, text where a number
// belongs) throws corrupt_row naming the job and the column.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>
#include <errand/job.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/store.hpp>
#include <errand/time.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace errand::detail::pg {

// "from" and "to" are SQL keywords, so history names those columns from_state and to_state.
inline std::string_view column_name(std::string_view member) {
  if (member == "from") return "from_state";
  if (member == "to") return "to_state";
  return member;
}

template <class T>
inline constexpr bool is_time = std::is_same_v<T, time_point> || std::is_same_v<T, std::optional<time_point>>;

// A timestamp without time zone holding UTC, as ISO-8601 text.
inline std::string iso8601_text(std::string_view utc_timestamp) {
  return concat("to_char(", utc_timestamp, ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
}

// A TIMESTAMPTZ as ISO-8601 UTC text, whatever the session's TimeZone.
inline std::string iso8601_utc(std::string_view timestamptz) {
  return iso8601_text(concat(timestamptz, " AT TIME ZONE 'UTC'"));
}

// The SQL that reads `column` as errand reads it: times as ISO-8601 UTC text,
// JSON as text.
inline std::string readable(std::string_view alias, std::string_view column, bool time) {
  const std::string qualified = alias.empty() ? std::string(column) : std::string(alias) + "." + std::string(column);
  if (time) return iso8601_utc(qualified);
  if (column == "payload") return qualified + "::text";
  return qualified;
}

// "id, queue, kind, payload::text, ..." for a described row type.
template <class Row>
std::string select_list(std::string_view alias = {}) {
  std::string list;
  boost::mp11::mp_for_each<boost::describe::describe_members<Row, boost::describe::mod_public>>([&](auto member) {
    using type = std::remove_cvref_t<decltype(std::declval<Row&>().*member.pointer)>;
    if (!list.empty()) list += ", ";
    list += readable(alias, column_name(member.name), is_time<type>);
  });
  return list;
}

class row_reader {
 public:
  row_reader(const row& cells, std::int64_t job_id, std::size_t first_column)
      : cells_(cells), job_id_(job_id), column_(first_column) {}

  template <class Row>
  Row read() {
    Row out{};
    boost::mp11::mp_for_each<boost::describe::describe_members<Row, boost::describe::mod_public>>([&](auto member) {
      name_ = column_name(member.name);
      read(out.*member.pointer);
      ++column_;
    });
    return out;
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) const {
    throw corrupt_row(job_id_, "column '" + std::string(name_) + "' " + what);
  }

  const std::string& text() const {
    if (column_ >= cells_.size()) corrupt("is missing from the result");
    if (!cells_[column_]) corrupt("is NULL");
    return *cells_[column_];
  }

  std::string shown() const { return detail::quoted_excerpt(text()); }

  void read(std::string& out) { out = text(); }

  template <class Integer>
  requires std::is_integral_v<Integer>
  void read(Integer& out) {
    const std::string& t = text();
    const auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (error != std::errc{} || end != t.data() + t.size()) corrupt("holds " + shown() + ", not an integer in range");
  }

  void read(job_state& out) {
    const auto state = from_name<job_state>(text());
    if (!state) corrupt("holds " + shown() + ", which is not a job state");
    out = *state;
  }

  void read(time_point& out) {
    const auto t = from_iso8601(text());
    if (!t) corrupt("holds " + shown() + ", which is not an ISO-8601 UTC time");
    out = *t;
  }

  template <class T>
  void read(std::optional<T>& out) {
    if (column_ < cells_.size() && !cells_[column_]) {
      out.reset();
      return;
    }
    T value{};
    read(value);
    out = std::move(value);
  }

  const row& cells_;
  std::int64_t job_id_;
  std::size_t column_;
  std::string_view name_;
};

// The first cell of a row errand selected: the job id named in errors.
inline std::int64_t leading_id(const row& cells) {
  std::int64_t id = 0;
  if (!cells.empty() && cells[0]) std::from_chars(cells[0]->data(), cells[0]->data() + cells[0]->size(), id);
  return id;
}

// The row's cells from `first_column` on are Row's members in order; its
// first cell is the job id named in errors.
template <class Row>
Row read_row(const row& cells, std::size_t first_column = 0) {
  return row_reader(cells, leading_id(cells), first_column).read<Row>();
}

// `text` between two `quote`s, each quote within it doubled: how SQL writes
// a name ("…") and, with standard_conforming_strings (PostgreSQL's default
// since 9.1), a string ('…').
inline std::string sql_quoted(std::string_view text, char quote) {
  std::string out(1, quote);
  for (const char c : text) {
    if (c == quote) out += quote;
    out += c;
  }
  return out + quote;
}

// A string literal for SQL text errand builds.
inline std::string sql_literal(std::string_view text) { return sql_quoted(text, '\''); }

// $1, $2, ... in the order a statement's parameters are passed.
class placeholders {
 public:
  std::string next(std::string_view cast = {}) {
    return concat("$", std::to_string(++count_), cast.empty() ? "" : "::", cast);
  }

 private:
  int count_ = 0;
};

// A PostgreSQL array literal for an array parameter: {"a","b",NULL}. Text
// reaching here holds no NUL byte (the store refuses those before).
inline std::string array_literal(const std::vector<cell>& values) {
  std::string out = "{";
  for (const auto& value : values) {
    if (out.size() > 1) out += ',';
    if (!value) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (const char c : *value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

inline cell text_of(std::int64_t value) { return std::to_string(value); }

// A number errand's own SQL returns (an id, a count, a version).
inline std::int64_t integer_of(const cell& text) {
  std::int64_t value = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{})
    throw store_error(concat("errand: PostgreSQL returned '", text.value_or("NULL"), "' where a number belongs"));
  return value;
}
inline cell text_of(const time_point& t) { return to_iso8601(t); }
inline cell text_of(const std::optional<time_point>& t) { return t ? cell(to_iso8601(*t)) : std::nullopt; }

}  // namespace errand::detail::pg
