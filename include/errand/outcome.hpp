#pragma once
// Reading failures back out of a job's history: every attempt's error stays
// queryable after the job succeeds or is requeued (contract 3 of docs/concepts.md), and the
// latest outcome is what an orchestrator reacts to (the agent sessions example).

#include <errand/codec.hpp>
#include <errand/lifecycle.hpp>
#include <errand/store.hpp>

#include <optional>
#include <span>
#include <vector>

namespace errand {

// The error a history record carries, if it is a failure.
inline std::optional<error_info> error_of(const history_record& r) {
  error_info info;
  info.at = r.at;
  info.attempt = r.attempt;
  info.worker = r.worker;
  if (r.event == fail::name) {
    const auto e = from_json<fail>(r.payload);
    info.message = e.error.message;
    info.kind = e.error.kind;
    info.trace = e.error.trace;
  } else if (r.event == lease_expired::name) {
    const auto e = from_json<lease_expired>(r.payload);
    info.message = e.reason;
    info.kind = error_kind::lease_expired;
  } else if (r.event == cancel::name) {
    info.message = from_json<cancel>(r.payload).reason.value_or(std::string(no_reason_reported));
    info.kind = error_kind::cancelled;
  } else {
    return std::nullopt;
  }
  return info;
}

// Every error in a history, oldest first.
inline std::vector<error_info> errors_of(std::span<const history_record> history) {
  std::vector<error_info> errors;
  for (const auto& r : history)
    if (auto e = error_of(r)) errors.push_back(std::move(*e));
  return errors;
}

// How the job's latest finished attempt ended: the last success or failure
// in its history, or nullopt while no attempt has ended.
inline std::optional<outcome> latest_outcome_of(std::span<const history_record> history) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->event == succeed::name) {
      const auto e = from_json<succeed>(it->payload);
      return outcome{it->job_id, it->to, it->attempt, true, e.detail, std::nullopt, it->at};
    }
    if (auto e = error_of(*it)) return outcome{it->job_id, it->to, e->attempt, false, e->message, e->kind, it->at};
  }
  return std::nullopt;
}

// A store's latest_outcome(): the same answer, with a history payload errand
// cannot parse reported as corrupt_row naming the job and the record.
inline std::optional<outcome> latest_outcome_of_job(std::int64_t job_id, std::span<const history_record> history) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    try {
      if (auto found = latest_outcome_of(std::span(&*it, 1))) return found;
    } catch (const codec_error& e) {
      throw corrupt_row(job_id,
                        "history record " + std::to_string(it->seq) + " ('" + it->event + "'): payload: " + e.what());
    }
  }
  return std::nullopt;
}

}  // namespace errand
