// The chat turns bug report (docs/examples.md), written as a user of errand
// would write it: a chat service whose turns run on workers. Its bug was that
// the reason a chat went to `error` lived only in an ephemeral event stream;
// the fix stored it in a nullable `last_error`, set on the two error paths
// (panic recovery, processing failure) and cleared by every other status
// change. Here that rule is part of
// the machine: error rows record, every other row clears, and a test reads the
// table to prove no row was forgotten.
#include "errand_catch.hpp"
#include <errand/clock.hpp>
#include <errand/diagram.hpp>
#include <errand/machine.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

using namespace std::chrono_literals;

enum class chat_state { pending, running, waiting, error };
BOOST_DESCRIBE_ENUM(chat_state, pending, running, waiting, error)

// A user's message queues a turn (new chat, follow-up, edit, retry after an error).
struct user_message {
  static constexpr std::string_view name = "user_message";
  std::string text;
};
// A worker acquires the pending chat.
struct acquire {
  static constexpr std::string_view name = "acquire";
  std::string worker;
};
// The turn finished; the chat waits for the user.
struct turn_done {
  static constexpr std::string_view name = "turn_done";
};
// The user interrupted the running turn.
struct interrupt {
  static constexpr std::string_view name = "interrupt";
};
// runChat returned an error.
struct processing_failed {
  static constexpr std::string_view name = "processing_failed";
  std::string reason;
};
// The turn panicked and the worker recovered.
struct panicked {
  static constexpr std::string_view name = "panicked";
  std::string reason;
};
// The stale-chat sweep found a running chat whose worker stopped heartbeating.
struct stale_sweep {
  static constexpr std::string_view name = "stale_sweep";
};

// The row, as the chats table holds it.
struct chat_row {
  chat_state status = chat_state::pending;
  std::optional<std::string> worker;
  std::optional<errand::time_point> started_at;
  std::optional<errand::time_point> heartbeat_at;
  std::optional<std::string> last_error;  // NULL, never '', when there is none
  std::vector<std::string> messages;
};

struct chat_update {
  chat_row& chat;
  errand::time_point now;
  errand::duration stale_after = 5min;
};

struct heartbeat_stale {
  static constexpr std::string_view name = "heartbeat older than stale_after";
  bool operator()(const chat_update& u, const stale_sweep&) const {
    return !u.chat.heartbeat_at || *u.chat.heartbeat_at + u.stale_after < u.now;
  }
};

inline void release_worker(chat_update& u) {
  u.chat.worker.reset();
  u.chat.started_at.reset();
  u.chat.heartbeat_at.reset();
}

// Every row that does not lead to `error` runs a `clear_error` action...
struct clear_error {
  void operator()(chat_update& u, const user_message& e) const {
    u.chat.last_error.reset();
    u.chat.messages.push_back(e.text);
  }
  void operator()(chat_update& u, const acquire& e) const {
    u.chat.last_error.reset();
    u.chat.worker = e.worker;
    u.chat.started_at = u.chat.heartbeat_at = u.now;
  }
  template <class Event>
  void operator()(chat_update& u, const Event&) const {
    u.chat.last_error.reset();
    release_worker(u);
  }
};

// ...and every row that does runs `record_error`, which never stores ''.
struct record_error {
  template <class Event>
  void operator()(chat_update& u, const Event& e) const {
    release_worker(u);
    u.chat.last_error = e.reason.empty() ? std::string("no reason reported") : e.reason;
  }
};

using enum chat_state;
using machine_type = errand::machine<
    pending, errand::events<user_message, acquire, turn_done, interrupt, processing_failed, panicked, stale_sweep>,
    errand::table<errand::row<pending, user_message, pending, errand::always, clear_error>,
                  errand::row<waiting, user_message, pending, errand::always, clear_error>,
                  errand::row<error, user_message, pending, errand::always, clear_error>,
                  errand::row<pending, acquire, running, errand::always, clear_error>,
                  errand::row<running, turn_done, waiting, errand::always, clear_error>,
                  errand::row<running, interrupt, waiting, errand::always, clear_error>,
                  errand::row<running, processing_failed, error, errand::always, record_error>,
                  errand::row<running, panicked, error, errand::always, record_error>,
                  errand::row<running, stale_sweep, pending, heartbeat_stale, clear_error>>>;

// The bug report's processChat: run the turn, and whatever happens, end it with one
// transition: a panic and a failure are both recorded as the error.
inline errand::dispatch_result<chat_state> process(chat_row& chat, errand::time_point now,
                                                   const std::function<std::optional<std::string>()>& run_turn) {
  chat_update update{chat, now};
  const auto end_turn = [&]() -> errand::dispatch_result<chat_state> {
    try {
      if (const auto failure = run_turn()) return machine_type::dispatch<running>(processing_failed{*failure}, update);
    } catch (const std::exception& e) {
      return machine_type::dispatch<running>(panicked{std::string("panic: ") + e.what()}, update);
    } catch (...) {
      return machine_type::dispatch<running>(panicked{"panic: a non-standard exception"}, update);
    }
    return machine_type::dispatch<running>(turn_done{}, update);
  };
  const auto result = end_turn();
  if (result) chat.status = result.to;
  return result;
}

}  // namespace chat

using chat::chat_row;
using chat::chat_state;
using chat::chat_update;
using chat::machine_type;

namespace {

// The rule of the bug report, read off the table: a row leads to `error` exactly when
// its action records the error. A row added later that forgets fails here.
template <class Row>
constexpr bool keeps_the_error_rule =
    (Row::to == chat_state::error) == std::is_same_v<typename Row::action_type, chat::record_error> &&
    (Row::to == chat_state::error) != std::is_same_v<typename Row::action_type, chat::clear_error>;

template <class... Rows>
constexpr bool all_keep_the_error_rule(boost::mp11::mp_list<Rows...>) {
  return (keeps_the_error_rule<Rows> && ...);
}
static_assert(all_keep_the_error_rule(machine_type::row_list{}));

// Only a running chat can fail, and only a running chat is swept.
static_assert(machine_type::can_take<chat::processing_failed>(chat_state::running));
static_assert(!machine_type::can_take<chat::processing_failed>(chat_state::waiting));
static_assert(!machine_type::can_take<chat::stale_sweep>(chat_state::waiting));
static_assert(!machine_type::can_take<chat::stale_sweep>(chat_state::error));
static_assert(machine_type::target_of<chat_state::running, chat::panicked>() == chat_state::error);
static_assert(machine_type::target_of<chat_state::error, chat::user_message>() == chat_state::pending);

struct fixture {
  errand::manual_clock clock;
  chat_row chat;

  errand::dispatch_result<chat_state> send(const auto& event) {
    chat_update update{chat, clock.now()};
    const auto result = machine_type::dispatch(chat.status, event, update);
    if (result) chat.status = result.to;
    return result;
  }

  void start_turn() {
    REQUIRE(send(chat::user_message{"hello"}));
    REQUIRE(send(chat::acquire{"worker-1"}));
    REQUIRE(chat.status == chat_state::running);
  }
};

}  // namespace

TEST_CASE("a failed turn stores its reason, and the next message clears it", "[chat][scenario]") {
  fixture f;
  f.start_turn();

  const auto failed = chat::process(f.chat, f.clock.now(), [] {
    return std::optional<std::string>("stream response: status 500: internal server error");
  });
  REQUIRE(failed);
  CHECK(f.chat.status == chat_state::error);
  CHECK(f.chat.last_error == "stream response: status 500: internal server error");
  CHECK_FALSE(f.chat.worker.has_value());

  REQUIRE(f.send(chat::user_message{"try again"}));
  CHECK(f.chat.status == chat_state::pending);
  CHECK_FALSE(f.chat.last_error.has_value());
}

TEST_CASE("a panic in a turn is recovered and stored as the error", "[chat][scenario]") {
  fixture f;
  f.start_turn();

  const auto panicked =
      chat::process(f.chat, f.clock.now(), []() -> std::optional<std::string> { throw std::runtime_error("nil map"); });
  REQUIRE(panicked);
  CHECK(panicked.event == "panicked");
  CHECK(f.chat.status == chat_state::error);
  CHECK(f.chat.last_error == "panic: nil map");
}

TEST_CASE("a turn that throws something that is no std::exception is still recorded", "[chat][scenario]") {
  fixture f;
  f.start_turn();
  chat::process(f.chat, f.clock.now(), []() -> std::optional<std::string> { throw 42; });
  CHECK(f.chat.status == chat_state::error);
  CHECK(f.chat.last_error == "panic: a non-standard exception");
}

TEST_CASE("an error without a message is stored as 'no reason reported', never ''", "[chat][scenario]") {
  fixture f;
  f.start_turn();
  REQUIRE(f.send(chat::processing_failed{""}));
  CHECK(f.chat.last_error == "no reason reported");
}

TEST_CASE("a clean turn ends waiting, with no stale error from an earlier turn", "[chat][scenario]") {
  fixture f;
  f.start_turn();
  REQUIRE(f.send(chat::panicked{"panic: boom"}));
  REQUIRE(f.send(chat::user_message{"again"}));
  REQUIRE(f.send(chat::acquire{"worker-2"}));

  const auto done = chat::process(f.chat, f.clock.now(), [] { return std::optional<std::string>(); });
  REQUIRE(done);
  CHECK(f.chat.status == chat_state::waiting);
  CHECK_FALSE(f.chat.last_error.has_value());
}

TEST_CASE("every non-error transition clears last_error", "[chat][scenario]") {
  // Start each transition from its source state with an error already set;
  // the table itself lists the transitions, so none is left out.
  std::size_t checked = 0;
  machine_type::for_each_row([&](auto tag) {
    using row_type = typename decltype(tag)::type;
    using event_type = typename row_type::event_type;
    chat_row row;
    row.status = row_type::from;
    row.last_error = "an earlier failure";
    chat_update update{row, errand::time_point{} + std::chrono::hours{1}};
    const auto result = machine_type::dispatch(row.status, event_type{}, update);
    INFO("row " << *errand::name_of(row_type::from) << " --" << event_type::name << "--> "
                << *errand::name_of(row_type::to));
    REQUIRE(result);
    CHECK(result.to == row_type::to);
    if (row_type::to == chat_state::error)
      CHECK(row.last_error == "no reason reported");
    else
      CHECK_FALSE(row.last_error.has_value());
    ++checked;
  });
  CHECK(checked == machine_type::row_count);
}

TEST_CASE("the stale sweep recovers a running chat whose heartbeat is old", "[chat][scenario]") {
  fixture f;
  f.start_turn();

  f.clock.advance(std::chrono::minutes{4});
  const auto fresh = f.send(chat::stale_sweep{});
  CHECK_FALSE(fresh);
  CHECK(fresh.reason == errand::rejection_reason::guard_rejected);
  CHECK(fresh.message() == "state 'running' refused event 'stale_sweep': no guard accepted it");
  CHECK(f.chat.status == chat_state::running);
  CHECK(f.chat.worker == "worker-1");

  f.clock.advance(std::chrono::minutes{2});
  REQUIRE(f.send(chat::stale_sweep{}));
  CHECK(f.chat.status == chat_state::pending);
  CHECK_FALSE(f.chat.worker.has_value());
  CHECK_FALSE(f.chat.heartbeat_at.has_value());
}

TEST_CASE("the stale sweep leaves waiting and errored chats alone", "[chat][scenario]") {
  fixture f;
  f.start_turn();
  REQUIRE(f.send(chat::turn_done{}));
  f.clock.advance(std::chrono::hours{24});

  const auto waiting = f.send(chat::stale_sweep{});
  CHECK_FALSE(waiting);
  CHECK(waiting.message() == "state 'waiting' cannot take event 'stale_sweep'");
  CHECK(f.chat.status == chat_state::waiting);

  REQUIRE(f.send(chat::user_message{"more"}));
  REQUIRE(f.send(chat::acquire{"worker-3"}));
  REQUIRE(f.send(chat::processing_failed{"model unavailable"}));
  const auto errored = f.send(chat::stale_sweep{});
  CHECK_FALSE(errored);
  CHECK(f.chat.status == chat_state::error);
  CHECK(f.chat.last_error == "model unavailable");
}

TEST_CASE("a status read off a row that the machine does not know is rejected, naming it", "[chat][scenario]") {
  fixture f;
  f.chat.status = static_cast<chat_state>(9);
  f.chat.last_error = "kept";
  const auto result = f.send(chat::acquire{"worker-1"});
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::unknown_state);
  CHECK(result.message() == "unknown state <unknown 9> cannot take event 'acquire'");
  CHECK(f.chat.last_error == "kept");
  CHECK_FALSE(f.chat.worker.has_value());
}

TEST_CASE("typed dispatch: the source state is known, so only legal events compile", "[chat][scenario]") {
  chat_row row;
  chat_update update{row, errand::time_point{}};
  const auto acquired = machine_type::dispatch<chat_state::pending>(chat::acquire{"worker-9"}, update);
  CHECK(acquired.to == chat_state::running);
  CHECK(row.worker == "worker-9");
  const auto interrupted = machine_type::dispatch<chat_state::running>(chat::interrupt{}, update);
  CHECK(interrupted.to == chat_state::waiting);
  CHECK_FALSE(row.worker.has_value());
}

TEST_CASE("the chat machine draws itself", "[chat][scenario][diagram]") {
  CHECK(errand::to_mermaid<machine_type>() ==
        "stateDiagram-v2\n"
        "    [*] --> pending\n"
        "    pending --> pending : user_message\n"
        "    waiting --> pending : user_message\n"
        "    error --> pending : user_message\n"
        "    pending --> running : acquire\n"
        "    running --> waiting : turn_done\n"
        "    running --> waiting : interrupt\n"
        "    running --> error : processing_failed\n"
        "    running --> error : panicked\n"
        "    running --> pending : stale_sweep [heartbeat older than stale_after]\n");
}
