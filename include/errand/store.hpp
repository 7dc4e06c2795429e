#pragma once
// The store concept: what a backend provides. Backends are thin; every
// semantic decision comes from decide(), and a backend persists it atomically.
// tests/conformance is the executable definition of this contract.

#include <errand/decide.hpp>
#include <errand/job.hpp>
#include <errand/subscription.hpp>

#include <boost/describe/class.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

namespace errand {

// The backend could not do what was asked (I/O, constraint, connection); it
// wrote nothing.
struct store_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A row errand cannot read (an unknown state name, broken JSON, a bad time).
// It names the row; every other job keeps working.
struct corrupt_row : store_error {
  corrupt_row(std::int64_t job_id, const std::string& what)
      : store_error("errand: job " + std::to_string(job_id) + " cannot be read: " + what), id(job_id) {}
  std::int64_t id;
};

struct enqueued {
  std::int64_t id = 0;
  bool created = false;  // false: a job with the same unique_key exists already
  friend bool operator==(const enqueued&, const enqueued&) = default;
};

enum class write_result {
  applied,
  conflict,  // the row's version moved on since it was read: read it again and decide again
  not_found
};

struct claim_request {
  std::string worker;
  duration lease = std::chrono::seconds{30};
  time_point now{};
  std::vector<std::string> queues{};  // empty: every queue
};

// Queue names no database could hold are refused with std::invalid_argument,
// by every store alike, before anything is claimed.
inline void validate(const claim_request& claim) {
  // A lease that ends when it starts has expired (contract 4): the reaper would take the job back
  // while its handler runs, and a second worker would run it too.
  if (claim.lease <= duration::zero())
    throw std::invalid_argument("errand: a claim_request's lease must be positive (it is " +
                                std::to_string(claim.lease.count()) + " microseconds); nothing was claimed");
  for (const auto& queue : claim.queues)
    detail::refuse_unstorable(queue, "a queue name in a claim_request", "nothing was claimed");
}

// The order a job_query lists jobs in.
enum class job_order {
  by_id,            // oldest first; the next page passes the last id seen as after_id
  recently_updated  // latest change first (updated_at, then id, both descending); the next page passes
                    // the last job seen as after_update
};

// Where a recently_updated page continues: after this job.
struct update_cursor {
  time_point updated_at{};
  std::int64_t id = 0;
  friend bool operator==(const update_cursor&, const update_cursor&) = default;
};

// A page of jobs. Every filter that is set must hold.
struct job_query {
  std::optional<job_state> state{};
  std::optional<std::string> queue{};
  std::optional<std::string> kind{};
  std::optional<bool> has_error{};
  std::int64_t after_id = 0;  // only ids greater than this
  std::size_t limit = 100;
  std::optional<time_point> updated_since{};   // updated_at at or after this
  std::optional<time_point> updated_before{};  // updated_at before this
  job_order order = job_order::by_id;
  std::optional<update_cursor> after_update{};  // recently_updated only: jobs listed after this one
};

// Filters no database could hold are refused with std::invalid_argument, by
// every store alike, before anything is read.
inline void validate(const job_query& query) {
  constexpr std::string_view consequence = "nothing was read";
  if (query.queue) detail::refuse_unstorable(*query.queue, "job_query field 'queue'", consequence);
  if (query.kind) detail::refuse_unstorable(*query.kind, "job_query field 'kind'", consequence);
}

// What an operator asks first: which errors are jobs failing with now? The
// jobs holding an error (retry_pending and failed), grouped by the error's kind
// and message, the group with the latest error first.
struct error_group_query {
  std::optional<job_state> state{};   // retry_pending or failed; absent: both
  std::optional<std::string> queue{};
  std::optional<std::string> kind{};  // the job's kind
  std::optional<time_point> since{};  // last_error_at at or after this
  std::size_t limit = 20;             // groups
  std::size_t examples = 3;           // ids per group, latest error first
};

// Refused as job_query's filters are.
inline void validate(const error_group_query& query) {
  constexpr std::string_view consequence = "nothing was read";
  if (query.queue) detail::refuse_unstorable(*query.queue, "error_group_query field 'queue'", consequence);
  if (query.kind) detail::refuse_unstorable(*query.kind, "error_group_query field 'kind'", consequence);
}

struct error_group {
  std::string error_kind;
  std::string message;
  std::int64_t jobs = 0;
  time_point first_at{};  // the group's earliest and latest last_error_at
  time_point last_at{};
  std::vector<std::int64_t> example_ids;
};
BOOST_DESCRIBE_STRUCT(error_group, (), (error_kind, message, jobs, first_at, last_at, example_ids))

using state_counts = std::map<job_state, std::int64_t>;

// One queue at a glance: the jobs in each state, what moved recently, and how
// long the oldest due job has waited.
struct summary_request {
  time_point now{};    // a job is due when its run_at is at or before now
  time_point since{};  // "recently": updated_at at or after this
};

struct queue_summary {
  std::string queue;
  state_counts jobs;                            // per state
  state_counts updated_since;                   // of those, updated since summary_request::since
                                                // (for succeeded and failed: finished since)
  std::int64_t due = 0;                         // pending or retry_pending, run_at at or before now
  std::optional<std::int64_t> oldest_due_id{};  // the due job with the earliest run_at
  std::optional<time_point> oldest_due_at{};    // its run_at
};

// What an orchestrator reads: how the job's latest attempt ended.
struct outcome {
  std::int64_t job_id = 0;
  job_state state = job_state::pending;  // the state it ended in
  std::int32_t attempt = 0;
  bool success = false;
  std::optional<std::string> text{};  // the error message, or the success detail
  std::optional<std::string> kind{};  // the error kind; absent for a success
  time_point at{};
};

struct prune_request {
  std::optional<time_point> finished_before{};  // delete succeeded and failed jobs last updated before this
  std::optional<std::size_t> keep_history{};    // keep only each job's last N history records
};

struct prune_result {
  std::int64_t jobs_deleted = 0;
  std::int64_t history_deleted = 0;
};

template <class S>
concept store = requires(S& s, const job_spec& spec, std::span<const job_spec> specs, std::int64_t id,
                         const decision& d, std::span<const decision> ds, const claim_request& claim,
                         std::size_t n, time_point now, const job_query& query, const prune_request& prune,
                         listener on_commit) {
  { s.enqueue(spec, now) } -> std::same_as<enqueued>;
  { s.enqueue_batch(specs, now) } -> std::same_as<std::vector<enqueued>>;
  { s.get(id) } -> std::same_as<std::optional<job>>;
  // Writes d.next where the row still has d.expected_version, and appends
  // d.record (seq assigned here), in one transaction; notifies after commit.
  { s.apply(d) } -> std::same_as<write_result>;
  { s.apply_batch(ds) } -> std::same_as<std::vector<write_result>>;
  // Picks the next due pending/retry_pending job (priority, run_at, id),
  // applies decide(job, claim) to it and returns the claimed row.
  { s.claim(claim) } -> std::same_as<std::optional<job>>;
  { s.claim_batch(claim, n) } -> std::same_as<std::vector<job>>;
  { s.expired_leases(now, n) } -> std::same_as<std::vector<job>>;
  { s.query(query) } -> std::same_as<std::vector<job>>;
  { s.history(id) } -> std::same_as<std::vector<history_record>>;
  { s.latest_outcome(id) } -> std::same_as<std::optional<outcome>>;
  { s.count_by_state() } -> std::same_as<state_counts>;
  { s.prune(prune) } -> std::same_as<prune_result>;
  { s.subscribe(on_commit) } -> std::same_as<subscription>;
};

// A store an operator's tools read: a store that also summarises its queues
// and groups the errors its jobs hold, in the database. The stores errand
// ships are operator stores; a store of one's own needs to be one only for
// the `errand` command and the dashboard, never for the runner.
template <class S>
concept operator_store = store<S> && requires(S& s, const summary_request& summary, const error_group_query& errors) {
  // Ordered by queue name; queues without jobs are absent.
  { s.summarize(summary) } -> std::same_as<std::vector<queue_summary>>;
  { s.error_groups(errors) } -> std::same_as<std::vector<error_group>>;
};

// A store that tells idle workers when work may have arrived: a job enqueued
// or a retry scheduled, by this process or another. Optional: a runner over a
// store that is one wakes as soon as work is announced, and a runner over any
// other store wakes on its notifications, runner::notify() and its poll
// interval. memory_store is one (in its process), postgres_store too (every
// process, through LISTEN/NOTIFY).
template <class S>
concept announces_work = store<S> && requires(S& s, std::uint64_t since, std::chrono::milliseconds timeout) {
  // Take an epoch, then wait_for_work(epoch, timeout) returns true as soon
  // as work may have arrived since it was taken, false after `timeout`.
  { s.work_epoch() } -> std::same_as<std::uint64_t>;
  { s.wait_for_work(since, timeout) } -> std::same_as<bool>;
};

// A store whose wait for work also ends when a stop is requested, so that a
// runner's stop() does not wait out the wait's timeout.
template <class S>
concept announces_work_stoppably =
    announces_work<S> && requires(S& s, std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop) {
      { s.wait_for_work(since, timeout, stop) } -> std::same_as<bool>;
    };

// A store that says when its next job comes due: the earliest run_at after
// `after` of a job waiting to be claimed (nullopt: none). Optional: a runner
// over one that finds nothing to claim sleeps until then rather than for its
// whole poll interval, so a job scheduled for later starts on time.
template <class S>
concept knows_next_due = store<S> && requires(const S& s, time_point after) {
  { s.next_run_at(after) } -> std::same_as<std::optional<time_point>>;
};

}  // namespace errand
