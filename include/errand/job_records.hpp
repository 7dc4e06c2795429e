#pragma once
// The job lifecycle as a record definition: a job row, owned by job_lifecycle,
// that any record store persists like any other machine.
//
//   errand::sqlite_record_store<errand::job_records> jobs("app.db");
//   auto job = jobs.create({.queue = "mail", .kind = "welcome", .payload = "{}"}, clock.now());
//   jobs.fire(job.id, errand::claim{"worker-1"}, clock.now());
//
// Its transitions are decided by decide(), the one place the lifecycle's
// semantics live, with the retry policy a definition chooses
// (basic_job_records<Policy>): a stale or duplicate report, a claim before
// run_at or a reap of a held lease write nothing, exactly as in the job queue.
// The reason a failure carries is read where each event keeps it
// (reason_of below), so the compile-time error discipline checks the
// lifecycle as it checks any machine.

#include <errand/decide.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>
#include <errand/record_step.hpp>
#include <errand/retry_policy.hpp>

#include <string>
#include <string_view>

namespace errand {

// The default retry policy, as a type a definition can name.
struct default_retry_policy {
  static retry_policy get() { return {}; }
};

template <class Policy = default_retry_policy>
struct basic_job_records {
  using row = job;
  using machine = job_lifecycle;
  static constexpr std::string_view table_name = "job_records";
  static constexpr auto id = &job::id;
  static constexpr auto state = &job::state;
  static constexpr auto version = &job::version;
  static constexpr auto error_reason = &job::last_error;
  static constexpr auto error_at = &job::last_error_at;

  static std::string_view reason_of(const fail& e) { return e.error.message; }
  static std::string_view reason_of(const cancel& e) { return e.reason ? std::string_view(*e.reason) : ""; }

  template <class Event>
  static auto step(const job& current, const Event& event, time_point now, const fire_options& options) {
    const decision d = decide(current, event, Policy::get(), now);
    record_step<basic_job_records> taken;
    taken.next = d.applied() ? d.next : current;
    taken.status = d.applied()                         ? fire_status::applied
                   : d.outcome == verdict::duplicate   ? fire_status::duplicate
                                                       : fire_status::rejected;
    taken.message = d.reason;
    if (d.record) {
      taken.dispatched = {d.record->from, d.record->to, Event::name, true, {}};
      taken.entry = {current.id, 0, d.record->from, d.record->to, d.record->event, d.record->payload,
                     options.idempotency_key, now};
    }
    return taken;
  }
};

using job_records = basic_job_records<>;

}  // namespace errand
