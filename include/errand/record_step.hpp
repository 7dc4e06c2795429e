#pragma once
// The pure half of a record store: what a create and a fire write, decided
// from the row as read, with no I/O. Every backend calls these and persists
// their result; the machine, the error discipline and the history payload
// live here once.

#include <errand/error_text.hpp>
#include <errand/record_store.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace errand {

// What fire() writes, or why it writes nothing.
template <record_definition D>
struct record_step {
  using state_type = typename D::machine::state_type;
  dispatch_result<state_type> dispatched{};  // the machine's answer (a definition's own step fills from and to)
  typename D::row next;                    // version bumped; meaningful when applied
  history_entry<state_type> entry;         // seq 0: the store assigns it
  fire_status status = dispatched ? fire_status::applied : fire_status::rejected;  // applied, duplicate or rejected
  std::string message = dispatched ? std::string() : dispatched.message();         // why, when not applied

  bool applied() const noexcept { return status == fire_status::applied; }
};

// Stands where an event entering an error state brought an empty reason.
inline constexpr std::string_view missing_reason = "no reason reported";

namespace detail {

// Whether JSON text escapes a NUL character (\u0000 whose backslash is not itself escaped).
inline bool escapes_nul(std::string_view json) {
  for (auto at = json.find("u0000"); at != std::string_view::npos; at = json.find("u0000", at + 1)) {
    std::size_t backslashes = 0;
    while (backslashes < at && json[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) return true;
  }
  return false;
}

// Text a database cannot hold is refused; so is a NUL inside a JSON field,
// which the codec reads back only up to the NUL (codec.hpp, "Limits").
template <record_definition D>
void refuse_unstorable_fields(const typename D::row& row, std::string_view what, std::string_view consequence) {
  boost::mp11::mp_for_each<public_members<typename D::row>>([&](auto member) {
    const auto value = to_column_value(row.*member.pointer);
    const auto* text = std::get_if<std::string>(&value);
    if (!text) return;
    const std::string field = std::string(what) + " field '" + std::string(member.name) + "'";
    refuse_unstorable(*text, field, consequence);
    using field_type = std::remove_cvref_t<decltype(row.*member.pointer)>;
    if constexpr (column_kind_of<field_type>() == column_kind::time) {
      const time_point at = [&] {
        if constexpr (detail::is_optional<field_type>::value)
          return *(row.*member.pointer);  // not empty: an empty one has no text
        else
          return row.*member.pointer;
      }();
      if (!storable_time(at))
        throw std::invalid_argument("errand: " + field + " is " + detail::outside_storable_years(at) + "; " +
                                    std::string(consequence));
    }
    if (column_kind_of<field_type>() == column_kind::json && escapes_nul(*text))
      throw std::invalid_argument("errand: " + field +
                                  " holds a NUL character inside its JSON, which errand's codec cannot read back; " +
                                  std::string(consequence));
  });
}

// The event as history stores it: its reason made storable, as the row holds it.
template <class Event>
concept carries_reason_string = carries_reason<Event> && requires(Event& e) {
  { e.reason } -> std::same_as<std::string&>;
};

template <class Event>
std::string history_payload(const Event& event, const std::optional<std::string>& stored_reason) {
  if constexpr (std::is_empty_v<Event>) {
    return "{}";
  } else {
    if constexpr (carries_reason_string<Event>)
      if (stored_reason) {
        Event applied = event;
        applied.reason = *stored_reason;
        return to_json(applied);
      }
    return to_json(event);
  }
}

}  // namespace detail

// A new record as create() writes it: the machine's initial state, version 1,
// no reason held. A row a store could not hold as it is (a state other than
// the initial one, text with NUL bytes or invalid UTF-8, a JSON field with a
// NUL character in it) is refused with
// std::invalid_argument, by every store alike, before anything is written.
template <record_definition D>
typename D::row new_record(typename D::row row) {
  using traits = record_traits<D>;
  using machine = typename D::machine;
  if (traits::state(row) != machine::initial)
    throw std::invalid_argument("errand: a new " + std::string(traits::table) + " record starts in state '" +
                                std::string(*name_of(machine::initial)) + "', not '" +
                                std::string(name_of(traits::state(row)).value_or("<unknown>")) +
                                "'; nothing was written");
  if (traits::id(row) < 0)
    throw std::invalid_argument("errand: a new " + std::string(traits::table) + " record has id " +
                                std::to_string(traits::id(row)) + "; give it 0 (the store assigns one) or a "
                                "positive id; nothing was written");
  detail::refuse_unstorable_fields<D>(row, "a new " + std::string(traits::table) + " record's",
                                      "nothing was written");
  row.*(D::version) = 1;
  if constexpr (detail::declares_error_reason<D>)
    if (!machine::is_error_state(machine::initial)) row.*(D::error_reason) = std::nullopt;
  if constexpr (detail::declares_error_at<D>)
    if (!machine::is_error_state(machine::initial)) row.*(D::error_at) = std::nullopt;
  return row;
}

// The history entry create() writes with a new record.
template <record_definition D>
history_entry<typename D::machine::state_type> creation_entry(const typename D::row& row, time_point now) {
  return {record_traits<D>::id(row), 0, D::machine::initial, D::machine::initial, "create", "{}", std::nullopt, now};
}

// Dispatches `event` at `current`, as read, and applies the error discipline:
// entering an error state writes the event's reason (storable, never empty)
// and `now`; any other state holds no reason (NULL). Guards and actions see a
// record_change over a copy, so a refused event changes nothing. An event
// holding text no database can store is refused with std::invalid_argument.
template <record_definition D, class Event>
record_step<D> machine_step(const typename D::row& current, const Event& event, time_point now,
                            const fire_options& options = {}) {
  using traits = record_traits<D>;
  using machine = typename D::machine;
  typename D::row next = current;
  record_change<typename D::row> change{next, now};
  const auto dispatched = machine::dispatch(traits::state(current), event, change);
  record_step<D> out{dispatched, std::move(next), {}};
  if (!dispatched) return out;

  std::optional<std::string> stored_reason;
  if constexpr (reason_readable<D, Event>)
    if (machine::is_error_state(dispatched.to)) {
      const std::string_view reason = reason_of<D>(event);
      stored_reason = reason.empty() ? std::string(missing_reason) : storable_error_text(reason);
    }
  auto& row = out.next;
  row.*(D::id) = traits::id(current);
  row.*(D::state) = dispatched.to;
  row.*(D::version) = traits::version(current) + 1;
  if constexpr (detail::declares_error_reason<D>) row.*(D::error_reason) = stored_reason;
  if constexpr (detail::declares_error_at<D>)
    row.*(D::error_at) = stored_reason ? std::optional<time_point>(now) : std::nullopt;

  std::string payload;
  try {
    payload = detail::history_payload(event, stored_reason);
  } catch (const codec_error& e) {  // a value JSON cannot hold: NaN, a time past the year 9999
    throw std::invalid_argument("errand: event '" + std::string(Event::name) + "' for " + std::string(traits::table) +
                                " record " + std::to_string(traits::id(current)) + " cannot be written as JSON (" +
                                e.what() + "); nothing was written");
  }
  if (const auto why = unstorable_reason(payload))
    throw std::invalid_argument("errand: event '" + std::string(Event::name) + "' for " +
                                std::string(traits::table) + " record " + std::to_string(traits::id(current)) +
                                " holds text a database cannot store (its JSON " + *why + "); nothing was written");
  detail::refuse_unstorable_fields<D>(row, "the " + std::string(traits::table) + " row an action wrote:",
                                      "nothing was written");
  out.entry = {traits::id(current), 0,      dispatched.from, dispatched.to, std::string(Event::name),
               std::move(payload),  options.idempotency_key, now};
  return out;
}

// A definition that decides its own transitions, as the job lifecycle does
// with decide(): it provides
//   template <class Event>
//   static errand::record_step<D> step(const row&, const Event&, errand::time_point now,
//                                      const errand::fire_options&);
template <class D, class Event>
concept decides_itself = requires(const typename D::row& row, const Event& event, time_point now,
                                  const fire_options& options) {
  { D::step(row, event, now, options) } -> std::same_as<record_step<D>>;
};

namespace detail {

// A definition's own step is held to the discipline machine_step applies:
// an error state holds a storable, non-empty reason and its time, any other
// state none. Breaking it is a bug in the definition, refused before anything is written.
template <record_definition D>
void require_error_discipline(const record_step<D>& taken) {
  using traits = record_traits<D>;
  if constexpr (declares_error_reason<D>) {
    const auto& reason = taken.next.*(D::error_reason);
    const bool in_error = D::machine::is_error_state(traits::state(taken.next));
    bool kept = in_error ? reason && !reason->empty() && !unstorable_reason(*reason) : !reason;
    if constexpr (declares_error_at<D>) kept = kept && (taken.next.*(D::error_at)).has_value() == in_error;
    if (!kept)
      throw std::logic_error("errand: the " + std::string(traits::table) + " definition's step wrote record " +
                             std::to_string(traits::id(taken.next)) + " into state '" +
                             std::string(name_of(traits::state(taken.next)).value_or("<unknown>")) +
                             (in_error ? "' without a storable reason and its time"
                                       : "' still holding a reason") +
                             "; nothing was written");
  }
}

}  // namespace detail

// What a store's fire() writes: the definition's own step when it has one,
// machine_step otherwise.
template <record_definition D, class Event>
record_step<D> step(const typename D::row& current, const Event& event, time_point now,
                    const fire_options& options = {}) {
  if constexpr (decides_itself<D, Event>) {
    auto taken = D::step(current, event, now, options);
    if (taken.applied()) detail::require_error_discipline(taken);
    return taken;
  } else {
    return machine_step<D>(current, event, now, options);
  }
}

// The result of a fire that wrote nothing because the step refused it or had
// applied it already.
template <record_definition D>
fire_result<D> rejected(const typename D::row& current, const record_step<D>& refused) {
  return {refused.status, current, std::nullopt, refused.message};
}

template <record_definition D>
fire_result<D> version_conflict(const typename D::row& current, std::int64_t expected) {
  using traits = record_traits<D>;
  return {fire_status::conflict, current, std::nullopt,
          "errand: " + std::string(traits::table) + " record " + std::to_string(traits::id(current)) +
              " is at version " + std::to_string(traits::version(current)) + ", not " + std::to_string(expected) +
              "; nothing was written"};
}

template <record_definition D>
fire_result<D> record_not_found(std::int64_t id) {
  return {fire_status::not_found, std::nullopt, std::nullopt,
          "errand: no " + std::string(record_traits<D>::table) + " record " + std::to_string(id)};
}

}  // namespace errand
