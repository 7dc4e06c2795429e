#pragma once
// How a record's fields become columns. Every field of a described row is one
// column, named after the field (or what the definition's `columns` maps it
// to), of one kind; a value crosses into a database as a column_value.
//
//   field type                                   kind         column_value
//   -------------------------------------------  -----------  ----------------------------------------
//   bool                                         boolean      bool
//   other integer types, std::chrono::duration   integer      std::int64_t (a duration's count)
//   double, float                                real         double
//   std::string                                  text         std::string
//   errand::time_point                           time         std::string, ISO-8601 UTC
//   an enum described with BOOST_DESCRIBE_ENUM   enumeration  std::string, the enumerator's name
//   anything else the codec writes               json         std::string, JSON (codec.hpp)
//   std::optional<T>                             T's kind     std::monostate for an empty optional
//
// Backends store each kind as they see fit (docs/backends/*.md) and read it
// back through read_column(), which says what is wrong with a value it cannot
// take rather than guessing.

#include <errand/codec.hpp>
#include <errand/enum_name.hpp>
#include <errand/record.hpp>
#include <errand/time.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace errand {

enum class column_kind { boolean, integer, real, text, time, enumeration, json };

using column_value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

namespace detail {

template <class T>
struct is_duration : std::false_type {};
template <class Rep, class Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

template <class T>
struct stored_type {
  using type = T;
};
template <class T>
struct stored_type<std::optional<T>> {
  using type = T;
};

}  // namespace detail

// The kind of column a field of type T is stored in.
template <class T>
constexpr column_kind column_kind_of() {
  using V = typename detail::stored_type<T>::type;
  if constexpr (std::is_same_v<V, bool>) return column_kind::boolean;
  else if constexpr (std::is_integral_v<V> || detail::is_duration<V>::value) return column_kind::integer;
  else if constexpr (std::is_floating_point_v<V>) return column_kind::real;
  else if constexpr (std::is_same_v<V, std::string>) return column_kind::text;
  else if constexpr (std::is_same_v<V, time_point>) return column_kind::time;
  else if constexpr (described_enum<V>) return column_kind::enumeration;
  else return column_kind::json;
}

// One column of a record's table.
struct record_column {
  std::string_view field;  // the row's member
  std::string_view name;   // the column that holds it
  column_kind kind;
  bool nullable;                                     // the field is a std::optional
  std::vector<std::string_view> (*allowed)();        // enumeration: the names a CHECK may list; else nullptr
};

namespace detail {

template <class Row>
using public_members = boost::describe::describe_members<Row, boost::describe::mod_public>;

}  // namespace detail

// The columns of D's table, in the row's member order.
template <record_definition D>
std::vector<record_column> record_columns() {
  using traits = record_traits<D>;
  std::vector<record_column> columns;
  boost::mp11::mp_for_each<detail::public_members<typename D::row>>([&](auto member) {
    using field = std::remove_cvref_t<decltype(std::declval<typename D::row&>().*member.pointer)>;
    using stored = typename detail::stored_type<field>::type;
    std::vector<std::string_view> (*allowed)() = nullptr;
    if constexpr (described_enum<stored>) allowed = &detail::enumerator_names<stored>;
    columns.push_back({member.name, traits::column_of(member.name), column_kind_of<field>(),
                       detail::is_optional<field>::value, allowed});
  });
  return columns;
}

// A field's value as it crosses into a database.
template <class T>
column_value to_column_value(const T& value) {
  if constexpr (detail::is_optional<T>::value) {
    if (!value) return std::monostate{};
    return to_column_value(*value);
  } else if constexpr (std::is_same_v<T, bool>) return value;
  else if constexpr (std::is_integral_v<T>) return static_cast<std::int64_t>(value);
  else if constexpr (detail::is_duration<T>::value) return static_cast<std::int64_t>(value.count());
  else if constexpr (std::is_floating_point_v<T>) return static_cast<double>(value);
  else if constexpr (std::is_same_v<T, std::string>) return value;
  else if constexpr (std::is_same_v<T, time_point>) return to_iso8601(value);
  else if constexpr (described_enum<T>) {
    const auto name = name_of(value);
    return name ? std::string(*name) : std::to_string(static_cast<long long>(value));
  } else
    return to_json(value);
}

// Reads `value` into `out`; returns why it cannot (a sentence to follow the
// column's name), or nullopt when it did.
template <class T>
std::optional<std::string> read_column(const column_value& value, T& out) {
  if constexpr (detail::is_optional<T>::value) {
    if (std::holds_alternative<std::monostate>(value)) {
      out.reset();
      return std::nullopt;
    }
    typename T::value_type inner{};
    if (auto why = read_column(value, inner)) return why;
    out = std::move(inner);
    return std::nullopt;
  } else {
    if (std::holds_alternative<std::monostate>(value)) return "holds NULL, which its field cannot";
    if constexpr (std::is_same_v<T, bool>) {
      if (const auto* b = std::get_if<bool>(&value)) out = *b;
      else if (const auto* i = std::get_if<std::int64_t>(&value); i && (*i == 0 || *i == 1)) out = *i == 1;
      else return "holds something that is not a boolean";
    } else if constexpr (std::is_integral_v<T> || detail::is_duration<T>::value) {
      const auto* i = std::get_if<std::int64_t>(&value);
      if (!i) return "holds something that is not an integer";
      if constexpr (std::is_integral_v<T>) {
        if (*i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
            (*i > 0 && static_cast<std::uint64_t>(*i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
          return "holds " + std::to_string(*i) + ", out of its field's range";
        out = static_cast<T>(*i);
      } else
        out = T{static_cast<typename T::rep>(*i)};
    } else if constexpr (std::is_floating_point_v<T>) {
      if (const auto* d = std::get_if<double>(&value)) out = static_cast<T>(*d);
      else if (const auto* i = std::get_if<std::int64_t>(&value)) out = static_cast<T>(*i);
      else return "holds something that is not a number";
    } else {
      const auto* text = std::get_if<std::string>(&value);
      if (!text) return "holds something that is not text";
      if constexpr (std::is_same_v<T, std::string>) out = *text;
      else if constexpr (std::is_same_v<T, time_point>) {
        const auto t = from_iso8601(*text);
        if (!t) return "holds '" + text->substr(0, 60) + "', which is not an ISO-8601 UTC time";
        out = *t;
      } else if constexpr (described_enum<T>) {
        const auto e = from_name<T>(*text);
        if (!e) return "holds '" + text->substr(0, 60) + "', which is not one of its enum's names";
        out = *e;
      } else {
        try {
          out = from_json<T>(*text);
        } catch (const codec_error& e) {
          return std::string("holds JSON its field cannot take: ") + e.what();
        }
      }
    }
    return std::nullopt;
  }
}

// The row's fields as column values, in member order (record_columns' order).
template <record_definition D>
std::vector<column_value> to_column_values(const typename D::row& row) {
  std::vector<column_value> values;
  boost::mp11::mp_for_each<detail::public_members<typename D::row>>(
      [&](auto member) { values.push_back(to_column_value(row.*member.pointer)); });
  return values;
}

}  // namespace errand
