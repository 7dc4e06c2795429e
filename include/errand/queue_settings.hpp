#pragma once
// An operator's controls over a queue, kept in the store so that they hold
// for every runner of the database at once:
//
//   store.pause_queue("mail", now);                 // claims take nothing from "mail"
//   store.resume_queue("mail", now);                // until it is resumed
//   store.set_queue_limit("reports", 2, now);       // at most 2 "reports" jobs running at once
//   store.set_queue_limit("reports", std::nullopt, now);  // no limit again
//   store.queue_settings();                         // every queue paused or limited
//
// Both are enforced in the claim: a paused queue's jobs stay pending (a job
// already running finishes), and a claim takes no more of a limited queue's
// jobs than its limit minus the jobs of that queue running now, counted
// across every process of the database. A job held by a dead worker counts
// as running until the reaper recovers it. A queue nobody set anything for
// is neither paused nor limited. docs/scheduling.md says what each costs.

#include <errand/error_text.hpp>
#include <errand/time.hpp>

#include <boost/describe/class.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace errand {

struct queue_setting {
  std::string queue;
  bool paused = false;
  std::optional<std::int32_t> max_running{};  // at most this many of its jobs running at once; empty: no limit
  time_point updated_at{};                    // when an operator last changed it

  friend bool operator==(const queue_setting&, const queue_setting&) = default;
};
BOOST_DESCRIBE_STRUCT(queue_setting, (), (queue, paused, max_running, updated_at))

// A store whose queues can be paused and limited; every errand backend is one.
// Each call returns the queue's setting as stored.
template <class S>
concept queue_controls = requires(S& s, const std::string& queue, std::optional<std::int32_t> max_running,
                                  time_point now) {
  { s.pause_queue(queue, now) } -> std::same_as<queue_setting>;
  { s.resume_queue(queue, now) } -> std::same_as<queue_setting>;
  { s.set_queue_limit(queue, max_running, now) } -> std::same_as<queue_setting>;
  // Every queue that is paused or limited, by name.
  { s.queue_settings() } -> std::same_as<std::vector<queue_setting>>;
};

// A queue with neither setting is not kept: it is what every queue is by default.
inline bool is_default(const queue_setting& setting) { return !setting.paused && !setting.max_running; }

// Refuses, before anything is written, a setting no claim could honour, or a
// queue name a database could not store (the rule job specs follow).
inline void validate_queue_setting(std::string_view queue, std::optional<std::int32_t> max_running) {
  if (queue.empty()) throw std::invalid_argument("errand: a queue setting needs a queue name");
  if (const auto why = unstorable_reason(queue))
    throw std::invalid_argument("errand: a queue name in a queue setting " + *why + "; nothing was written");
  if (max_running && *max_running < 1)
    throw std::invalid_argument("errand: queue '" + std::string(queue) + "' cannot be limited to " +
                                std::to_string(*max_running) +
                                " running jobs; the limit must be at least 1 (pause_queue stops a queue)");
}

}  // namespace errand
