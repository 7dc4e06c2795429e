#pragma once
// Periodic jobs: a job enqueued on every tick of a schedule.
//
//   errand::periodic_scheduler periodic;
//   periodic.add({.name = "nightly-report",
//                 .when = errand::schedule::cron("0 3 * * *"),        // 03:00 UTC
//                 .job = {.queue = "reports", .kind = "report"}});
//   periodic.add({.name = "cleanup", .when = errand::schedule::every(std::chrono::hours{1}),
//                 .job = {.kind = "cleanup"}});
//   periodic.enqueue_due(store, clock.now());   // what a runner does on every pass
//
// A runner does this for you: runner.schedule(periodic_job) registers one,
// and every pass of the runner enqueues the ticks that came due (runner.hpp).
//
// Exactly once per tick, across processes: a tick's job has the unique key
// "errand:periodic:<name>:<tick, ISO-8601>", the same in every process, so
// every runner of a database may run the same schedules and each tick is
// enqueued once; the others find the key taken. The key holds for as long
// as the job exists (the default scope of a unique key), so a tick's job must
// be kept (not pruned) longer than the window below, or a late process could
// enqueue that tick again.
//
// No burst after downtime: a pass at `now` enqueues
//   - every tick in [now - backfill, now] (graphile-worker's ?fill=), and
//   - the latest tick at or before now, if it is at most max_lateness old
//     (a pass that ran a little late, a process started just after a tick);
// ticks older than that are skipped, and counted in the result. A process
// that was down for a day enqueues, by default, nothing it missed.
//
// The job's run_at is its tick, so a handler reads which tick it serves from
// job_context::row().run_at (the nightly report knows which night).
//
// Time: cron fields are read in UTC, or at a fixed offset from UTC
// (schedule::cron(expression, offset)); intervals count from the Unix epoch,
// so every process agrees on the ticks without talking to the others.

#include <errand/cron.hpp>
#include <errand/job.hpp>
#include <errand/store.hpp>
#include <errand/time.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace errand {

// When a periodic job is due: a cron expression or a fixed interval.
class schedule {
 public:
  // The fields are read at `utc_offset` from UTC, which must be less than a
  // day either way. Throws std::invalid_argument for a bad expression
  // (cron.hpp says what is accepted) or offset.
  static schedule cron(std::string_view expression, std::chrono::minutes utc_offset = {}) {
    if (utc_offset <= -std::chrono::hours{24} || utc_offset >= std::chrono::hours{24})
      throw std::invalid_argument("errand: a schedule's UTC offset must be less than 24 hours either way");
    return schedule(cron_rule{cron_expression(expression), utc_offset});
  }

  // Ticks at every whole multiple of `interval` since 1970-01-01T00:00:00Z:
  // every(1h) ticks on the hour, every(15min) at :00, :15, :30 and :45.
  static schedule every(duration interval) {
    if (interval <= duration::zero()) throw std::invalid_argument("errand: a schedule's interval must be positive");
    return schedule(interval);
  }

  // The first tick strictly after `t`.
  time_point next_after(time_point t) const {
    if (const auto* rule = std::get_if<cron_rule>(&rule_)) return rule->expression.next_after(t, rule->utc_offset);
    const auto interval = std::get<duration>(rule_);
    auto whole = t.time_since_epoch() / interval;  // intervals since the epoch, rounded down
    if (t.time_since_epoch() % interval < duration::zero()) --whole;
    return time_point{(whole + 1) * interval};
  }

  // "cron '0 3 * * *' (UTC)", "cron '0 3 * * *' (UTC+01:00)", "every 3600s".
  std::string describe() const {
    if (const auto* rule = std::get_if<cron_rule>(&rule_)) {
      const auto offset = rule->utc_offset.count();
      std::string zone = "UTC";
      if (offset != 0) {
        const auto magnitude = offset < 0 ? -offset : offset;
        char text[48];
        std::snprintf(text, sizeof text, "%c%02lld:%02lld", offset < 0 ? '-' : '+',
                      static_cast<long long>(magnitude / 60), static_cast<long long>(magnitude % 60));
        zone += text;
      }
      return "cron '" + rule->expression.text() + "' (" + zone + ")";
    }
    const auto micros = std::get<duration>(rule_).count();
    return micros % 1'000'000 == 0 ? "every " + std::to_string(micros / 1'000'000) + "s"
                                   : "every " + std::to_string(micros) + "us";
  }

 private:
  struct cron_rule {
    cron_expression expression;
    std::chrono::minutes utc_offset;
  };
  explicit schedule(std::variant<cron_rule, duration> rule) : rule_(std::move(rule)) {}

  std::variant<cron_rule, duration> rule_;
};

struct periodic_job {
  std::string name;  // names the schedule in its jobs' unique keys: one name, one schedule, per database
  schedule when;
  job_spec job;                                     // what each tick enqueues; the scheduler sets run_at and unique_key
  duration backfill{};                              // enqueue every tick missed up to this long ago
  duration max_lateness = std::chrono::minutes{1};  // the latest tick is still enqueued this long after it
};

// One tick a pass handed to the store.
struct scheduled_tick {
  std::string name;
  time_point tick;
  enqueued result;  // created: this pass enqueued it; otherwise another process (or pass) had
};

struct periodic_pass {
  std::vector<scheduled_tick> ticks;
  std::int64_t skipped = 0;  // ticks since the last pass that backfill and max_lateness left out
};

class periodic_scheduler {
 public:
  // Throws std::invalid_argument for an empty or repeated name, a job spec
  // validate() refuses, a spec that sets run_at or a unique key (the
  // scheduler sets those), or a negative backfill or max_lateness.
  void add(periodic_job job) {
    if (job.name.empty()) throw std::invalid_argument("errand: a periodic job needs a name");
    const std::string which = "errand: periodic job '" + job.name + "'";
    if (job.job.run_at) throw std::invalid_argument(which + " sets run_at; each tick's job runs at its tick");
    if (job.job.unique_key || !job.job.unique_states.empty() || job.job.unique_period)
      throw std::invalid_argument(which + " sets a unique key; the scheduler keys each tick's job itself");
    job_spec keyed = job.job;  // the name goes into every key: refused now, not at every tick
    keyed.unique_key = unique_key_for(job.name, time_point{});
    validate(keyed);
    if (job.backfill < duration::zero() || job.max_lateness < duration::zero())
      throw std::invalid_argument(which + " has a negative backfill or max_lateness");
    std::scoped_lock lock(mutex_);
    for (const auto& e : entries_)
      if (e.job.name == job.name) throw std::invalid_argument(which + " is added already");
    entries_.push_back({std::move(job), std::nullopt});
  }

  bool empty() const {
    std::scoped_lock lock(mutex_);
    return entries_.empty();
  }

  // Enqueues, in one enqueue_batch, every tick that came due since the last
  // pass (the rules above). When the store throws, nothing counts as done and
  // the next pass tries the same ticks again; the exception reaches the caller.
  template <store S>
  periodic_pass enqueue_due(S& jobs, time_point now) {
    std::scoped_lock lock(mutex_);
    periodic_pass pass;
    std::vector<job_spec> specs;
    std::vector<std::pair<std::size_t, time_point>> due;  // entry, tick
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      const auto oldest = shifted(now, -std::max(e.job.backfill, e.job.max_lateness));
      const auto fill_from = shifted(now, -e.job.backfill);
      // Ticks before a scheduler's first pass are not its own to skip: it was not running.
      const auto skip = [&] { pass.skipped += e.handled_until ? 1 : 0; };
      std::vector<time_point> recent;  // the ticks since the last pass that are not too old
      for (auto t = e.job.when.next_after(e.handled_until.value_or(oldest - duration{1})); t <= now;
           t = e.job.when.next_after(t)) {
        if (t < oldest)
          skip();
        else
          recent.push_back(t);
      }
      for (const auto t : recent)
        if (t >= fill_from || t == recent.back())
          due.emplace_back(i, t);
        else
          skip();
    }
    for (const auto& [i, tick] : due) {
      job_spec spec = entries_[i].job.job;
      spec.run_at = tick;
      spec.unique_key = unique_key_for(entries_[i].job.name, tick);
      specs.push_back(std::move(spec));
    }
    const auto results = specs.empty() ? std::vector<enqueued>{} : jobs.enqueue_batch(specs, now);
    for (std::size_t k = 0; k < due.size(); ++k)
      pass.ticks.push_back({entries_[due[k].first].job.name, due[k].second, results.at(k)});
    for (auto& e : entries_) e.handled_until = now;
    next_due_ = std::nullopt;
    for (const auto& e : entries_) {
      const auto next = e.job.when.next_after(now);
      next_due_ = next_due_ ? std::min(*next_due_, next) : next;
    }
    return pass;
  }

  // The earliest tick after the last pass; nullopt before the first pass.
  std::optional<time_point> next_due() const {
    std::scoped_lock lock(mutex_);
    return next_due_;
  }

  // The unique key of the job a schedule enqueues for `tick`.
  static std::string unique_key_for(std::string_view name, time_point tick) {
    return "errand:periodic:" + std::string(name) + ":" + to_iso8601(tick);
  }

 private:
  struct entry {
    periodic_job job;
    std::optional<time_point> handled_until;  // every tick up to here was enqueued or skipped
  };

  mutable std::mutex mutex_;
  std::vector<entry> entries_;
  std::optional<time_point> next_due_;
};

}  // namespace errand
