#pragma once
// Values crossing between a record's fields and SQLite: binding a field or a
// column_value, and reading a record row or a history entry back, where a
// value no field can take throws corrupt_record naming the table, the record
// and the column.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>
#include <errand/record_columns.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/rows.hpp>

#include <boost/mp11/algorithm.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace errand::detail::sqlite {

inline void bind_value(cursor& c, int index, const column_value& value) {
  if (const auto* b = std::get_if<bool>(&value))
    c.bind(index, std::int64_t{*b ? 1 : 0});
  else if (const auto* i = std::get_if<std::int64_t>(&value))
    c.bind(index, *i);
  else if (const auto* d = std::get_if<double>(&value))
    c.bind(index, *d);
  else if (const auto* text = std::get_if<std::string>(&value))
    c.bind(index, *text);
  else
    c.bind(index, std::nullopt);
}

// Binds a row's field as its column holds it: the value to_column_value()
// gives, without copying the text the row holds (which must outlive the
// cursor's step).
template <class T>
void bind_field(cursor& c, int index, const T& value) {
  if constexpr (is_optional<T>::value) {
    if (value)
      bind_field(c, index, *value);
    else
      c.bind(index, std::nullopt);
  } else if constexpr (std::is_same_v<T, std::string>) {
    c.bind(index, std::string_view(value));
  } else if constexpr (std::is_same_v<T, time_point>) {
    c.bind(index, value);
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    c.bind(index, static_cast<std::int64_t>(value));
  } else if constexpr (described_enum<T>) {
    if (const auto name = name_of(value))
      c.bind(index, *name);
    else
      c.bind_copy(index, std::get<std::string>(to_column_value(value)));
  } else {
    const column_value converted = to_column_value(value);
    if (const auto* text = std::get_if<std::string>(&converted))
      c.bind_copy(index, *text);
    else
      bind_value(c, index, converted);
  }
}

// The value of `column`; nullopt for a blob, which no field takes.
inline std::optional<column_value> value_at(const cursor& c, int column) {
  switch (c.type(column)) {
    case SQLITE_NULL:
      return column_value{};
    case SQLITE_INTEGER:
      return column_value{c.integer(column)};
    case SQLITE_FLOAT:
      return column_value{c.real(column)};
    case SQLITE_TEXT:
      return column_value{std::string(c.text(column))};
    default:
      return std::nullopt;
  }
}

// The record at the cursor, whose columns are `columns` in order; `id_index`
// is the id's column, named in errors.
template <record_definition D>
typename D::row read_record(const cursor& c, std::span<const record_column> columns, int id_index) {
  std::vector<column_value> values;
  values.reserve(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    auto value = value_at(c, static_cast<int>(i));
    if (!value)
      throw corrupt_record(record_traits<D>::table, c.integer(id_index),
                           concat("column '", columns[i].name, "' holds a blob"));
    values.push_back(std::move(*value));
  }
  return from_column_values<D>(values);
}

// The history entry at the cursor, its columns in history_entry's member order.
template <class State>
history_entry<State> read_entry(const cursor& c, std::string_view history_table) {
  history_entry<State> entry{};
  int column = 0;
  boost::mp11::mp_for_each<public_members<history_entry<State>>>([&](auto member) {
    const auto value = value_at(c, column);
    const auto why = value ? read_column(*value, entry.*member.pointer) : std::optional<std::string>("holds a blob");
    if (why)
      throw corrupt_record(
          history_table, c.integer(0),
          concat("history entry ", std::to_string(c.integer(1)), ": column '", column_name(member.name), "' ", *why));
    ++column;
  });
  return entry;
}

}  // namespace errand::detail::sqlite
