#pragma once
// The canonical job lifecycle, written with the machine DSL.
//
//   pending ──claim──▶ running ──succeed──▶ succeeded
//      ▲                 │  ╲
//      │               fail  ╲ fail / lease_expired (no attempts left, or not retryable)
//   requeue      (retryable,  ╲
//      │       attempts left)  ▼
//    failed ◀──cancel── retry_pending ──claim──▶ running
//
//   running ──release──▶ pending: a claimed job handed back before it started
//   (a prefetched job at shutdown); the attempt is undone.
//
// docs/lifecycle.md holds the diagram generated from this table.

#include <errand/error_text.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle_states.hpp>
#include <errand/machine.hpp>
#include <errand/retry_policy.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace errand {

// The kinds of error errand records itself; users report their own kinds too
// (the set is open: it is a string).
namespace error_kind {
inline constexpr std::string_view reported = "reported";            // a handler said it failed
inline constexpr std::string_view exception = "exception";          // a handler threw
inline constexpr std::string_view timeout = "timeout";              // a handler ran past its deadline
inline constexpr std::string_view lease_expired = "lease_expired";  // its worker stopped heartbeating
inline constexpr std::string_view cancelled = "cancelled";          // an operator cancelled it
inline constexpr std::string_view shutdown = "shutdown";            // its worker stopped before it finished
}  // namespace error_kind

// Stored when a failure arrives without a message and none was recorded before.
inline constexpr std::string_view no_reason_reported = "no reason reported";

// What a worker knows when it fails.
struct failure {
  std::string message;
  std::string kind{error_kind::reported};
  bool retryable = true;
  std::optional<std::string> trace{};
};
BOOST_DESCRIBE_STRUCT(failure, (), (message, kind, retryable, trace))

// The error payload of a job's attempt, as recorded.
struct error_info {
  std::string message;
  std::string kind;
  std::int32_t attempt = 0;
  time_point at{};
  std::optional<std::string> worker;
  std::optional<std::string> trace{};
};
BOOST_DESCRIBE_STRUCT(error_info, (), (message, kind, attempt, at, worker, trace))

// A worker takes the job for its next attempt.
struct claim {
  static constexpr std::string_view name = "claim";
  std::string worker;
  duration lease = std::chrono::seconds{30};
};
BOOST_DESCRIBE_STRUCT(claim, (), (worker, lease))

// The worker holding `attempt` finished it.
struct succeed {
  static constexpr std::string_view name = "succeed";
  std::int32_t attempt = 0;
  std::string worker;
  std::optional<std::string> detail{};  // "succeeded, but posted nothing"
};
BOOST_DESCRIBE_STRUCT(succeed, (), (attempt, worker, detail))

// The worker holding `attempt` failed it.
struct fail {
  static constexpr std::string_view name = "fail";
  std::int32_t attempt = 0;
  std::string worker;
  failure error;
};
BOOST_DESCRIBE_STRUCT(fail, (), (attempt, worker, error))

// The reaper found `attempt`'s lease expired.
struct lease_expired {
  static constexpr std::string_view name = "lease_expired";
  std::int32_t attempt = 0;
  std::string reason;  // "lease expired: worker W, last heartbeat T"
};
BOOST_DESCRIBE_STRUCT(lease_expired, (), (attempt, reason))

// An operator gives up on the job.
struct cancel {
  static constexpr std::string_view name = "cancel";
  std::optional<std::string> reason{};
};
BOOST_DESCRIBE_STRUCT(cancel, (), (reason))

// An operator retries a failed job, granting it `extra_attempts` more.
struct requeue {
  static constexpr std::string_view name = "requeue";
  std::optional<std::string> reason{};
  std::int32_t extra_attempts = 1;
};
BOOST_DESCRIBE_STRUCT(requeue, (), (reason, extra_attempts))

// The worker holding `attempt` hands the job back without having started it
// (a job it prefetched, at shutdown): the attempt is undone, not spent.
struct release {
  static constexpr std::string_view name = "release";
  std::int32_t attempt = 0;
  std::string worker;
};
BOOST_DESCRIBE_STRUCT(release, (), (attempt, worker))

// What the lifecycle's guards read and its actions write.
struct transition_context {
  const job& current;
  job& next;
  const retry_policy& policy;
  time_point now;
};

namespace lifecycle_rules {

struct retry_allowed {
  static constexpr std::string_view name = "retryable and attempts left";
  bool operator()(const transition_context& c, const fail& e) const {
    return e.error.retryable && c.current.attempt < c.current.max_attempts;
  }
  bool operator()(const transition_context& c, const lease_expired&) const {
    return c.current.attempt < c.current.max_attempts;
  }
};

// Contract 1 of docs/concepts.md: a failure without a message keeps the recorded reason
// (COALESCE) or says explicitly that none was given.
inline void record_error(transition_context& c, const std::string& message, std::string_view kind) {
  c.next.last_error = !message.empty()          ? message
                      : c.current.last_error    ? *c.current.last_error
                                                : std::string(no_reason_reported);
  c.next.last_error_kind = std::string(kind);
  c.next.last_error_at = c.now;
}

inline void release_lease(transition_context& c) {
  c.next.lease_until.reset();
  c.next.heartbeat_at.reset();
}

// Contract 2 of docs/concepts.md: a fresh attempt starts with a clean slate.
struct start_attempt {
  void operator()(transition_context& c, const claim& e) const {
    c.next.attempt = c.current.attempt + 1;
    c.next.worker = e.worker;
    c.next.lease_until = shifted(c.now, e.lease);
    c.next.heartbeat_at = c.now;
    c.next.last_error.reset();
    c.next.last_error_kind.reset();
    c.next.last_error_at.reset();
    c.next.detail.reset();
  }
};

struct finish {
  void operator()(transition_context& c, const succeed& e) const {
    release_lease(c);
    c.next.detail = e.detail;
  }
};

struct give_up {
  void operator()(transition_context& c, const fail& e) const {
    release_lease(c);
    record_error(c, e.error.message, e.error.kind);
  }
  void operator()(transition_context& c, const lease_expired& e) const {
    release_lease(c);
    record_error(c, e.reason, error_kind::lease_expired);
  }
  void operator()(transition_context& c, const cancel& e) const {
    release_lease(c);
    record_error(c, e.reason.value_or(""), error_kind::cancelled);
  }
};

struct schedule_retry {
  template <class Event>
  void operator()(transition_context& c, const Event& e) const {
    give_up{}(c, e);
    c.next.run_at = shifted(c.now, c.policy.delay_after(c.current.id, c.current.attempt));
  }
};

// The claim is undone: the job waits for a claim again with the attempts it
// had, and no error (it had none while running).
struct hand_back {
  void operator()(transition_context& c, const release&) const {
    release_lease(c);
    c.next.attempt = c.current.attempt - 1;
  }
};

// Contract 2 of docs/concepts.md again: an operator's retry clears the error it answers.
struct reopen {
  void operator()(transition_context& c, const requeue& e) const {
    // At most every attempt an int32 counts: a grant of INT32_MAX overflowed the sum.
    const std::int32_t extra = std::max(1, e.extra_attempts);
    const std::int32_t room = std::numeric_limits<std::int32_t>::max() - c.current.attempt;
    c.next.max_attempts = std::max(c.current.max_attempts, c.current.attempt + std::min(extra, room));
    c.next.run_at = c.now;
    c.next.last_error.reset();
    c.next.last_error_kind.reset();
    c.next.last_error_at.reset();
    c.next.detail.reset();
  }
};

}  // namespace lifecycle_rules

namespace lifecycle_table {
using enum job_state;
using namespace lifecycle_rules;

using type = machine<pending, events<claim, succeed, fail, lease_expired, cancel, requeue, release>,
                     table<row<pending, claim, running, always, start_attempt>,
                           row<retry_pending, claim, running, always, start_attempt>,
                           row<running, succeed, succeeded, always, finish>,
                           row<running, fail, retry_pending, retry_allowed, schedule_retry>,
                           row<running, fail, failed, always, give_up>,
                           row<running, lease_expired, retry_pending, retry_allowed, schedule_retry>,
                           row<running, lease_expired, failed, always, give_up>,
                           row<pending, cancel, failed, always, give_up>,
                           row<retry_pending, cancel, failed, always, give_up>,
                           row<running, cancel, failed, always, give_up>,
                           row<failed, requeue, pending, always, reopen>,
                           row<running, release, pending, always, hand_back>>,
                     terminal<succeeded>, error_states<retry_pending, failed>>;
}  // namespace lifecycle_table

// The job lifecycle as a machine type: query it, dispatch on it, draw it.
using job_lifecycle = lifecycle_table::type;

// The states a job is claimed from, as the table says (the rows that take
// `claim`): every backend's claim query and index, the runner and the memory
// store read them here rather than list them again.
inline constexpr auto claimable_states = job_lifecycle::states_taking<claim>();
constexpr bool is_claimable(job_state state) noexcept { return job_lifecycle::can_take<claim>(state); }

// The state a job holds a lease in: the one a worker's report is taken in.
// Leases, the reaper and queue limits count it; SQL names it once, from here.
constexpr bool is_leased(job_state state) noexcept { return job_lifecycle::can_take<succeed>(state); }

// The states a job's work is over in: no claim takes it, and nothing a
// worker, the reaper or a cancel sends moves it (an operator's requeue may).
// prune deletes jobs in these states.
constexpr bool is_finished(job_state state) noexcept {
  return !is_claimable(state) && !job_lifecycle::can_take<succeed>(state) && !job_lifecycle::can_take<fail>(state) &&
         !job_lifecycle::can_take<lease_expired>(state) && !job_lifecycle::can_take<cancel>(state);
}

namespace detail {

// The lifecycle's states that `Pick` selects, in enum order.
template <bool (*Pick)(job_state) noexcept>
constexpr auto lifecycle_states() {
  constexpr std::size_t count = [] {
    std::size_t n = 0;
    for (const job_state s : enumerators<job_state>()) n += Pick(s) ? 1 : 0;
    return n;
  }();
  std::array<job_state, count> out{};
  std::size_t i = 0;
  for (const job_state s : enumerators<job_state>())
    if (Pick(s)) out[i++] = s;
  return out;
}

}  // namespace detail

inline constexpr auto leased_states = detail::lifecycle_states<&is_leased>();
inline constexpr auto finished_states = detail::lifecycle_states<&is_finished>();
static_assert(leased_states.size() == 1,
              "errand: the backends' lease indexes name one leased state; a second needs their SQL to list both");

}  // namespace errand
