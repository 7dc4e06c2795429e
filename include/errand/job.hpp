#pragma once
// A job as every backend stores it: one row per job, one history record per
// transition. The field names are the column names.

#include <errand/lifecycle_states.hpp>
#include <errand/time.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace errand {

// What a producer asks for.
struct job_spec {
  std::string queue = "default";
  std::string kind;
  std::string payload = "{}";  // JSON text; the codec turns typed payloads into it
  std::int32_t priority = 0;   // lower runs first, as in Oban and River
  std::optional<time_point> run_at{};  // absent: due now
  std::int32_t max_attempts = 3;
  std::optional<std::string> unique_key{};  // a second enqueue with the same key is a no-op
};
BOOST_DESCRIBE_STRUCT(job_spec, (), (queue, kind, payload, priority, run_at, max_attempts, unique_key))

struct job {
  std::int64_t id = 0;
  std::string queue;
  std::string kind;
  std::string payload;
  job_state state = job_state::pending;
  std::int32_t priority = 0;
  std::int32_t attempt = 0;  // claims so far; the attempt a worker reports for
  std::int32_t max_attempts = 3;
  time_point run_at{};
  std::optional<std::string> worker;  // who holds, or last held, the job
  std::optional<time_point> lease_until;
  std::optional<time_point> heartbeat_at;
  std::optional<std::string> last_error;  // never empty: absent is nullopt
  std::optional<std::string> last_error_kind;
  std::optional<time_point> last_error_at;
  std::optional<std::string> detail;  // what a success reported, if anything
  std::int64_t version = 1;           // bumped by every write; the compare-and-set token
  std::optional<std::string> unique_key;
  time_point created_at{};
  time_point updated_at{};
};
BOOST_DESCRIBE_STRUCT(job, (),
                      (id, queue, kind, payload, state, priority, attempt, max_attempts, run_at, worker, lease_until,
                       heartbeat_at, last_error, last_error_kind, last_error_at, detail, version, unique_key,
                       created_at, updated_at))

// One transition, appended in the same transaction as the state change.
struct history_record {
  std::int64_t job_id = 0;
  std::int64_t seq = 0;  // 1, 2, 3… per job; assigned by the store
  job_state from = job_state::pending;
  job_state to = job_state::pending;
  std::string event;
  std::string payload;  // the event as applied, as JSON: free text made storable, a missing reason filled in
  std::int32_t attempt = 0;  // the job's attempt after the transition
  std::optional<std::string> worker;
  time_point at{};
};
BOOST_DESCRIBE_STRUCT(history_record, (), (job_id, seq, from, to, event, payload, attempt, worker, at))

// A spec no job could be run from is refused before anything is written
// (contract item 7): a job needs a kind to find its handler and at least one
// attempt to be claimed at all.
inline void validate(const job_spec& spec) {
  if (spec.kind.empty()) throw std::invalid_argument("errand: a job spec needs a kind");
  if (spec.max_attempts < 1)
    throw std::invalid_argument("errand: job spec of kind '" + spec.kind + "' has max_attempts " +
                                std::to_string(spec.max_attempts) + "; it must be at least 1");
}

// The row a new job starts as; throws std::invalid_argument for a spec
// validate() refuses.
inline job make_job(const job_spec& spec, std::int64_t id, time_point now) {
  validate(spec);
  job row;
  row.id = id;
  row.queue = spec.queue;
  row.kind = spec.kind;
  row.payload = spec.payload;
  row.priority = spec.priority;
  row.max_attempts = spec.max_attempts;
  row.run_at = spec.run_at.value_or(now);
  row.unique_key = spec.unique_key;
  row.created_at = row.updated_at = now;
  return row;
}

}  // namespace errand
