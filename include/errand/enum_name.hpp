#pragma once
// The names of a Boost.Describe'd enum are the strings errand stores: a state
// read back from a row is looked up by name, and an unknown name is reported.

#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace errand {

template <class E>
concept described_enum = std::is_enum_v<E> && boost::describe::has_describe_enumerators<E>::value;

template <described_enum E>
inline constexpr std::size_t enumerator_count = boost::mp11::mp_size<boost::describe::describe_enumerators<E>>::value;

template <described_enum E>
constexpr std::array<E, enumerator_count<E>> enumerators() {
  std::array<E, enumerator_count<E>> values{};
  std::size_t i = 0;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) { values[i++] = d.value; });
  return values;
}

// Position of `value` among the enumerators, or nullopt for a value that is not one.
template <described_enum E>
constexpr std::optional<std::size_t> enumerator_index(E value) {
  constexpr auto values = enumerators<E>();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] == value) return i;
  return std::nullopt;
}

template <described_enum E>
constexpr std::optional<std::string_view> name_of(E value) {
  std::optional<std::string_view> name;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (!name && d.value == value) name = d.name;
  });
  return name;
}

template <described_enum E>
constexpr std::optional<E> from_name(std::string_view name) {
  std::optional<E> value;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (!value && name == d.name) value = d.value;
  });
  return value;
}

namespace detail {

// Every enumerator's name, in declaration order.
template <described_enum E>
std::vector<std::string_view> enumerator_names() {
  std::vector<std::string_view> names;
  for (const E value : enumerators<E>()) names.push_back(*name_of(value));
  return names;
}

}  // namespace detail

}  // namespace errand
