#include "errand_catch.hpp"
#include <errand/machine.hpp>

#include <string>
#include <string_view>
#include <vector>

// A door with a keypad: small, but it has every feature of the DSL: guarded
// rows tried in order, actions, a self-transition, a terminal state and an
// event that only some states take.
namespace door_example {

enum class door { closed, open, locked, broken };
BOOST_DESCRIBE_ENUM(door, closed, open, locked, broken)

struct open_door {
  static constexpr std::string_view name = "open";
};
struct close_door {
  static constexpr std::string_view name = "close";
};
struct lock {
  static constexpr std::string_view name = "lock";
  int code = 0;
};
struct unlock {
  static constexpr std::string_view name = "unlock";
  int code = 0;
};
struct kick {
  static constexpr std::string_view name = "kick";
  int force = 0;
};

struct keypad {
  int code = 0;
  int failed_unlocks = 0;
  std::vector<std::string> log;
};

struct code_matches {
  static constexpr std::string_view name = "code matches";
  bool operator()(const keypad& k, const unlock& e) const { return e.code == k.code; }
};
struct hard_enough {
  static constexpr std::string_view name = "force > 10";
  bool operator()(const keypad&, const kick& e) const { return e.force > 10; }
};

struct note_open {
  void operator()(keypad& k, const open_door&) const { k.log.push_back("opened"); }
};
struct set_code {
  void operator()(keypad& k, const lock& e) const {
    k.code = e.code;
    k.log.push_back("locked");
  }
};
struct note_unlocked {
  void operator()(keypad& k, const unlock&) const { k.log.push_back("unlocked"); }
};
struct count_failure {
  void operator()(keypad& k, const unlock&) const {
    ++k.failed_unlocks;
    k.log.push_back("wrong code");
  }
};
struct note_broken {
  void operator()(keypad& k, const kick&) const { k.log.push_back("broken"); }
};

using namespace errand;
using enum door;

using machine_type = machine<
    closed, events<open_door, close_door, lock, unlock, kick>,
    table<row<closed, open_door, open, always, note_open>,  //
          row<open, close_door, closed>,                    //
          row<closed, lock, locked, always, set_code>, row<locked, unlock, closed, code_matches, note_unlocked>,
          row<locked, unlock, locked, always, count_failure>, row<locked, kick, broken, hard_enough, note_broken>,
          row<closed, kick, broken, hard_enough, note_broken>>,
    terminal<broken>>;

}  // namespace door_example

using door_example::door;
using door_example::keypad;
using door_example::machine_type;
namespace ev = door_example;

// The constexpr queries answer at compile time; these lines are the test.
static_assert(machine_type::initial == door::closed);
static_assert(machine_type::state_count == 4);
static_assert(machine_type::row_count == 7);
static_assert(machine_type::has_event<ev::kick>);
static_assert(!machine_type::has_event<keypad>);
static_assert(machine_type::can_take<ev::open_door>(door::closed));
static_assert(!machine_type::can_take<ev::open_door>(door::open));
static_assert(!machine_type::can_take<ev::lock>(door::open));
static_assert(machine_type::can_take<ev::unlock>(door::locked));
static_assert(!machine_type::can_take<ev::unlock>(static_cast<door>(42)));
static_assert(machine_type::is_terminal(door::broken));
static_assert(!machine_type::is_terminal(door::closed));
static_assert(!machine_type::is_terminal(static_cast<door>(42)));
static_assert(machine_type::target_of<door::closed, ev::open_door>() == door::open);
static_assert(machine_type::target_of<door::open, ev::close_door>() == door::closed);
static_assert(machine_type::targets<ev::unlock>(door::locked).size == 2);
static_assert(machine_type::targets<ev::unlock>(door::locked).states[0] == door::closed);
static_assert(machine_type::targets<ev::unlock>(door::locked).states[1] == door::locked);
static_assert(machine_type::targets<ev::unlock>(door::open).size == 0);
static_assert(errand::event_name<ev::unlock> == "unlock");
static_assert(errand::event<ev::kick>);
static_assert(!errand::event<keypad>);

namespace {

enum class latch { shut, ajar };
BOOST_DESCRIBE_ENUM(latch, shut, ajar)

// A literal context, so that dispatch itself can run at compile time.
struct counter {
  int transitions = 0;
};
struct count {
  constexpr void operator()(counter& c, const auto&) const noexcept { ++c.transitions; }
};
using counting_latch =
    errand::machine<latch::shut, errand::events<ev::open_door, ev::close_door>,
                    errand::table<errand::row<latch::shut, ev::open_door, latch::ajar, errand::always, count>,
                                  errand::row<latch::ajar, ev::close_door, latch::shut, errand::always, count>>>;

constexpr int transitions_of_open_then_close() {
  counter c;
  const auto opened = counting_latch::dispatch(latch::shut, ev::open_door{}, c);
  const auto closed = counting_latch::dispatch(opened.to, ev::close_door{}, c);
  const auto refused = counting_latch::dispatch(closed.to, ev::close_door{}, c);
  return refused ? -1 : c.transitions;
}
static_assert(transitions_of_open_then_close() == 2);

}  // namespace

TEST_CASE("runtime dispatch moves to the row's target and runs its action", "[machine]") {
  keypad k;
  const auto result = machine_type::dispatch(door::closed, ev::open_door{}, k);
  CHECK(result);
  CHECK(result.accepted);
  CHECK(result.from == door::closed);
  CHECK(result.to == door::open);
  CHECK(result.event == "open");
  CHECK(result.message().empty());
  CHECK(k.log == std::vector<std::string>{"opened"});
}

TEST_CASE("a row without an action only changes state", "[machine]") {
  keypad k;
  const auto result = machine_type::dispatch(door::open, ev::close_door{}, k);
  CHECK(result);
  CHECK(result.to == door::closed);
  CHECK(k.log.empty());
}

TEST_CASE("an action reads the event's payload", "[machine]") {
  keypad k;
  const auto result = machine_type::dispatch(door::closed, ev::lock{1234}, k);
  CHECK(result.to == door::locked);
  CHECK(k.code == 1234);
}

TEST_CASE("an event the state cannot take is rejected, names both, and runs nothing", "[machine]") {
  keypad k;
  k.code = 7;
  const auto result = machine_type::dispatch(door::open, ev::lock{99}, k);
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::no_transition);
  CHECK(result.from == door::open);
  CHECK(result.to == door::open);
  CHECK(result.event == "lock");
  CHECK(result.message() == "state 'open' cannot take event 'lock'");
  CHECK(k.code == 7);
  CHECK(k.log.empty());
}

TEST_CASE("a terminal state takes nothing", "[machine]") {
  keypad k;
  const auto result = machine_type::dispatch(door::broken, ev::open_door{}, k);
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::no_transition);
  CHECK(result.message() == "state 'broken' cannot take event 'open'");
}

TEST_CASE("a value that is no enumerator is an unknown state, not undefined behaviour", "[machine]") {
  keypad k;
  const auto corrupt = static_cast<door>(42);
  const auto result = machine_type::dispatch(corrupt, ev::open_door{}, k);
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::unknown_state);
  CHECK(result.from == corrupt);
  CHECK(result.to == corrupt);
  CHECK(result.message() == "unknown state <unknown 42> cannot take event 'open'");
  CHECK(k.log.empty());

  const auto negative = machine_type::dispatch(static_cast<door>(-3), ev::kick{100}, k);
  CHECK(negative.reason == errand::rejection_reason::unknown_state);
  CHECK(negative.message() == "unknown state <unknown -3> cannot take event 'kick'");
  CHECK(k.log.empty());
}

TEST_CASE("guards are tried in row order and the first that accepts wins", "[machine]") {
  keypad k;
  k.code = 1234;

  SECTION("the first row's guard accepts: only its action runs") {
    const auto result = machine_type::dispatch(door::locked, ev::unlock{1234}, k);
    CHECK(result.to == door::closed);
    CHECK(k.failed_unlocks == 0);
    CHECK(k.log == std::vector<std::string>{"unlocked"});
  }
  SECTION("the first row's guard refuses: the next row is chosen, and only its action runs") {
    const auto result = machine_type::dispatch(door::locked, ev::unlock{1111}, k);
    CHECK(result);
    CHECK(result.to == door::locked);
    CHECK(k.failed_unlocks == 1);
    CHECK(k.log == std::vector<std::string>{"wrong code"});
  }
}

TEST_CASE("rows for other states are not considered, whatever their guards say", "[machine]") {
  keypad k;
  const auto from_locked = machine_type::dispatch(door::locked, ev::kick{50}, k);
  const auto from_closed = machine_type::dispatch(door::closed, ev::kick{50}, k);
  CHECK(from_locked.to == door::broken);
  CHECK(from_closed.to == door::broken);
  CHECK(k.log == std::vector<std::string>{"broken", "broken"});
}

TEST_CASE("every guard refusing is a rejection that names the state and the event", "[machine]") {
  keypad k;
  const auto result = machine_type::dispatch(door::closed, ev::kick{3}, k);
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::guard_rejected);
  CHECK(result.to == door::closed);
  CHECK(result.message() == "state 'closed' refused event 'kick': no guard accepted it");
  CHECK(k.log.empty());
}

TEST_CASE("a guard sees the context read-only", "[machine]") {
  struct probe {
    bool operator()(const keypad&, const ev::unlock&) const { return true; }
    bool operator()(keypad&, const ev::unlock&) const { return false; }
  };
  using probing = errand::machine<latch::shut, errand::events<ev::unlock>,
                                  errand::table<errand::row<latch::shut, ev::unlock, latch::ajar, probe>>>;
  keypad k;
  CHECK(probing::dispatch(latch::shut, ev::unlock{}, k));
}

TEST_CASE("typed dispatch from a compile-time state", "[machine]") {
  keypad k;
  k.code = 5;
  const auto result = machine_type::dispatch<door::locked>(ev::unlock{5}, k);
  CHECK(result.from == door::locked);
  CHECK(result.to == door::closed);

  // Guards still decide at run time: the typed form only proves a row exists.
  const auto refused = machine_type::dispatch<door::closed>(ev::kick{1}, k);
  CHECK_FALSE(refused);
  CHECK(refused.reason == errand::rejection_reason::guard_rejected);
}

TEST_CASE("for_each_row visits the rows in table order", "[machine]") {
  std::vector<std::string> seen;
  machine_type::for_each_row([&](auto tag) {
    using row_type = typename decltype(tag)::type;
    seen.push_back(std::string(errand::name_of(row_type::from).value()) + " " +
                   std::string(row_type::event_type::name) + " " + std::string(errand::name_of(row_type::to).value()) +
                   (row_type::guarded ? " guarded" : ""));
  });
  CHECK(seen == std::vector<std::string>{"closed open open", "open close closed", "closed lock locked",
                                         "locked unlock closed guarded", "locked unlock locked",
                                         "locked kick broken guarded", "closed kick broken guarded"});
}

TEST_CASE("a walk through the machine keeps its context across dispatches", "[machine]") {
  keypad k;
  door state = machine_type::initial;
  const auto step = [&](const auto& event) {
    const auto result = machine_type::dispatch(state, event, k);
    state = result.to;
    return result.accepted;
  };
  CHECK(step(ev::lock{42}));
  CHECK(step(ev::unlock{1}));
  CHECK(step(ev::unlock{42}));
  CHECK(step(ev::open_door{}));
  CHECK_FALSE(step(ev::kick{99}));
  CHECK(step(ev::close_door{}));
  CHECK(step(ev::kick{99}));
  CHECK(state == door::broken);
  CHECK(k.failed_unlocks == 1);
  CHECK(k.log == std::vector<std::string>{"locked", "wrong code", "unlocked", "opened", "broken"});
}
