#pragma once
// The machines the record conformance suite persists on every backend: a
// chat (strings, optional times, a guarded row, one error state), a work
// order (integers, a real number, a boolean, optional times, an enum payload,
// terminal states) and a deployment (two error states, one entered from the
// other). Each is a record definition as an application would write it.

#include <errand/machine.hpp>
#include <errand/record.hpp>
#include <errand/time.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace errand::conformance {

// --- chats ---------------------------------------------------------------

enum class chat_status { pending, running, waiting, error };
BOOST_DESCRIBE_ENUM(chat_status, pending, running, waiting, error)

struct chat {
  std::int64_t id = 0;
  chat_status status = chat_status::pending;
  std::string title;
  std::optional<std::string> worker;
  std::optional<time_point> heartbeat_at;
  std::optional<std::string> last_error;
  std::optional<time_point> last_error_at;
  std::int64_t version = 0;
  friend bool operator==(const chat&, const chat&) = default;
};
BOOST_DESCRIBE_STRUCT(chat, (), (id, status, title, worker, heartbeat_at, last_error, last_error_at, version))

namespace chat_events {
struct user_message {
  static constexpr std::string_view name = "user_message";
  std::string text;
};
BOOST_DESCRIBE_STRUCT(user_message, (), (text))
struct acquire {
  static constexpr std::string_view name = "acquire";
  std::string worker;
};
BOOST_DESCRIBE_STRUCT(acquire, (), (worker))
struct turn_done {
  static constexpr std::string_view name = "turn_done";
};
struct processing_failed {
  static constexpr std::string_view name = "processing_failed";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(processing_failed, (), (reason))
struct stale_sweep {
  static constexpr std::string_view name = "stale_sweep";
};

struct take {
  void operator()(record_change<chat>& c, const acquire& e) const {
    c.row.worker = e.worker;
    c.row.heartbeat_at = c.now;
  }
};
struct let_go {
  template <class Event>
  void operator()(record_change<chat>& c, const Event&) const {
    c.row.worker.reset();
    c.row.heartbeat_at.reset();
  }
};
struct heartbeat_stale {
  static constexpr std::string_view name = "no heartbeat for 5 minutes";
  bool operator()(const record_change<chat>& c, const stale_sweep&) const {
    return !c.row.heartbeat_at || *c.row.heartbeat_at + std::chrono::minutes{5} < c.now;
  }
};
}  // namespace chat_events

struct chats {
  using row = chat;
  using machine = errand::machine<
      chat_status::pending,
      events<chat_events::user_message, chat_events::acquire, chat_events::turn_done, chat_events::processing_failed,
             chat_events::stale_sweep>,
      table<errand::row<chat_status::pending, chat_events::user_message, chat_status::pending>,
            errand::row<chat_status::waiting, chat_events::user_message, chat_status::pending>,
            errand::row<chat_status::error, chat_events::user_message, chat_status::pending>,
            errand::row<chat_status::pending, chat_events::acquire, chat_status::running, always, chat_events::take>,
            errand::row<chat_status::running, chat_events::turn_done, chat_status::waiting, always,
                        chat_events::let_go>,
            errand::row<chat_status::running, chat_events::processing_failed, chat_status::error, always,
                        chat_events::let_go>,
            errand::row<chat_status::running, chat_events::stale_sweep, chat_status::pending,
                        chat_events::heartbeat_stale, chat_events::let_go>>,
      terminal<>, error_states<chat_status::error>>;
  static constexpr std::string_view table_name = "conformance_chats";
  static constexpr auto id = &chat::id;
  static constexpr auto state = &chat::status;
  static constexpr auto version = &chat::version;
  static constexpr auto error_reason = &chat::last_error;
  static constexpr auto error_at = &chat::last_error_at;
};

// --- work orders -----------------------------------------------------------

enum class order_state { open, scheduled, in_progress, on_hold, done, cancelled };
BOOST_DESCRIBE_ENUM(order_state, open, scheduled, in_progress, on_hold, done, cancelled)

enum class crew_kind { general, electrical, plumbing };
BOOST_DESCRIBE_ENUM(crew_kind, general, electrical, plumbing)

struct work_order {
  std::int64_t id = 0;
  order_state state = order_state::open;
  std::int32_t priority = 0;
  std::optional<std::int64_t> estimate_minutes;
  std::optional<time_point> due;
  std::optional<crew_kind> crew;
  double cost = 0.0;
  bool urgent = false;
  std::optional<std::string> hold_reason;
  std::optional<time_point> held_at;
  std::int64_t lock_version = 0;
  friend bool operator==(const work_order&, const work_order&) = default;
};
BOOST_DESCRIBE_STRUCT(work_order, (),
                      (id, state, priority, estimate_minutes, due, crew, cost, urgent, hold_reason, held_at,
                       lock_version))

namespace order_events {
struct schedule {
  static constexpr std::string_view name = "schedule";
  time_point due{};
  crew_kind crew = crew_kind::general;
};
BOOST_DESCRIBE_STRUCT(schedule, (), (due, crew))
struct start {
  static constexpr std::string_view name = "start";
};
struct hold {
  static constexpr std::string_view name = "hold";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(hold, (), (reason))
struct resume {
  static constexpr std::string_view name = "resume";
};
struct complete {
  static constexpr std::string_view name = "complete";
  double cost = 0.0;
};
BOOST_DESCRIBE_STRUCT(complete, (), (cost))
struct cancel {
  static constexpr std::string_view name = "cancel";
  std::string why;
};
BOOST_DESCRIBE_STRUCT(cancel, (), (why))

struct plan {
  void operator()(record_change<work_order>& c, const schedule& e) const {
    c.row.due = e.due;
    c.row.crew = e.crew;
  }
};
struct bill {
  void operator()(record_change<work_order>& c, const complete& e) const { c.row.cost = e.cost; }
};
}  // namespace order_events

struct work_orders {
  using row = work_order;
  using machine = errand::machine<
      order_state::open,
      events<order_events::schedule, order_events::start, order_events::hold, order_events::resume,
             order_events::complete, order_events::cancel>,
      table<errand::row<order_state::open, order_events::schedule, order_state::scheduled, always, order_events::plan>,
            errand::row<order_state::scheduled, order_events::start, order_state::in_progress>,
            errand::row<order_state::in_progress, order_events::hold, order_state::on_hold>,
            errand::row<order_state::on_hold, order_events::resume, order_state::in_progress>,
            errand::row<order_state::in_progress, order_events::complete, order_state::done, always,
                        order_events::bill>,
            errand::row<order_state::open, order_events::cancel, order_state::cancelled>,
            errand::row<order_state::scheduled, order_events::cancel, order_state::cancelled>,
            errand::row<order_state::on_hold, order_events::cancel, order_state::cancelled>>,
      terminal<order_state::done, order_state::cancelled>, error_states<order_state::on_hold>>;
  static constexpr std::string_view table_name = "conformance_work_orders";
  static constexpr auto id = &work_order::id;
  static constexpr auto state = &work_order::state;
  static constexpr auto version = &work_order::lock_version;
  static constexpr auto error_reason = &work_order::hold_reason;
  static constexpr auto error_at = &work_order::held_at;
  // As an existing table would name them.
  static constexpr std::array columns{column_name{"state", "order_status"}, column_name{"hold_reason", "on_hold_because"}};
};

// --- deployments -----------------------------------------------------------

enum class deployment_state { queued, deploying, live, rolled_back, failed };
BOOST_DESCRIBE_ENUM(deployment_state, queued, deploying, live, rolled_back, failed)

struct deployment {
  std::int64_t id = 0;
  std::string service;
  std::string revision;
  deployment_state state = deployment_state::queued;
  std::int32_t attempts = 0;
  std::optional<std::string> failure;
  std::int64_t version = 0;
  friend bool operator==(const deployment&, const deployment&) = default;
};
BOOST_DESCRIBE_STRUCT(deployment, (), (id, service, revision, state, attempts, failure, version))

namespace deployment_events {
struct deploy {
  static constexpr std::string_view name = "deploy";
};
struct went_live {
  static constexpr std::string_view name = "went_live";
};
struct health_check_failed {
  static constexpr std::string_view name = "health_check_failed";
  std::string reason;
  std::int32_t failing_probes = 0;
};
BOOST_DESCRIBE_STRUCT(health_check_failed, (), (reason, failing_probes))
struct crashed {
  static constexpr std::string_view name = "crashed";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(crashed, (), (reason))
struct retry {
  static constexpr std::string_view name = "retry";
};

struct count_attempt {
  void operator()(record_change<deployment>& c, const deploy&) const { ++c.row.attempts; }
};
}  // namespace deployment_events

struct deployments {
  using row = deployment;
  using machine = errand::machine<
      deployment_state::queued,
      events<deployment_events::deploy, deployment_events::went_live, deployment_events::health_check_failed,
             deployment_events::crashed, deployment_events::retry>,
      table<errand::row<deployment_state::queued, deployment_events::deploy, deployment_state::deploying, always,
                        deployment_events::count_attempt>,
            errand::row<deployment_state::deploying, deployment_events::went_live, deployment_state::live>,
            errand::row<deployment_state::deploying, deployment_events::health_check_failed,
                        deployment_state::rolled_back>,
            errand::row<deployment_state::deploying, deployment_events::crashed, deployment_state::failed>,
            errand::row<deployment_state::rolled_back, deployment_events::crashed, deployment_state::failed>,
            errand::row<deployment_state::rolled_back, deployment_events::retry, deployment_state::queued>>,
      terminal<deployment_state::live, deployment_state::failed>,
      error_states<deployment_state::rolled_back, deployment_state::failed>>;
  static constexpr std::string_view table_name = "conformance_deployments";
  static constexpr auto id = &deployment::id;
  static constexpr auto state = &deployment::state;
  static constexpr auto version = &deployment::version;
  static constexpr auto error_reason = &deployment::failure;
};

}  // namespace errand::conformance
