#pragma once
// A job as every backend stores it: one row per job, one history record per
// transition. The field names are the column names.

#include <errand/codec.hpp>
#include <errand/error_text.hpp>
#include <errand/lifecycle_states.hpp>
#include <errand/time.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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
  // While an existing job holds the key, by default for as long as it exists
  // (until prune deletes it). These narrow it, as the new spec asks:
  std::vector<job_state> unique_states{};   // only while that job is in one of these states (empty: any state)
  std::optional<duration> unique_period{};  // only while that job was enqueued less than this long ago
};
BOOST_DESCRIBE_STRUCT(job_spec, (),
                      (queue, kind, payload, priority, run_at, max_attempts, unique_key, unique_states, unique_period))

// The states of a job that has not finished: unique_states = unfinished_states
// lets a key be enqueued again once the job with it succeeded or failed.
inline const std::vector<job_state> unfinished_states{job_state::pending, job_state::running, job_state::retry_pending};

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

  friend bool operator==(const job&, const job&) = default;
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

namespace detail {

inline void refuse_unstorable(std::string_view text, const std::string& field, std::string_view consequence) {
  if (const auto why = unstorable_reason(text))
    throw std::invalid_argument("errand: " + field + " " + *why + "; " + std::string(consequence));
}

// `position`: the spec's place in a batch, which messages name.
inline void validate_spec(const job_spec& spec, std::optional<std::size_t> position) {
  const auto label = [&] { return position ? "job_spec #" + std::to_string(*position) : std::string("job_spec"); };
  if (spec.kind.empty()) throw std::invalid_argument("errand: a job spec needs a kind");
  if (spec.max_attempts < 1)
    throw std::invalid_argument("errand: job spec of kind '" + spec.kind + "' has max_attempts " +
                                std::to_string(spec.max_attempts) + "; it must be at least 1");
  if (!spec.unique_key && (!spec.unique_states.empty() || spec.unique_period))
    throw std::invalid_argument("errand: job spec of kind '" + spec.kind +
                                "' scopes its uniqueness (unique_states or unique_period) but has no unique_key");
  if (spec.unique_period && *spec.unique_period <= duration::zero())
    throw std::invalid_argument("errand: job spec of kind '" + spec.kind +
                                "' has a unique_period that is not positive; leave it empty for no time limit");
  constexpr std::string_view consequence = "nothing was enqueued";
  if (spec.run_at && !storable_time(*spec.run_at))
    throw std::invalid_argument("errand: " + label() + " (kind '" + spec.kind + "'): field 'run_at' is " +
                                detail::outside_storable_years(*spec.run_at) + "; " + std::string(consequence));
  const auto refuse_unstorable_field = [&](std::string_view text, std::string_view field) {
    if (unstorable_reason(text)) refuse_unstorable(text, label() + " field '" + std::string(field) + "'", consequence);
  };
  refuse_unstorable_field(spec.queue, "queue");
  refuse_unstorable_field(spec.kind, "kind");
  if (spec.unique_key) refuse_unstorable_field(*spec.unique_key, "unique_key");
  refuse_unstorable_field(spec.payload, "payload");
  try {
    json::check_value(spec.payload, {});
  } catch (const codec_error& e) {
    throw std::invalid_argument("errand: " + label() + " (kind '" + spec.kind + "'): field 'payload' is not JSON: " +
                                e.what() + "; " + std::string(consequence));
  }
}

}  // namespace detail

// A spec no job could be run from, or one a database could not store as it is,
// is refused with std::invalid_argument before anything is written, by every
// store alike: a job needs a kind to find its handler and at least one attempt
// to be claimed at all; its queue, kind and unique key hold neither NUL bytes
// nor invalid UTF-8; its payload is one JSON value.
inline void validate(const job_spec& spec) { detail::validate_spec(spec, std::nullopt); }

// The same for a batch, which is written all or nothing; the message names the
// spec's position.
inline void validate(std::span<const job_spec> specs) {
  for (std::size_t i = 0; i < specs.size(); ++i) detail::validate_spec(specs[i], i);
}

namespace detail {

// The row a new job starts as, from a spec already validated.
inline job new_job_row(const job_spec& spec, std::int64_t id, time_point now) {
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

}  // namespace detail

// The row a new job starts as; throws std::invalid_argument for a spec
// validate() refuses.
inline job make_job(const job_spec& spec, std::int64_t id, time_point now) {
  validate(spec);
  return detail::new_job_row(spec, id, now);
}

// Whether `existing`, a job with the same unique_key, keeps `spec` from being
// enqueued at `now`: it is in one of spec.unique_states (any, when empty) and
// was enqueued less than spec.unique_period ago (any time, when empty).
inline bool holds_unique_key(const job& existing, const job_spec& spec, time_point now) {
  const bool in_state = spec.unique_states.empty() || std::find(spec.unique_states.begin(), spec.unique_states.end(),
                                                                existing.state) != spec.unique_states.end();
  return in_state && (!spec.unique_period || existing.created_at > shifted(now, -*spec.unique_period));
}

}  // namespace errand
