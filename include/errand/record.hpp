#pragma once
// A record: a row of your own table whose state a machine written with the
// DSL owns. A record definition names the row type, the machine, the table and
// the fields errand needs; every record store (memory, SQLite, PostgreSQL)
// persists any definition.
//
//   enum class chat_status { pending, running, waiting, error };
//   BOOST_DESCRIBE_ENUM(chat_status, pending, running, waiting, error)
//
//   struct chat {
//     std::int64_t id = 0;
//     chat_status status = chat_status::pending;
//     std::optional<std::string> last_error;          // NULL, never '', outside `error`
//     std::optional<errand::time_point> last_error_at;
//     std::int64_t version = 0;
//   };
//   BOOST_DESCRIBE_STRUCT(chat, (), (id, status, last_error, last_error_at, version))
//
//   struct chats {
//     using row = chat;
//     using machine = chat_machine;                  // ..., errand::error_states<chat_status::error>>
//     static constexpr std::string_view table_name = "chats";
//     static constexpr auto id = &chat::id;           // std::int64_t
//     static constexpr auto state = &chat::status;    // the machine's state type
//     static constexpr auto version = &chat::version; // std::int64_t, the compare-and-set token
//     static constexpr auto error_reason = &chat::last_error;   // when the machine has error states
//     static constexpr auto error_at = &chat::last_error_at;    // optional
//     static constexpr std::array columns{errand::column_name{"status", "chat_status"}};  // optional
//   };
//
// The error discipline is declared once, by error_states<...> in the machine
// and error_reason / error_at here, and the stores apply it: the event that
// enters an error state writes its reason (made storable, never empty) and the
// time; a row that leaves one is written with both NULL. What the compiler can
// check, it checks (record_traits below): every row into an error state takes
// an event that carries a reason, and the reason field can be NULL.

#include <errand/codec.hpp>
#include <errand/enum_name.hpp>
#include <errand/machine.hpp>
#include <errand/time.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace errand {

// A column of an existing table whose name differs from its field's name.
struct column_name {
  std::string_view field;
  std::string_view column;
};

// What guards and actions of a persisted machine see: the row being written
// (already a copy; a rejected event leaves the stored row alone) and the time
// the store was given.
template <class Row>
struct record_change {
  Row& row;
  time_point now;
};

// An event that carries a failure's reason: one that may enter an error state.
template <class E>
concept carries_reason = requires(const E& e) {
  { e.reason } -> std::convertible_to<std::string_view>;
};

// Where a definition keeps an event's reason when it is not a `reason`
// member: static std::string_view reason_of(const Event&) (the job
// lifecycle's `fail` holds it in error.message).
template <class D, class E>
concept reads_reason_of = requires(const E& e) {
  { D::reason_of(e) } -> std::convertible_to<std::string_view>;
};

// An event whose reason the definition D can read: one of its rows may enter an error state.
template <class D, class E>
concept reason_readable = reads_reason_of<D, E> || carries_reason<E>;

// The reason `event` carries, as D reads it.
template <class D, class E>
  requires reason_readable<D, E>
std::string_view reason_of(const E& event) {
  if constexpr (reads_reason_of<D, E>)
    return D::reason_of(event);
  else
    return event.reason;
}

template <class D>
concept record_definition = requires {
  typename D::row;
  typename D::machine;
  { D::table_name } -> std::convertible_to<std::string_view>;
  requires std::is_member_object_pointer_v<std::remove_cvref_t<decltype(D::id)>>;
  requires std::is_member_object_pointer_v<std::remove_cvref_t<decltype(D::state)>>;
  requires std::is_member_object_pointer_v<std::remove_cvref_t<decltype(D::version)>>;
};

namespace detail {

template <class M>
struct member_pointer;
template <class Class, class Field>
struct member_pointer<Field Class::*> {
  using class_type = Class;
  using field_type = Field;
};

template <auto Pointer>
using field_type_of = typename member_pointer<std::remove_cvref_t<decltype(Pointer)>>::field_type;

template <class D>
concept declares_error_reason = requires { D::error_reason; };
template <class D>
concept declares_error_at = requires { D::error_at; };
template <class D>
concept declares_columns = requires { D::columns; };

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Failing instantiations of these carry the offending table row or event in
// their template arguments, so the compiler's "required from" line names it.
template <class Row, bool CarriesReason>
struct check_error_row_has_reason {
  static_assert(CarriesReason,
                "errand: a row into an error state takes an event without a reason: give the event a "
                "'reason' member (or the record definition a reason_of(event)), so the record says why it failed");
};

template <class Event, bool Storable>
struct check_event_storable {
  static_assert(Storable,
                "errand: an event with data members must be described with BOOST_DESCRIBE_STRUCT, so its "
                "payload reaches the record's history");
};

template <class Event>
inline constexpr bool event_storable = std::is_empty_v<Event> || boost::describe::has_describe_members<Event>::value;

}  // namespace detail

// The checked facts of a record definition. Instantiating it (every record
// store does) runs the checks; a definition that breaks one does not compile.
template <record_definition D>
struct record_traits {
  using row_type = typename D::row;
  using machine_type = typename D::machine;
  using state_type = typename machine_type::state_type;

  static_assert(boost::describe::has_describe_members<row_type>::value,
                "errand: a record's row type must be described with BOOST_DESCRIBE_STRUCT");
  static_assert(std::is_same_v<typename detail::member_pointer<std::remove_cvref_t<decltype(D::id)>>::class_type,
                               row_type>,
                "errand: the record definition's id must be a field of its row type");
  static_assert(std::is_same_v<detail::field_type_of<D::id>, std::int64_t>,
                "errand: a record's id field must be a std::int64_t");
  static_assert(std::is_same_v<detail::field_type_of<D::state>, state_type>,
                "errand: a record's state field must have the machine's state type");
  static_assert(std::is_same_v<detail::field_type_of<D::version>, std::int64_t>,
                "errand: a record's version field must be a std::int64_t (the compare-and-set token)");
  static_assert(!machine_type::has_error_states || detail::declares_error_reason<D>,
                "errand: the machine has error states, so the record definition must name the field that holds "
                "the reason (static constexpr auto error_reason = &row::field)");

  static constexpr bool has_error_states = machine_type::has_error_states;

  static constexpr bool reason_field_ok() {
    if constexpr (detail::declares_error_reason<D>)
      return std::is_same_v<detail::field_type_of<D::error_reason>, std::optional<std::string>>;
    else
      return true;
  }
  static_assert(reason_field_ok(),
                "errand: the error_reason field must be a std::optional<std::string>: a row that leaves an error "
                "state is written with NULL there, never ''");

  static constexpr bool error_at_field_ok() {
    if constexpr (detail::declares_error_at<D>)
      return std::is_same_v<detail::field_type_of<D::error_at>, std::optional<time_point>>;
    else
      return true;
  }
  static_assert(error_at_field_ok(), "errand: the error_at field must be a std::optional<errand::time_point>");

  static constexpr bool rows_into_errors_carry_reasons() {
    bool ok = true;
    machine_type::for_each_row([&](auto tag) {
      using R = typename decltype(tag)::type;
      constexpr bool carries =
          !machine_type::is_error_state(R::to) || reason_readable<D, typename R::event_type>;
      ok = ok && sizeof(detail::check_error_row_has_reason<R, carries>) > 0 && carries;
    });
    return ok;
  }
  static_assert(rows_into_errors_carry_reasons());

  template <class... Events>
  static constexpr bool events_storable(boost::mp11::mp_list<Events...>) {
    return ((sizeof(detail::check_event_storable<Events, detail::event_storable<Events>>) > 0 &&
             detail::event_storable<Events>) &&
            ... && true);
  }
  static_assert(events_storable(typename machine_type::event_list{}));

  static constexpr std::string_view table = D::table_name;

  // The column that holds `field`: its name, or the one D::columns gives it.
  static constexpr std::string_view column_of(std::string_view field) {
    if constexpr (detail::declares_columns<D>)
      for (const column_name& mapped : D::columns)
        if (mapped.field == field) return mapped.column;
    return field;
  }

  static constexpr bool columns_name_fields() {
    if constexpr (detail::declares_columns<D>) {
      for (const column_name& mapped : D::columns) {
        bool found = false;
        boost::mp11::mp_for_each<boost::describe::describe_members<row_type, boost::describe::mod_public>>(
            [&](auto member) { found = found || member.name == mapped.field; });
        if (!found) return false;
      }
    }
    return true;
  }
  static_assert(columns_name_fields(), "errand: the record definition's columns name a field its row does not have");

  // The name of the field `pointer` points to.
  template <class Field>
  static constexpr std::string_view field_name(Field row_type::*pointer) {
    std::string_view name;
    boost::mp11::mp_for_each<boost::describe::describe_members<row_type, boost::describe::mod_public>>(
        [&](auto member) {
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member.pointer)>, Field row_type::*>)
            if (member.pointer == pointer) name = member.name;
        });
    return name;
  }

  static constexpr std::string_view id_field = field_name(D::id);
  static constexpr std::string_view state_field = field_name(D::state);
  static constexpr std::string_view version_field = field_name(D::version);

  static std::int64_t id(const row_type& row) { return row.*(D::id); }
  static state_type state(const row_type& row) { return row.*(D::state); }
  static std::int64_t version(const row_type& row) { return row.*(D::version); }
};

}  // namespace errand
