#pragma once
// The machine DSL: a state machine is a type.
//
//   enum class light { red, green };
//   BOOST_DESCRIBE_ENUM(light, red, green)
//   struct go   { static constexpr std::string_view name = "go"; };
//   struct stop { static constexpr std::string_view name = "stop"; };
//
//   using traffic = errand::machine<light::red,
//       errand::events<go, stop>,
//       errand::table<errand::row<light::red, go, light::green>,
//                     errand::row<light::green, stop, light::red>>>;
//
// Rows are tried in order; the first whose source state and event match and
// whose guard accepts wins, and its action runs. The checks below run when the
// machine type is instantiated, so a malformed machine does not compile.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>

#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace errand {

// An event names itself: the name is what history rows and diagrams show.
template <class E>
concept event = requires {
  { E::name } -> std::convertible_to<std::string_view>;
};

// The guard of an unguarded row.
struct always {
  static constexpr std::string_view name = "";
  constexpr bool operator()(const auto&, const auto&) const noexcept { return true; }
};

// The action of a row that only changes state.
struct no_action {
  constexpr void operator()(auto&, const auto&) const noexcept {}
};

// Guards are called as Guard{}(const Context&, const Event&) -> bool,
// actions as Action{}(Context&, const Event&).
template <auto From, event Event, auto To, class Guard = always, class Action = no_action>
struct row {
  static_assert(std::is_same_v<decltype(From), decltype(To)>,
                "errand: a row's source and target must be the same state type");
  using state_type = decltype(From);
  using event_type = Event;
  using guard_type = Guard;
  using action_type = Action;
  static constexpr state_type from = From;
  static constexpr state_type to = To;
  static constexpr bool guarded = !std::is_same_v<Guard, always>;
};

template <class... Rows>
struct table {};

template <event... Events>
struct events {};

template <auto... States>
struct terminal {};

// The states whose rows hold a failure's reason. A record store writes the
// reason of the event that enters one and clears it (to NULL) when a row
// leaves one (docs/writing-a-machine.md, "Persisting it").
template <auto... States>
struct error_states {};

enum class rejection_reason {
  unknown_state,  // the value is not an enumerator (a corrupt or foreign row)
  no_transition,  // no row leaves this state on this event
  guard_rejected  // rows exist, but every guard said no
};

template <class State>
struct dispatch_result {
  State from;
  State to;
  std::string_view event;
  bool accepted;
  rejection_reason reason;

  explicit constexpr operator bool() const noexcept { return accepted; }

  // "state 'succeeded' cannot take event 'claim'": names both, whatever went wrong.
  std::string message() const {
    if (accepted) return {};
    const auto state_name = name_of(from);
    const std::string state =
        state_name ? detail::quoted(*state_name) : "<unknown " + std::to_string(static_cast<long long>(from)) + ">";
    const std::string event_name = detail::quoted(event);
    switch (reason) {
      case rejection_reason::unknown_state:
        return "unknown state " + state + " cannot take event " + event_name;
      case rejection_reason::guard_rejected:
        return "state " + state + " refused event " + event_name + ": no guard accepted it";
      case rejection_reason::no_transition:
        break;
    }
    return "state " + state + " cannot take event " + event_name;
  }
};

namespace detail {

template <class Event>
struct takes {
  template <class Row>
  using fn = std::is_same<typename Row::event_type, Event>;
};

template <class Rows, class Event>
using rows_for = boost::mp11::mp_filter_q<takes<Event>, Rows>;

// Failing instantiations of these carry the offending state or event in their
// template arguments, so the compiler's "required from" line names it.
template <auto State, bool Reachable>
struct check_reachable {
  static_assert(Reachable, "errand: a state is unreachable from the initial state");
};

template <class Event, bool Handled>
struct check_handled {
  static_assert(Handled, "errand: an event type is handled by no row");
};

template <class Row, bool Listed>
struct check_listed {
  static_assert(Listed, "errand: a row's event is not in the machine's events<...>");
};

template <auto State, bool Leaves>
struct check_terminal {
  static_assert(!Leaves, "errand: a row leaves a state declared terminal");
};

template <class RowA, class RowB, bool Duplicate>
struct check_unique {
  static_assert(!Duplicate, "errand: two unguarded rows for the same (state, event)");
};

// An unguarded row always accepts, so a guarded row after it for the same
// (state, event) is dead: the guard can never be asked.
template <class UnguardedRow, class LaterRow, bool Shadowed>
struct check_not_shadowed {
  static_assert(!Shadowed, "errand: a guarded row after an unguarded row for the same (state, event) is never tried");
};

// All the table's checks, evaluated when a machine type is instantiated.
template <auto Initial, class Events, class Table, class Terminal>
struct checks;

template <auto Initial, class... Events, class... Rows, auto... Terminals>
struct checks<Initial, events<Events...>, table<Rows...>, terminal<Terminals...>> {
  using state_type = decltype(Initial);
  using row_list = boost::mp11::mp_list<Rows...>;
  static constexpr std::size_t state_count = enumerator_count<state_type>;

  template <class Event>
  static constexpr bool listed = (std::is_same_v<Event, Events> || ...);

  template <class Event>
  static constexpr bool handled = (std::is_same_v<typename Rows::event_type, Event> || ...);

  static constexpr bool terminal_state([[maybe_unused]] state_type s) { return ((s == Terminals) || ...); }

  static constexpr std::array<bool, state_count> reachable() {
    std::array<bool, state_count> seen{};
    seen[*enumerator_index(Initial)] = true;
    for (bool grew = true; grew;) {
      grew = false;
      auto visit = [&](state_type from, state_type to) {
        const auto f = enumerator_index(from), t = enumerator_index(to);
        if (f && t && seen[*f] && !seen[*t]) seen[*t] = grew = true;
      };
      (visit(Rows::from, Rows::to), ...);
    }
    return seen;
  }

  template <class A, class B>
  static constexpr bool same_trigger =
      A::from == B::from && std::is_same_v<typename A::event_type, typename B::event_type>;

  template <class A, class B>
  static constexpr bool duplicate = same_trigger<A, B> && !A::guarded && !B::guarded;

  template <class Earlier, class Later>
  static constexpr bool shadowed = same_trigger<Earlier, Later> && !Earlier::guarded && Later::guarded;

  template <std::size_t I>
  using row_at = boost::mp11::mp_at_c<row_list, I>;

  template <class A, class B>
  static constexpr bool pair_ok =
      sizeof(check_unique<A, B, duplicate<A, B>>) && sizeof(check_not_shadowed<A, B, shadowed<A, B>>);

  template <std::size_t I, std::size_t... J>
  static constexpr bool unique_after(std::index_sequence<J...>) {
    return (pair_ok<row_at<I>, row_at<I + 1 + J>> && ... && true);
  }
  template <std::size_t... I>
  static constexpr bool unique(std::index_sequence<I...>) {
    return (unique_after<I>(std::make_index_sequence<sizeof...(Rows) - I - 1>{}) && ... && true);
  }

  template <std::size_t... I>
  static constexpr bool all_reachable(std::index_sequence<I...>) {
    constexpr auto seen = reachable();
    constexpr auto values = enumerators<state_type>();
    return (sizeof(check_reachable<values[I], seen[I]>) && ...);
  }

  static constexpr bool value =
      (sizeof(check_listed<Rows, listed<typename Rows::event_type>>) && ... && true) &&
      (sizeof(check_handled<Events, handled<Events>>) && ... && true) &&
      (sizeof(check_terminal<Rows::from, terminal_state(Rows::from)>) && ... && true) &&
      unique(std::make_index_sequence<sizeof...(Rows)>{}) && all_reachable(std::make_index_sequence<state_count>{});
};

template <auto Initial, class Events, class Table, class Terminal>
constexpr bool well_formed() {
  return checks<Initial, Events, Table, Terminal>::value;
}

}  // namespace detail

template <auto Initial, class Events, class Table, class Terminal = terminal<>, class Errors = error_states<>>
struct machine;

template <auto Initial, event... Events, class... Rows, auto... Terminals, auto... Errors>
struct machine<Initial, events<Events...>, table<Rows...>, terminal<Terminals...>, error_states<Errors...>> {
  using state_type = decltype(Initial);
  using event_list = boost::mp11::mp_list<Events...>;
  using row_list = boost::mp11::mp_list<Rows...>;

  static_assert(described_enum<state_type>, "errand: states must be an enum described with BOOST_DESCRIBE_ENUM");
  static_assert((std::is_same_v<typename Rows::state_type, state_type> && ...),
                "errand: every row must use the machine's state type");
  static_assert((std::is_same_v<decltype(Terminals), state_type> && ...),
                "errand: terminal<...> must list the machine's states");
  static_assert((std::is_same_v<decltype(Errors), state_type> && ...),
                "errand: error_states<...> must list the machine's states");

  static constexpr state_type initial = Initial;
  static constexpr std::size_t state_count = enumerator_count<state_type>;
  static constexpr std::size_t row_count = sizeof...(Rows);

  static constexpr bool is_terminal([[maybe_unused]] state_type s) noexcept { return ((s == Terminals) || ...); }
  static constexpr bool is_error_state([[maybe_unused]] state_type s) noexcept { return ((s == Errors) || ...); }
  static constexpr bool has_error_states = sizeof...(Errors) > 0;
  static constexpr std::array<state_type, sizeof...(Errors)> error_state_list{Errors...};

  template <class Event>
  static constexpr bool has_event = (std::is_same_v<Event, Events> || ...);

  // Can `from` take `Event` at all (ignoring guards)?
  template <class Event>
  static constexpr bool can_take([[maybe_unused]] state_type from) noexcept {
    return ((std::is_same_v<typename Rows::event_type, Event> && Rows::from == from) || ...);
  }

  // The states `Event` can lead to from `from`, in row order (guards decide which).
  template <class Event>
  struct target_set {
    std::array<state_type, sizeof...(Rows) == 0 ? 1 : sizeof...(Rows)> states{};
    std::size_t size = 0;
    constexpr const state_type* begin() const noexcept { return states.data(); }
    constexpr const state_type* end() const noexcept { return states.data() + size; }
  };
  template <class Event>
  static constexpr target_set<Event> targets([[maybe_unused]] state_type from) noexcept {
    target_set<Event> out{};
    ((std::is_same_v<typename Rows::event_type, Event> && Rows::from == from ? (void)(out.states[out.size++] = Rows::to)
                                                                             : void()),
     ...);
    return out;
  }

  // The states `Event` can leave (ignoring guards), in enumerator order.
  template <class Event>
  static constexpr auto states_taking() {
    constexpr auto all = enumerators<state_type>();
    constexpr std::size_t count = [] {
      std::size_t n = 0;
      for (const state_type s : enumerators<state_type>()) n += can_take<Event>(s) ? 1 : 0;
      return n;
    }();
    std::array<state_type, count> out{};
    std::size_t i = 0;
    for (const state_type s : all)
      if (can_take<Event>(s)) out[i++] = s;
    return out;
  }

  // Calls f(row_tag) for each row, in order; Row is decltype(tag)::type.
  template <class F>
  static constexpr void for_each_row(F&& f) {
    boost::mp11::mp_for_each<boost::mp11::mp_transform<boost::mp11::mp_identity, row_list>>(f);
  }

  // Runtime dispatch from a state read off a row.
  template <class Event, class Context>
  static constexpr dispatch_result<state_type> dispatch(state_type from, const Event& e, Context& context) {
    static_assert(has_event<Event>, "errand: this event is not one of the machine's events");
    dispatch_result<state_type> result{from, from, Event::name, false, rejection_reason::no_transition};
    using candidates = detail::rows_for<row_list, Event>;
    bool matched_state = false;
    boost::mp11::mp_for_each<boost::mp11::mp_transform<boost::mp11::mp_identity, candidates>>([&](auto tag) {
      using R = typename decltype(tag)::type;
      if (result.accepted || R::from != from) return;
      matched_state = true;
      if (typename R::guard_type{}(std::as_const(context), e)) {
        typename R::action_type{}(context, e);
        result.to = R::to;
        result.accepted = true;
      }
    });
    if (!result.accepted)
      result.reason = !enumerator_index(from) ? rejection_reason::unknown_state
                      : matched_state         ? rejection_reason::guard_rejected
                                              : rejection_reason::no_transition;
    return result;
  }

  // Dispatch from a state known at compile time: a transition the table does
  // not have is a compile error rather than a runtime rejection.
  template <state_type From, class Event, class Context>
  static constexpr dispatch_result<state_type> dispatch(const Event& e, Context& context) {
    static_assert(can_take<Event>(From), "errand: illegal transition: no row takes this event from this state");
    return dispatch(From, e, context);
  }

  // The one target of an unguarded transition known at compile time.
  template <state_type From, class Event>
  static constexpr state_type target_of() {
    static_assert(can_take<Event>(From), "errand: illegal transition: no row takes this event from this state");
    constexpr auto set = targets<Event>(From);
    static_assert(set.size == 1, "errand: target_of needs exactly one row; use dispatch for guarded choices");
    return set.states[0];
  }

  static_assert(detail::well_formed<Initial, events<Events...>, table<Rows...>, terminal<Terminals...>>());
};

// The stable name of an event type.
template <event E>
inline constexpr std::string_view event_name = E::name;

}  // namespace errand
