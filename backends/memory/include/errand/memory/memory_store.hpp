// The in-memory store: the test double users unit-test their code with, with
// the same semantics as the persistent backends (it passes the same
// conformance suite). Thread-safe; one mutex, no I/O.
//
// The jobs and their history are a record_table of job_records, the same
// compare-and-set and history append memory_record_store makes. Claims do not
// scan every job: claimable jobs sit in an index per queue ordered by
// (priority, run_at, id), running jobs in one ordered by lease expiry, and a
// count of running jobs per queue serves queue limits.

#ifndef ERRAND_MEMORY_MEMORY_STORE_HPP
#define ERRAND_MEMORY_MEMORY_STORE_HPP

#include <errand/config.hpp>
#include <errand/detail/store_facade.hpp>

namespace errand {

namespace detail::memory {
class store_engine;
}

// The operations of store and operator_store (store.hpp) come from store_facade.
class memory_store : public detail::store_facade<detail::memory::store_engine> {
 public:
  memory_store();

  // Waking idle workers (store_facade): every enqueue, retry, requeue and
  // resumed queue of this store is announced at once.
};

static_assert(operator_store<memory_store>);
static_assert(queue_controls<memory_store>);
static_assert(announces_work_stoppably<memory_store>);
static_assert(knows_next_due<memory_store>);

}  // namespace errand

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/memory/src.hpp>.
extern template class errand::detail::store_facade<errand::detail::memory::store_engine>;
#endif

#endif

// The implementation: in every translation unit by default, once with
// ERRAND_SEPARATE_COMPILATION (in the one that includes <errand/memory/src.hpp>).
#if (!defined(ERRAND_SEPARATE_COMPILATION) || defined(ERRAND_MEMORY_SOURCE)) && \
    !defined(ERRAND_MEMORY_MEMORY_STORE_IMPLEMENTATION)
#define ERRAND_MEMORY_MEMORY_STORE_IMPLEMENTATION

#include <errand/decide.hpp>
#include <errand/detail/listeners.hpp>
#include <errand/detail/work_signal.hpp>
#include <errand/job_records.hpp>
#include <errand/memory/detail/record_table.hpp>
#include <errand/outcome.hpp>
#include <errand/queue_settings.hpp>
#include <errand/store.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace errand {

namespace detail::memory {

class store_engine {
 public:
  enqueued enqueue(const job_spec& spec, time_point now) {
    validate(spec);
    enqueued done;
    {
      std::scoped_lock lock(mutex_);
      done = insert(spec, now);
    }
    if (done.created) work_.announce();
    return done;
  }

  std::vector<enqueued> enqueue_batch(std::span<const job_spec> specs, time_point now) {
    validate(specs);  // all or nothing
    std::vector<enqueued> out;
    out.reserve(specs.size());
    {
      std::scoped_lock lock(mutex_);
      for (const auto& spec : specs) out.push_back(insert(spec, now));
    }
    work_.announce();
    return out;
  }

  std::optional<job> get(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto* found = jobs_.find(id);
    if (!found) return std::nullopt;
    return found->row;
  }

  write_result apply(const decision& d) {
    std::optional<notification> committed;
    write_result result;
    {
      std::scoped_lock lock(mutex_);
      result = write(d, d.record, committed);
    }
    if (committed) listeners_.notify(*committed);
    return result;
  }

  // All or nothing: when one decision conflicts, none is written.
  std::vector<write_result> apply_batch(std::span<const decision> decisions) {
    for (const auto& d : decisions) require_applied(d);
    // One batch may write a job twice, the second time expecting the version the first wrote:
    // the decisions are checked job by job, each job's in batch order.
    std::vector<std::pair<std::int64_t, std::size_t>> by_job(decisions.size());
    for (std::size_t i = 0; i < decisions.size(); ++i) by_job[i] = {decisions[i].next.id, i};
    std::sort(by_job.begin(), by_job.end());
    std::vector<notification> committed;
    std::vector<write_result> results(decisions.size(), write_result::applied);
    {
      std::scoped_lock lock(mutex_);
      bool all_current = true;
      std::optional<std::int64_t> written_version;  // by this batch, of the job checked last
      for (std::size_t k = 0; k < by_job.size(); ++k) {
        const auto [id, i] = by_job[k];
        const auto& d = decisions[i];
        if (k == 0 || by_job[k - 1].first != id) written_version.reset();
        const auto* found = jobs_.find(id);
        const auto version = written_version ? *written_version : !found ? -1 : found->row.version;
        if (!found)
          results[i] = write_result::not_found;
        else if (version != d.expected_version)
          results[i] = write_result::conflict;
        else
          written_version = d.next.version;
        all_current = all_current && results[i] == write_result::applied;
      }
      if (!all_current) {
        for (auto& r : results)
          if (r == write_result::applied) r = write_result::conflict;
        return results;
      }
      for (const auto& d : decisions) {
        std::optional<notification> one;
        write(d, d.record, one);
        if (one) committed.push_back(std::move(*one));
      }
    }
    for (const auto& n : committed) listeners_.notify(n);
    return results;
  }

  std::optional<job> claim(const claim_request& request) {
    auto claimed = claim_batch(request, 1);
    if (claimed.empty()) return std::nullopt;
    return std::move(claimed.front());
  }

  std::vector<job> claim_batch(const claim_request& request, std::size_t limit) {
    validate(request);
    std::vector<notification> committed;
    std::vector<job> claimed;
    {
      std::scoped_lock lock(mutex_);
      while (claimed.size() < limit) {
        const auto id = next_due(request);
        if (!id) break;
        auto d =
            decide(jobs_.find(*id)->row, errand::claim{request.worker, request.lease}, retry_policy{}, request.now);
        if (!d.applied()) throw store_error("errand: memory store could not claim: " + d.reason);
        std::optional<notification> one;
        write(d, std::move(d.record), one);
        claimed.push_back(std::move(d.next));
        if (one) committed.push_back(std::move(*one));
      }
    }
    for (const auto& n : committed) listeners_.notify(n);
    return claimed;
  }

  std::vector<job> expired_leases(time_point now, std::size_t limit) const {
    std::scoped_lock lock(mutex_);
    std::vector<job> out;
    for (auto it = leases_.begin(); it != leases_.end() && out.size() < limit; ++it) {
      if (std::get<0>(*it) > now) break;
      out.push_back(jobs_.find(std::get<1>(*it))->row);
    }
    return out;
  }

  std::vector<job> query(const job_query& q) const {
    validate(q);
    std::scoped_lock lock(mutex_);
    std::vector<job> out;
    const auto& jobs = jobs_.rows();
    if (q.order == job_order::by_id) {
      for (auto it = jobs.upper_bound(q.after_id); it != jobs.end() && out.size() < q.limit; ++it)
        if (matches(q, it->second.row)) out.push_back(it->second.row);
      return out;
    }
    const auto later = [](const job& a, const job& b) {
      return std::tie(a.updated_at, a.id) > std::tie(b.updated_at, b.id);
    };
    const auto listed_after_cursor = [&](const job& row) {
      return !q.after_update ||
             std::tie(row.updated_at, row.id) < std::tie(q.after_update->updated_at, q.after_update->id);
    };
    for (const auto& [id, entry] : jobs)
      if (matches(q, entry.row) && listed_after_cursor(entry.row)) out.push_back(entry.row);
    const auto shown = std::min(out.size(), q.limit);
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(shown), out.end(), later);
    out.resize(shown);
    return out;
  }

  std::vector<history_record> history(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto* found = jobs_.find(id);
    if (!found) return {};
    return found->history;
  }

  std::optional<outcome> latest_outcome(std::int64_t id) const { return latest_outcome_of_job(id, history(id)); }

  state_counts count_by_state() const {
    std::scoped_lock lock(mutex_);
    state_counts counts;
    for (const auto& [id, entry] : jobs_.rows()) ++counts[entry.row.state];
    return counts;
  }

  std::vector<queue_summary> summarize(const summary_request& request) const {
    std::scoped_lock lock(mutex_);
    std::map<std::string, queue_summary> queues;
    for (const auto& [id, entry] : jobs_.rows()) {
      const job& row = entry.row;
      auto& summary = queues[row.queue];
      summary.queue = row.queue;
      ++summary.jobs[row.state];
      if (row.updated_at >= request.since) ++summary.updated_since[row.state];
      if (!claimable(row) || row.run_at > request.now) continue;
      ++summary.due;
      if (!summary.oldest_due_at || row.run_at < *summary.oldest_due_at) {
        summary.oldest_due_at = row.run_at;
        summary.oldest_due_id = row.id;
      }
    }
    std::vector<queue_summary> out;
    for (auto& [name, summary] : queues) out.push_back(std::move(summary));
    return out;
  }

  std::vector<error_group> error_groups(const error_group_query& q) const {
    validate(q);
    std::vector<job> failing;
    {
      std::scoped_lock lock(mutex_);
      for (const auto& [id, entry] : jobs_.rows()) {
        const job& row = entry.row;
        if (row.last_error && (!q.state || row.state == *q.state) && (!q.queue || row.queue == *q.queue) &&
            (!q.kind || row.kind == *q.kind) && (!q.since || row.last_error_at.value_or(row.updated_at) >= *q.since))
          failing.push_back(row);
      }
    }
    // Latest error first; ties: more jobs first, then by kind and message.
    std::map<std::pair<std::string, std::string>, error_group> groups;
    const auto failed_at = [](const job& row) { return row.last_error_at.value_or(row.updated_at); };
    std::sort(failing.begin(), failing.end(), [&](const job& a, const job& b) {
      return std::pair(failed_at(a), a.id) > std::pair(failed_at(b), b.id);
    });
    for (const job& row : failing) {
      auto& group = groups[{row.last_error_kind.value_or(""), *row.last_error}];
      if (group.jobs++ == 0) {
        group.error_kind = row.last_error_kind.value_or("");
        group.message = *row.last_error;
        group.last_at = failed_at(row);
      }
      group.first_at = failed_at(row);
      if (group.example_ids.size() < q.examples) group.example_ids.push_back(row.id);
    }
    std::vector<error_group> out;
    for (auto& [key, group] : groups) out.push_back(std::move(group));
    std::stable_sort(out.begin(), out.end(), [](const error_group& a, const error_group& b) {
      return std::tie(b.last_at, b.jobs) < std::tie(a.last_at, a.jobs);
    });
    if (out.size() > q.limit) out.resize(q.limit);
    return out;
  }

  prune_result prune(const prune_request& request) {
    std::scoped_lock lock(mutex_);
    prune_result result;
    auto& jobs = jobs_.rows();
    if (request.finished_before)
      for (auto it = jobs.begin(); it != jobs.end();) {
        const job& row = it->second.row;
        if (!is_finished(row.state) || row.updated_at >= *request.finished_before) {
          ++it;
          continue;
        }
        result.history_deleted += static_cast<std::int64_t>(it->second.history.size());
        ++result.jobs_deleted;
        if (row.unique_key) {
          const auto holders = unique_keys_.find(*row.unique_key);
          holders->second.erase(row.id);
          if (holders->second.empty()) unique_keys_.erase(holders);
        }
        it = jobs.erase(it);
      }
    if (request.keep_history) result.history_deleted += jobs_.trim_history(*request.keep_history);
    return result;
  }

  subscription subscribe(listener on_commit) { return listeners_.add(std::move(on_commit)); }

  std::uint64_t work_epoch() const noexcept { return work_.epoch(); }
  bool wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop) {
    return work_.wait(since, timeout, std::move(stop));
  }

  std::optional<time_point> next_run_at(time_point after) const {
    std::scoped_lock lock(mutex_);
    const auto next = run_ats_.upper_bound({after, std::numeric_limits<std::int64_t>::max()});
    if (next == run_ats_.end()) return std::nullopt;
    return next->first;
  }

  queue_setting pause_queue(const std::string& queue, time_point now) {
    return change_queue(queue, now, [](queue_setting& s) { s.paused = true; });
  }

  queue_setting resume_queue(const std::string& queue, time_point now) {
    return change_queue(queue, now, [](queue_setting& s) { s.paused = false; });
  }

  queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running, time_point now) {
    validate_queue_setting(queue, max_running);
    return change_queue(queue, now, [&](queue_setting& s) { s.max_running = max_running; });
  }

  std::vector<queue_setting> queue_settings() const {
    std::scoped_lock lock(mutex_);
    std::vector<queue_setting> out;
    for (const auto& [queue, setting] : queue_settings_) out.push_back(setting);
    return out;
  }

 private:
  using due_key = std::tuple<std::int32_t, time_point, std::int64_t>;  // priority, run_at, id
  using lease_key = std::tuple<time_point, std::int64_t>;

  static bool matches(const job_query& q, const job& row) {
    return row.id > q.after_id && (!q.state || row.state == *q.state) && (!q.queue || row.queue == *q.queue) &&
           (!q.kind || row.kind == *q.kind) && (!q.has_error || row.last_error.has_value() == *q.has_error) &&
           (!q.updated_since || row.updated_at >= *q.updated_since) &&
           (!q.updated_before || row.updated_at < *q.updated_before);
  }

  template <class Change>
  queue_setting change_queue(const std::string& queue, time_point now, Change change) {
    validate_queue_setting(queue, std::nullopt);
    std::scoped_lock lock(mutex_);
    queue_setting setting = queue_settings_.contains(queue) ? queue_settings_.at(queue) : queue_setting{queue};
    change(setting);
    setting.updated_at = now;
    if (is_default(setting))
      queue_settings_.erase(queue);
    else
      queue_settings_[queue] = setting;
    work_.announce();  // a queue resumed or given room has work to hand out
    return setting;
  }

  // Whether a claim may take one more job of `queue` now.
  bool may_claim_from(const std::string& queue) const {
    const auto setting = queue_settings_.find(queue);
    if (setting == queue_settings_.end()) return true;
    if (setting->second.paused) return false;
    if (!setting->second.max_running) return true;
    const auto running = running_.find(queue);
    return running == running_.end() || running->second < *setting->second.max_running;
  }

  static bool claimable(const job& row) { return is_claimable(row.state); }

  static void require_applied(const decision& d) {
    if (!d.applied()) throw std::invalid_argument("errand: only an applied decision can be written");
  }

  void index(const job& row) {
    if (claimable(row)) {
      due_[row.queue].insert({row.priority, row.run_at, row.id});
      run_ats_.insert({row.run_at, row.id});
    }
    if (is_leased(row.state) && row.lease_until) leases_.insert({*row.lease_until, row.id});
    if (is_leased(row.state)) ++running_[row.queue];
  }

  void unindex(const job& row) {
    if (claimable(row)) {
      const auto queue = due_.find(row.queue);
      queue->second.erase({row.priority, row.run_at, row.id});
      run_ats_.erase({row.run_at, row.id});
      if (queue->second.empty()) due_.erase(queue);
    }
    if (is_leased(row.state) && row.lease_until) leases_.erase({*row.lease_until, row.id});
    if (is_leased(row.state) && --running_[row.queue] == 0) running_.erase(row.queue);
  }

  enqueued insert(const job_spec& spec, time_point now) {
    if (spec.unique_key)
      if (const auto it = unique_keys_.find(*spec.unique_key); it != unique_keys_.end())
        for (auto id = it->second.rbegin(); id != it->second.rend(); ++id)  // the newest holder
          if (holds_unique_key(jobs_.find(*id)->row, spec, now)) return {*id, false};
    const auto id = ++last_id_;
    auto& stored = jobs_.insert(detail::new_job_row(spec, id, now));
    stored.history.reserve(2);  // its claim and its end, at once rather than growing under a claim's lock
    index(stored.row);
    if (spec.unique_key) unique_keys_[*spec.unique_key].insert(id);
    return {id, true};
  }

  // `record` is the decision's, copied or moved: the table keeps it.
  write_result write(const decision& d, std::optional<history_record> record, std::optional<notification>& committed) {
    require_applied(d);
    auto written = jobs_.compare_and_set(d.next.id, d.expected_version, d.next, std::move(record),
                                         [this](const job& before, const job& after) {
                                           unindex(before);
                                           index(after);
                                         });
    if (written.entry && !listeners_.empty()) committed = notification{d.next, *written.entry};
    if (written.result == write_result::applied && is_claimable(d.next.state)) work_.announce();
    return written.result;
  }

  // The first due job in priority order. Within one priority the index is
  // ordered by run_at, so each priority level costs one lookup.
  std::optional<std::int64_t> next_due(const claim_request& request) const {
    std::optional<due_key> best;
    const auto consider = [&](const std::set<due_key>& due) {
      auto it = due.begin();
      while (it != due.end()) {
        const auto priority = std::get<0>(*it);
        if (best && priority > std::get<0>(*best)) return;
        if (std::get<1>(*it) <= request.now) {
          if (!best || *it < *best) best = *it;
          return;
        }
        if (priority == std::numeric_limits<std::int32_t>::max()) return;
        it = due.lower_bound({priority + 1, time_point::min(), std::numeric_limits<std::int64_t>::min()});
      }
    };
    if (request.queues.empty()) {
      for (const auto& [queue, due] : due_)
        if (may_claim_from(queue)) consider(due);
    } else {
      for (const auto& queue : request.queues)
        if (const auto it = due_.find(queue); it != due_.end() && may_claim_from(queue)) consider(it->second);
    }
    if (!best) return std::nullopt;
    return std::get<2>(*best);
  }

  mutable std::mutex mutex_;
  record_table<job_records, history_record> jobs_;
  std::map<std::string, std::set<due_key>> due_;
  std::set<lease_key> leases_;
  std::set<std::pair<time_point, std::int64_t>> run_ats_;  // claimable jobs by run_at, for next_run_at()
  std::map<std::string, std::int64_t> running_;  // running jobs per queue, for queue limits
  std::map<std::string, queue_setting> queue_settings_;
  std::unordered_map<std::string, std::set<std::int64_t>> unique_keys_;  // the jobs with each key
  std::int64_t last_id_ = 0;
  detail::listeners listeners_;
  detail::work_signal work_;
};

}  // namespace detail::memory

ERRAND_DECL memory_store::memory_store() : store_facade(std::make_unique<detail::memory::store_engine>()) {}

}  // namespace errand

#endif
