#pragma once
// Reporting an event for a job held in a store: read the row, decide, write it
// as a compare-and-set. A lost race (another writer moved the version on) is
// decided again on the fresh row, so the answer always reflects what committed.

#include <errand/decide.hpp>
#include <errand/store.hpp>

#include <optional>
#include <string>
#include <utility>

namespace errand {

struct report_result {
  verdict outcome = verdict::rejected;
  rejection why = rejection::none;
  std::string reason;
  std::optional<job> row;  // the row after the report (applied or duplicate), or as it stands (rejected)

  bool applied() const noexcept { return outcome == verdict::applied; }
  bool accepted() const noexcept { return outcome != verdict::rejected; }

  // `if (auto r = errand::report(...))`, as with a machine's dispatch_result:
  // true when the report was taken (applied, or a duplicate of one that was).
  explicit operator bool() const noexcept { return accepted(); }
};

namespace detail {

// Decides on `held` first when given (the row as the caller last wrote it),
// reading nothing; anything but an applied write on it is decided again on
// the row as stored.
template <store S, class Decide>
report_result decide_and_write(S& s, std::int64_t id, Decide&& decide_on, std::optional<job> held = std::nullopt) {
  for (;;) {
    const bool trusted = !held;  // a row read now, not one remembered
    const auto current = held ? std::exchange(held, std::nullopt) : s.get(id);
    if (!current)
      return {verdict::rejected, rejection::no_such_job, "job " + std::to_string(id) + " does not exist", {}};
    decision d = decide_on(*current);
    if (!d.applied() && !trusted) continue;
    if (!d.applied()) return {d.outcome, d.why, std::move(d.reason), std::move(d.next)};
    switch (s.apply(d)) {
      case write_result::applied:
        return {verdict::applied, rejection::none, {}, std::move(d.next)};
      case write_result::not_found:
        return {verdict::rejected, rejection::no_such_job, "job " + std::to_string(id) + " does not exist", {}};
      case write_result::conflict:
        break;  // someone else wrote first: decide again on what they wrote
    }
  }
}

}  // namespace detail

template <store S, class Event>
report_result report(S& s, std::int64_t id, const Event& e, const retry_policy& policy, time_point now) {
  return detail::decide_and_write(s, id, [&](const job& current) { return decide(current, e, policy, now); });
}

// The same for the worker holding the job, deciding on `held`, the row as it
// last wrote it (its claim, its last heartbeat): one write and no read while
// nobody else wrote the job since; a lost compare-and-set reads and decides again.
template <store S, class Event>
report_result report_held(S& s, const job& held, const Event& e, const retry_policy& policy, time_point now) {
  return detail::decide_and_write(
      s, held.id, [&](const job& current) { return decide(current, e, policy, now); }, held);
}

template <store S>
report_result heartbeat(S& s, std::int64_t id, const std::string& worker, std::int32_t attempt, duration lease,
                        time_point now) {
  return detail::decide_and_write(
      s, id, [&](const job& current) { return extend_lease(current, worker, attempt, lease, now); });
}

// A heartbeat from the worker holding `held`, deciding on it first as report_held does.
template <store S>
report_result heartbeat_held(S& s, const job& held, duration lease, time_point now) {
  return detail::decide_and_write(
      s, held.id,
      [&](const job& current) {
        return extend_lease(current, held.worker.value_or(""), held.attempt, lease, now);
      },
      held);
}

// One reaper pass: every job whose lease expired before `now` becomes
// lease_expired with a reason naming its worker and last heartbeat. Run at
// start-up, it is crash recovery. Returns the jobs it recovered.
template <store S>
std::vector<job> reap(S& s, const retry_policy& policy, time_point now, std::size_t limit = 1000) {
  std::vector<job> recovered;
  for (const job& expired : s.expired_leases(now, limit)) {
    // The reason is read off the row being decided on, so that a heartbeat
    // which won a race is the one the reason names.
    auto result = detail::decide_and_write(s, expired.id, [&](const job& current) {
      return decide(current, lease_expired{expired.attempt, lease_expiry_reason(current)}, policy, now);
    });
    if (result.applied()) recovered.push_back(std::move(*result.row));
  }
  return recovered;
}

}  // namespace errand
