#pragma once
// The one place the lifecycle's semantics live. Given a job row, an event, the
// retry policy and the time, decide() returns the row image to write and the
// history record to append, or says why nothing may be written. It does no I/O;
// backends persist what it decides, as a compare-and-set on `expected_version`.

#include <errand/codec.hpp>
#include <errand/lifecycle.hpp>

#include <boost/describe/enum.hpp>

#include <optional>
#include <string>
#include <type_traits>

namespace errand {

enum class verdict {
  applied,    // write `next` and append `record`
  duplicate,  // this very report was applied already: acknowledge, write nothing
  rejected    // write nothing; `reason` says why
};
BOOST_DESCRIBE_ENUM(verdict, applied, duplicate, rejected)

enum class rejection {
  none,
  unknown_state,       // the row holds a state the lifecycle does not know
  illegal_transition,  // the state cannot take the event
  stale_report,        // a report for an attempt (or from a worker) that no longer holds the job
  not_due,             // a claim before the job's run_at
  lease_held,          // a lease_expired while the lease is still valid
  no_such_job          // the store has no job with that id
};
BOOST_DESCRIBE_ENUM(rejection, none, unknown_state, illegal_transition, stale_report, not_due, lease_held, no_such_job)

struct decision {
  verdict outcome = verdict::rejected;
  rejection why = rejection::none;
  std::string reason;  // for a rejection: names the job, its state and the event
  job next;            // the row to write when applied; the row as it is otherwise
  std::optional<history_record> record;  // the transition to append (absent for a heartbeat)
  std::int64_t expected_version = 0;     // the version the write must find in the store

  bool applied() const noexcept { return outcome == verdict::applied; }
};

namespace detail {

template <class Event>
inline constexpr bool carries_attempt = std::is_same_v<Event, succeed> || std::is_same_v<Event, fail> ||
                                        std::is_same_v<Event, lease_expired> || std::is_same_v<Event, release>;

inline std::string storable(const std::string& text) { return storable_error_text(text); }
inline std::optional<std::string> storable(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return storable_error_text(*text);
}

// Events with their free text made storable (contract 7 of docs/concepts.md), so that the row,
// the history payload and the duplicate check all see the same text.
inline claim storable_event(claim e) { return {storable(e.worker), e.lease}; }
inline succeed storable_event(succeed e) { return {e.attempt, storable(e.worker), storable(e.detail)}; }
inline fail storable_event(fail e) {
  e.worker = storable(e.worker);
  e.error.message = storable(e.error.message);
  e.error.kind = e.error.kind.empty() ? std::string(error_kind::reported) : storable(e.error.kind);
  e.error.trace = storable(e.error.trace);
  return e;
}
inline lease_expired storable_event(lease_expired e) { return {e.attempt, storable(e.reason)}; }
inline cancel storable_event(cancel e) { return {storable(e.reason)}; }
inline requeue storable_event(requeue e) { return {storable(e.reason), e.extra_attempts}; }
inline release storable_event(release e) { return {e.attempt, storable(e.worker)}; }

inline bool attempt_ended(const job& row) {
  return row.state == job_state::retry_pending || row.state == job_state::failed;
}

// Contract 5 of docs/concepts.md: the very report that ended an attempt, sent again, is acknowledged.
inline bool already_applied(const job& row, const succeed& e) {
  return row.state == job_state::succeeded && row.attempt == e.attempt && row.worker == e.worker &&
         row.detail == e.detail;
}
inline bool already_applied(const job& row, const fail& e) {
  return attempt_ended(row) && row.attempt == e.attempt && row.worker == e.worker &&
         row.last_error_kind == e.error.kind && (e.error.message.empty() || row.last_error == e.error.message);
}
inline bool already_applied(const job& row, const lease_expired& e) {
  return attempt_ended(row) && row.attempt == e.attempt && row.last_error_kind == error_kind::lease_expired;
}
inline bool already_applied(const job& row, const release& e) {
  return row.state == job_state::pending && row.attempt == e.attempt - 1 && row.worker == e.worker;
}

// Whether the report is for the attempt running now (and, when it names a
// worker, from the worker that claimed it).
template <class Report>
bool holds_attempt(const job& row, const Report& e) {
  bool same_worker = true;
  if constexpr (requires { e.worker; }) same_worker = row.worker == e.worker;
  return row.state == job_state::running && row.attempt == e.attempt && same_worker;
}

template <class Event>
std::optional<std::string> acting_worker(const job& row, const Event& e) {
  if constexpr (requires { e.worker; })
    return e.worker;
  else if constexpr (std::is_same_v<Event, lease_expired>)
    return row.worker;
  else
    return std::nullopt;  // an operator's event
}

// The event as the row recorded it: a failure without a message carries the
// reason that was kept, so history and row never disagree.
template <class Event>
Event as_recorded(Event e, const job& next) {
  if constexpr (std::is_same_v<Event, fail>)
    e.error.message = next.last_error.value_or(e.error.message);
  else if constexpr (std::is_same_v<Event, lease_expired>)
    e.reason = next.last_error.value_or(e.reason);
  else if constexpr (std::is_same_v<Event, cancel>)
    e.reason = next.last_error;
  return e;
}

inline std::string describe(const job& row) {
  return "job " + std::to_string(row.id) + " (state '" +
         std::string(name_of(row.state).value_or("<unknown>")) + "', attempt " + std::to_string(row.attempt) + ")";
}

}  // namespace detail

template <class Event>
decision decide(const job& current, const Event& reported, const retry_policy& policy, time_point now) {
  static_assert(job_lifecycle::has_event<Event>, "errand: decide() takes the job lifecycle's events");
  const Event e = detail::storable_event(reported);
  decision d;
  d.next = current;
  d.expected_version = current.version;
  const auto reject = [&](rejection why, std::string reason) {
    d.outcome = verdict::rejected;
    d.why = why;
    d.reason = std::move(reason);
    return d;
  };

  // Contract 6 of docs/concepts.md: a state read off a corrupt row is named as such, whatever the event.
  if (!enumerator_index(current.state))
    return reject(rejection::unknown_state,
                  "job " + std::to_string(current.id) + ": " +
                      dispatch_result<job_state>{current.state, current.state, Event::name, false,
                                                 rejection_reason::unknown_state}
                          .message());
  if constexpr (detail::carries_attempt<Event>) {
    if (!detail::holds_attempt(current, e)) {
      if (detail::already_applied(current, e)) {
        d.outcome = verdict::duplicate;
        return d;
      }
      std::string from = "attempt " + std::to_string(e.attempt);
      if constexpr (requires { e.worker; }) from += " of worker '" + e.worker + "'";
      return reject(rejection::stale_report, "stale '" + std::string(Event::name) + "' for " + from + ": " +
                                                 detail::describe(current) + " is no longer held by it");
    }
  }
  if constexpr (std::is_same_v<Event, claim>) {
    if (is_claimable(current.state) && current.run_at > now)
      return reject(rejection::not_due, detail::describe(current) + " is not due until " + to_iso8601(current.run_at));
  }
  if constexpr (std::is_same_v<Event, lease_expired>) {
    if (current.lease_until && *current.lease_until > now)
      return reject(rejection::lease_held,
                    detail::describe(current) + " holds its lease until " + to_iso8601(*current.lease_until));
  }

  transition_context context{current, d.next, policy, now};
  const auto step = job_lifecycle::dispatch(current.state, e, context);
  if (!step) {
    d.next = current;
    return reject(step.reason == rejection_reason::unknown_state ? rejection::unknown_state
                                                                 : rejection::illegal_transition,
                  "job " + std::to_string(current.id) + ": " + step.message());
  }
  d.outcome = verdict::applied;
  d.next.state = step.to;
  d.next.version = current.version + 1;
  d.next.updated_at = now;
  d.record = history_record{current.id,
                            0,
                            current.state,
                            step.to,
                            std::string(Event::name),
                            to_json(detail::as_recorded(e, d.next)),
                            d.next.attempt,
                            detail::acting_worker(current, e),
                            now};
  return d;
}

// A heartbeat: the worker holding `attempt` keeps its lease for `lease` more.
// It bumps the version (so a reaper that read the old lease loses its
// compare-and-set) but appends no history: heartbeats are not transitions.
inline decision extend_lease(const job& current, const std::string& worker, std::int32_t attempt, duration lease,
                             time_point now) {
  decision d;
  d.next = current;
  d.expected_version = current.version;
  // The worker's name as its claim stored it, so that a name holding any bytes can heartbeat.
  const std::string stored_worker = storable_error_text(worker);
  if (current.state != job_state::running || current.attempt != attempt || current.worker != stored_worker) {
    d.why = rejection::stale_report;
    d.reason = "stale heartbeat for attempt " + std::to_string(attempt) + " of worker '" + stored_worker + "': " +
               detail::describe(current) + " is no longer held by it";
    return d;
  }
  d.outcome = verdict::applied;
  d.next.lease_until = shifted(now, lease);
  d.next.heartbeat_at = now;
  d.next.version = current.version + 1;
  d.next.updated_at = now;
  return d;
}

// The reaper's reason, in the words contract 4 of docs/concepts.md asks for.
inline std::string lease_expiry_reason(const job& row) {
  return "lease expired: worker " + row.worker.value_or("<none>") + ", last heartbeat " +
         (row.heartbeat_at ? to_iso8601(*row.heartbeat_at) : std::string("never"));
}

}  // namespace errand
