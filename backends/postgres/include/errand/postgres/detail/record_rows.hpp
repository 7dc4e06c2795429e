#pragma once
// A record's values between errand's column_value and PostgreSQL's text. A
// cell is turned into the value its column's kind suggests when it parses as
// one, and left as text otherwise, so that read_column() (record_columns.hpp)
// says what is wrong with it and from_column_values() throws corrupt_record
// naming the table, the record and the column.

#include <errand/detail/read_double.hpp>
#include <errand/enum_name.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/record_columns.hpp>
#include <errand/record_store.hpp>
#include <errand/time.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// A value as a statement parameter; doubles exactly (the shortest text that
// reads back as the same double), in PostgreSQL's spelling of NaN and infinity.
inline cell to_cell(const column_value& value) {
  struct visitor {
    cell operator()(std::monostate) const { return std::nullopt; }
    cell operator()(bool b) const { return b ? "true" : "false"; }
    cell operator()(std::int64_t i) const { return std::to_string(i); }
    cell operator()(double d) const {
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      char text[32];
      const auto end = std::to_chars(text, text + sizeof text, d).ptr;
      return std::string(text, end);
    }
    cell operator()(const std::string& s) const { return s; }
  };
  return std::visit(visitor{}, value);
}

// The same, taking the text of a value it may have.
inline cell to_cell(column_value&& value) {
  if (auto* text = std::get_if<std::string>(&value)) return std::move(*text);
  return to_cell(std::as_const(value));
}

// A cell as the value a column of `kind` holds.
inline column_value from_cell(const cell& text, column_kind kind) {
  if (!text) return std::monostate{};
  const char* first = text->data();
  const char* last = first + text->size();
  switch (kind) {
    case column_kind::boolean:
      if (*text == "t") return true;
      if (*text == "f") return false;
      [[fallthrough]];  // an integer column holding 0 or 1 will do
    case column_kind::integer: {
      std::int64_t i = 0;
      const auto [end, error] = std::from_chars(first, last, i);
      if (error == std::errc{} && end == last) return i;
      break;
    }
    case column_kind::real: {
      double d = 0;
      if (detail::read_double(*text, d)) return d;
      break;
    }
    case column_kind::text:
    case column_kind::time:
    case column_kind::enumeration:
    case column_kind::json:
      break;
  }
  return *text;
}

// A history entry from the cells `first` on (record_statements::history_columns).
template <class State>
history_entry<State> read_entry(const row& cells, std::size_t first, std::string_view history_table) {
  std::int64_t record_id = 0;
  if (const auto& id = cells.at(first)) std::from_chars(id->data(), id->data() + id->size(), record_id);
  const auto corrupt = [&](std::string_view column, std::string_view why) {
    return corrupt_record(history_table, record_id, concat("column '", column, "' ", why));
  };
  const auto text = [&](std::size_t i, std::string_view column) -> const std::string& {
    if (!cells.at(first + i)) throw corrupt(column, "is NULL");
    return *cells.at(first + i);
  };
  const auto state = [&](std::size_t i, std::string_view column) {
    const auto found = from_name<State>(text(i, column));
    if (!found) throw corrupt(column, concat("holds ", quoted_excerpt(text(i, column)), ", which is not a state"));
    return *found;
  };
  history_entry<State> entry;
  entry.record_id = record_id;
  const auto& seq = text(1, "seq");
  if (std::from_chars(seq.data(), seq.data() + seq.size(), entry.seq).ec != std::errc{})
    throw corrupt("seq", concat("holds ", quoted_excerpt(seq), ", not an integer"));
  entry.from = state(2, "from_state");
  entry.to = state(3, "to_state");
  entry.event = text(4, "event");
  entry.payload = text(5, "payload");
  entry.idempotency_key = cells.at(first + 6);
  const auto at = from_iso8601(text(7, "at"));
  if (!at) throw corrupt("at", concat("holds ", quoted_excerpt(text(7, "at")), ", which is not an ISO-8601 UTC time"));
  entry.at = *at;
  return entry;
}

}  // namespace errand::detail::pg
