#pragma once
// The runner: a pool of worker threads over any store. It claims due jobs,
// runs each one's handler with a deadline and a stop_token, keeps its lease
// alive with heartbeats, reaps the leases of workers that died, and shuts down
// without losing a job. Every write goes through report(), heartbeat() and
// reap() (report.hpp), so every write is a decision (decide.hpp) applied as a
// compare-and-set: the runner never writes a row itself.
//
// Time comes from an injected errand::clock. The runner's work is split into
// steps that a test drives by hand with a manual_clock, without sleeping:
//
//   poll()            claim due jobs for idle threads and start their handlers
//   supervise()       at clock.now(): time out attempts past their deadline,
//                     send due heartbeats, release jobs at the end of a
//                     shutdown's grace period, run the reaper when it is due,
//                     enqueue the periodic jobs whose ticks came due
//   wait_idle()       block until every started handler has returned and reported
//   begin_shutdown()  stop claiming and request stop on the running handlers
//
// start() runs those same steps on a background thread, woken by the store's
// notifications, by threads going idle, by notify(), by a store that announces
// work and by the poll interval; its threads then also take (or claim) their
// next job themselves and write their reports in batches. stop() shuts it
// down gracefully. docs/runner.md is the user's guide; "Throughput knobs"
// there says what prefetch, report_batch, report_delay and claim_gather cost.

#include <errand/clock.hpp>
#include <errand/detail/work_signal.hpp>
#include <errand/handler.hpp>
#include <errand/periodic.hpp>
#include <errand/report.hpp>
#include <errand/retry_policy.hpp>
#include <errand/store.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

namespace errand {

struct runner_options {
  std::size_t threads = 4;                              // handlers that run at once, one thread each
  std::string worker_id{};                              // empty: "hostname:pid"; thread i reports as "<worker_id>:<i>"
  std::vector<std::string> queues{};                    // the queues to claim from; empty: every queue
  duration lease = std::chrono::seconds{30};            // how long a claim holds a job without a heartbeat
  std::optional<duration> heartbeat_interval{};         // empty: lease / 3
  duration deadline = std::chrono::minutes{10};         // how long one attempt may run (handler_options overrides)
  duration poll_interval = std::chrono::seconds{1};     // the longest start() waits between claims
  duration reaper_interval = std::chrono::seconds{30};  // how often expired leases are looked for
  std::size_t reaper_batch = 1000;                      // the most jobs one reaper pass recovers
  duration shutdown_grace = std::chrono::seconds{30};   // how long stop() lets running handlers finish
  // Throughput knobs: docs/runner.md, "Throughput knobs", says what each costs.
  std::size_t prefetch = 0;       // jobs claimed ahead of a free thread; handed back at shutdown, attempts undone
  std::size_t report_batch = 64;  // the most reports written in one apply_batch; 1: one by one
  duration report_delay = std::chrono::milliseconds{5};  // the longest a report waits for its batch; 0: none
  // The longest a thread about to claim waits for the threads whose handlers
  // are returning, to claim for them too (real time, at most poll_interval);
  // 0: never. Empty: a quarter of what this runner's claims take, once
  // nearly all of them are round trips to a database.
  std::optional<duration> claim_gather{};
  retry_policy retry{};                         // when a failed attempt runs again
  std::function<void(std::string_view)> log{};  // empty: one line per message on std::clog
};

// What the runner has done so far; every counter only grows.
struct runner_stats {
  std::int64_t claimed = 0;               // attempts started (a prefetched job's starts when it is claimed)
  std::int64_t succeeded = 0;             // handlers' successes the store accepted
  std::int64_t failed = 0;                // handlers' failures the store accepted (returned or thrown)
  std::int64_t timed_out = 0;             // attempts recorded as timeouts
  std::int64_t released_at_shutdown = 0;  // attempts recorded as unfinished at shutdown
  std::int64_t released_unstarted = 0;    // prefetched jobs released at shutdown before a handler started them
  std::int64_t heartbeats = 0;            // lease extensions written
  std::int64_t leases_lost = 0;           // attempts whose lease another writer took (the reaper, mostly)
  std::int64_t reaped = 0;                // jobs of dead workers recovered by this runner's reaper
  std::int64_t rejected_reports = 0;      // late reports the store refused (after a timeout, a lost lease, a shutdown)
  std::int64_t report_batches = 0;        // apply_batch calls that wrote handlers' reports together
  std::int64_t store_errors = 0;          // store operations that threw; logged, retried on the next pass
  std::int64_t periodic_enqueued = 0;     // periodic jobs' ticks this runner enqueued (other runners enqueue the rest)
  std::int64_t periodic_skipped = 0;      // ticks older than their backfill and max_lateness allow, not enqueued
};

namespace detail {

inline const clock& wall_clock() {
  static const system_clock instance;
  return instance;
}

inline std::string default_worker_id() {
  std::string host = "localhost";
  long pid = 0;
#if __has_include(<unistd.h>)
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') host = name;
  pid = static_cast<long>(getpid());
#endif
  return host + ":" + std::to_string(pid);
}

// "600s", "1.5s", "250ms", "80us": whole seconds when it has them, else milliseconds.
inline std::string duration_text(duration d) {
  using namespace std::chrono;
  const auto micros = d.count();
  if (micros % 1'000'000 == 0) return std::to_string(micros / 1'000'000) + "s";
  if (d >= seconds{1}) {
    std::string fraction = std::to_string(micros % 1'000'000);
    fraction.insert(0, 6 - fraction.size(), '0');
    fraction.erase(fraction.find_last_not_of('0') + 1);
    return std::to_string(micros / 1'000'000) + "." + fraction + "s";
  }
  if (micros % 1'000 == 0) return std::to_string(micros / 1'000) + "ms";
  return std::to_string(micros) + "us";
}

// Wakes the background loop early. Shared with the store's listener, which may
// still be running when the runner is gone.
class wakeup {
 public:
  void notify() {
    {
      std::scoped_lock lock(mutex_);
      pending_ = true;
    }
    ready_.notify_all();
  }

  void wait(std::stop_token stop, duration at_most) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, stop, waitable(at_most), [&] { return pending_; });
    pending_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any ready_;
  bool pending_ = false;
};

struct registered_handler {
  erased_handler run;
  handler_options options;
};

template <store S>
class runner_engine;

}  // namespace detail

template <store S>
class runner {
 public:
  // The store and the clock must outlive the runner.
  explicit runner(S& jobs, runner_options options = {}, const clock& time = detail::wall_clock());

  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  // A graceful stop(), then waits for every handler to return, even one that
  // ignores its stop_token (its job was released already).
  ~runner();

  // Registers the handler for jobs of `kind`, whose payload the codec decodes
  // as Payload. A payload that does not decode fails the job, not retryable.
  template <class Payload, std::invocable<const Payload&, job_context&> F>
  runner& handle(std::string kind, F handler, handler_options options = {}) {
    engine_->template handle<Payload>(std::move(kind), std::move(handler), options);
    return *this;
  }

  // Registers a handler that gets the payload as the JSON text stored.
  template <std::invocable<const std::string&, job_context&> F>
  runner& handle(std::string kind, F handler, handler_options options = {}) {
    engine_->handle(std::move(kind), std::move(handler), options);
    return *this;
  }

  // Enqueues a job on every tick of `job.when` (periodic.hpp): each
  // supervise() enqueues the ticks that came due, and start()'s loop wakes for
  // them. Every runner of a database may schedule the same periodic jobs:
  // each tick is enqueued once. Register them before the first poll() or
  // start(), as handlers.
  runner& schedule(periodic_job job);

  // Claims a due job for every idle thread and starts its handler. Returns how
  // many it started.
  std::size_t poll();

  // Everything that depends on the time, at clock.now(): deadlines, heartbeats,
  // the end of a shutdown's grace period, the reaper (its first pass, the
  // crash recovery, happens on the first call) and periodic jobs.
  void supervise();

  // Blocks until no handler is running: every started attempt has returned
  // and its report has been written (or refused).
  void wait_idle();

  // Stops claiming and requests stop on every running handler. Handlers still
  // running when the grace period (measured on the clock) is over are recorded
  // as failures of kind `shutdown` by supervise(), and retry.
  void begin_shutdown();

  // Production mode: runs the start-up reaper pass (crash recovery) and a
  // first poll in the calling thread, then polls and supervises on a
  // background thread until stop().
  void start();

  // Graceful shutdown: stop claiming, request stop on the running handlers,
  // give them the grace period (on the clock), then record those still
  // running as unfinished so they retry. Returns without waiting for a handler
  // that ignores its stop_token; the destructor does. Safe to call twice.
  void stop();

  // Wakes a started runner's idle threads at once, to claim what was just
  // enqueued: call it after an enqueue in the same process. Store
  // notifications wake it on their own for retries and requeues; without
  // notify() an enqueue waits for at most poll_interval. Cheap, and safe from
  // any thread at any time (a runner not started ignores it).
  void notify();

  runner_stats stats() const;

  // The identities the threads claim and report as, thread i at index i.
  std::vector<std::string> workers() const;

 private:
  // The threads hold a pointer to the engine, which therefore never moves.
  std::unique_ptr<detail::runner_engine<S>> engine_;
};

namespace detail {

// The runner's work. runner<S> forwards to it from members defined out of
// the class, so that `extern template class runner<S>` (what the backends'
// umbrella headers declare under ERRAND_SEPARATE_COMPILATION) leaves all of
// it to the one translation unit that instantiates runner<S>.
template <store S>
class runner_engine {
 public:
  runner_engine(S& jobs, runner_options options, const clock& time)
      : store_(jobs), options_(std::move(options)), clock_(time) {
    if (options_.threads == 0) throw std::invalid_argument("errand: a runner needs at least one thread");
    if (options_.lease <= duration::zero() || options_.poll_interval <= duration::zero() ||
        options_.heartbeat_interval.value_or(options_.lease) <= duration::zero())
      throw std::invalid_argument("errand: a runner's lease, heartbeat interval and poll interval must be positive");
    if (options_.heartbeat_interval.value_or(duration::zero()) >= options_.lease)
      throw std::invalid_argument("errand: a runner's heartbeat interval must be shorter than its lease");
    if (options_.worker_id.empty()) options_.worker_id = detail::default_worker_id();
    heartbeat_interval_ = options_.heartbeat_interval.value_or(options_.lease / 3);
    // A report waiting for its batch gets no heartbeat: it must be written
    // well before the lease it holds runs out.
    if (options_.report_batch == 0 || options_.report_delay < duration::zero() ||
        options_.report_delay >= heartbeat_interval_)
      throw std::invalid_argument(
          "errand: a runner's report_batch must be at least 1 and its report_delay shorter than its heartbeat "
          "interval");
    if (options_.claim_gather.value_or(duration::zero()) < duration::zero())
      throw std::invalid_argument("errand: a runner's claim_gather cannot be negative");
    if (std::isnan(options_.retry.multiplier) || std::isnan(options_.retry.jitter))
      throw std::invalid_argument("errand: a runner's retry policy has a multiplier or a jitter that is NaN");
    if (!options_.log)
      options_.log = [](std::string_view line) { std::clog << ("errand: " + std::string(line) + "\n") << std::flush; };
    slots_ = std::vector<slot>(options_.threads);
    for (std::size_t i = 0; i < slots_.size(); ++i) slots_[i].worker = options_.worker_id + ":" + std::to_string(i);
    // A store that announces work wakes the loop through watch_for_work().
    // Listening to its transitions as well would make it build a notification
    // for every one (and postgres_store read back every other process's).
    if constexpr (!announces_work<S>)
      listening_ = store_.subscribe([wake = wake_](const notification& n) {
        if (is_claimable(n.row.state)) wake->notify();
      });
    for (std::size_t i = 0; i < slots_.size(); ++i)
      slots_[i].thread = std::jthread([this, i](std::stop_token stop) { serve(i, stop); });
  }

  runner_engine(const runner_engine&) = delete;
  runner_engine& operator=(const runner_engine&) = delete;

  ~runner_engine() {
    stop();
    for (auto& s : slots_) s.thread.request_stop();
    work_ready_.notify_all();
    for (auto& s : slots_) s.thread.join();
    write_waiting_reports(true);  // of handlers that returned after stop()
    listening_.reset();
  }

  template <class Payload, std::invocable<const Payload&, job_context&> F>
  runner_engine& handle(std::string kind, F handler, handler_options options) {
    return add_handler(std::move(kind), detail::typed_handler<Payload>(std::move(handler)), options);
  }

  template <std::invocable<const std::string&, job_context&> F>
  runner_engine& handle(std::string kind, F handler, handler_options options) {
    return add_handler(std::move(kind), detail::raw_handler(std::move(handler)), options);
  }

  runner_engine& schedule(periodic_job job) {
    std::scoped_lock lock(mutex_);
    if (started_) throw std::logic_error("errand: schedule periodic jobs before the runner's first poll() or start()");
    periodic_.add(std::move(job));
    return *this;
  }

  // Idle threads get the prefetched jobs first, then a claim each under their
  // own identity; what is left of `prefetch` is then claimed in one batch. A
  // started runner claims for them once, as its threads do (poll_started()).
  std::size_t poll() {
    std::vector<std::size_t> reserved;
    std::size_t started = 0;
    {
      std::unique_lock lock(mutex_);
      started_ = true;
      if (shutting_down_) return 0;
      if (self_serving_) return poll_started(lock);
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].state != slot_state::idle) continue;
        if (auto next = take_prefetched()) {
          begin_attempt(slots_[i], std::move(next));
          ++started;
        } else {
          slots_[i].state = slot_state::claiming;
          reserved.push_back(i);
        }
      }
    }
    bool more_due = true;
    for (const std::size_t i : reserved) {
      std::vector<job> claimed;
      if (more_due) claimed = claim_for(slots_[i].worker, 1);
      more_due = !claimed.empty();
      std::scoped_lock lock(mutex_);
      if (claimed.empty()) {
        slots_[i].state = slot_state::idle;
        continue;
      }
      ++stats_.claimed;
      begin_attempt(slots_[i], make_attempt(std::move(claimed.front())));
      ++started;
    }
    if (more_due)
      prefetch_more();
    else
      remember_next_due();
    work_ready_.notify_all();
    idle_.notify_all();
    return started;
  }

  void supervise() {
    const time_point now = clock_.now();
    supervise_attempts(now);
    write_waiting_reports(false);
    if (!periodic_.empty()) enqueue_periodic(now);
    bool reap_due = false;
    {
      std::scoped_lock lock(mutex_);
      if (now >= next_reap_) {
        next_reap_ = shifted(now, options_.reaper_interval);
        reap_due = true;
      }
    }
    if (reap_due) reap_expired(now);
  }

  void wait_idle() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] {
      return reports_.empty() && reports_writing_ == 0 &&
             std::none_of(slots_.begin(), slots_.end(), [](const slot& s) { return s.state != slot_state::idle; });
    });
  }

  void begin_shutdown() {
    std::vector<std::shared_ptr<attempt>> running;
    std::vector<std::shared_ptr<attempt>> unstarted;
    {
      std::scoped_lock lock(mutex_);
      if (shutting_down_) return;
      shutting_down_ = true;
      grace_end_ = shifted(clock_.now(), options_.shutdown_grace);
      for (const auto& s : slots_)
        if (s.current) running.push_back(s.current);
      unstarted.assign(std::make_move_iterator(prefetched_.begin()), std::make_move_iterator(prefetched_.end()));
      prefetched_.clear();
    }
    work_ready_.notify_all();
    arrived_.notify_all();
    for (const auto& a : running) a->stop.request_stop();
    if (!running.empty())
      log(options_.worker_id + " shutting down: " + std::to_string(running.size()) + " running job(s) get " +
          detail::duration_text(options_.shutdown_grace) + " to finish");
    release_unstarted(unstarted);
  }

  void start() {
    {
      std::scoped_lock lock(mutex_);
      if (loop_.joinable() || shutting_down_)
        throw std::logic_error("errand: a runner starts once, before it is stopped");
      started_ = true;
      self_serving_ = true;
    }
    // Taken before the first poll: what is enqueued after it wakes the loop.
    const auto since = work_epoch();
    supervise();
    poll();
    loop_ = std::jthread([this](std::stop_token stop) { run_loop(stop); });
    if constexpr (announces_work<S>)
      watcher_ = std::jthread([this, since](std::stop_token stop) { watch_for_work(stop, since); });
  }

  void stop() {
    begin_shutdown();
    for (auto* background : {&watcher_, &loop_})
      if (background->joinable()) {
        background->request_stop();
        background->join();
      }
    for (;;) {
      supervise_attempts(clock_.now());
      write_waiting_reports(true);
      std::unique_lock lock(mutex_);
      const bool unfinished = std::any_of(slots_.begin(), slots_.end(),
                                          [](const slot& s) { return s.current && s.current->ended == ending::none; });
      if (!unfinished) return;
      // Past the grace period only a failed store write keeps an attempt
      // unfinished: it is retried at the poll interval.
      const duration left = grace_end_ - clock_.now();
      idle_.wait_for(lock, detail::waitable(left > duration::zero() ? std::min(left, options_.poll_interval)
                                                                   : options_.poll_interval));
    }
  }

  void notify() { wake_->notify(); }

  runner_stats stats() const {
    std::scoped_lock lock(mutex_);
    return stats_;
  }

  std::vector<std::string> workers() const {
    std::vector<std::string> ids;
    for (const auto& s : slots_) ids.push_back(s.worker);
    return ids;
  }

 private:
  // claiming: reserved by poll(), which claims for it; waiting: in
  // continue_with(), for another thread's claim to serve it.
  enum class slot_state { idle, claiming, waiting, busy };
  enum class ending { none, timed_out, released, lease_lost };

  // One claimed attempt, from claim to report.
  struct attempt {
    job row;                                              // as claimed
    job held;                                             // guarded by mutex_; as this runner last wrote it
    std::string worker;                                   // the identity it was claimed under, which it reports as
    const detail::registered_handler* handler = nullptr;  // null: no handler for the kind
    duration allowed{};
    time_point deadline = time_point::max();  // guarded by mutex_; set when a thread starts it
    time_point next_heartbeat{};              // guarded by mutex_
    std::stop_source stop;
    ending ended = ending::none;  // guarded by mutex_; set once the runner recorded the attempt's end itself
    bool returned = false;        // guarded by mutex_; the handler returned and its report is being written
  };

  struct slot {
    std::string worker;
    slot_state state = slot_state::idle;  // guarded by mutex_
    std::shared_ptr<attempt> current;     // guarded by mutex_
    std::jthread thread;
  };

  // What a handler returned, waiting to be written with others.
  struct pending_report {
    std::shared_ptr<attempt> of;
    job_result result;
    time_point at;  // when the handler returned
  };

  // Deadlines, heartbeats and the end of a shutdown's grace period, at `now`.
  // Prefetched attempts get heartbeats too: their leases run from the claim.
  void supervise_attempts(time_point now) {
    std::vector<std::shared_ptr<attempt>> timed_out, released, due_heartbeat;
    {
      std::scoped_lock lock(mutex_);
      for (auto& s : slots_) {
        const auto& a = s.current;
        if (!a || a->ended != ending::none || a->returned) continue;
        if (now >= a->deadline) {
          a->ended = ending::timed_out;
          timed_out.push_back(a);
        } else if (shutting_down_ && now >= grace_end_) {
          a->ended = ending::released;
          released.push_back(a);
        } else if (now >= a->next_heartbeat) {
          a->next_heartbeat = shifted(now, heartbeat_interval_);
          due_heartbeat.push_back(a);
        }
      }
      for (const auto& a : prefetched_)
        if (a->ended == ending::none && now >= a->next_heartbeat) {
          a->next_heartbeat = shifted(now, heartbeat_interval_);
          due_heartbeat.push_back(a);
        }
    }
    for (const auto& a : timed_out)
      end_attempt(a, failure{"timed out after " + detail::duration_text(a->allowed), std::string(error_kind::timeout)},
                  now);
    for (const auto& a : released)
      end_attempt(
          a, failure{"worker " + a->worker + " shut down before the job finished", std::string(error_kind::shutdown)},
          now);
    for (const auto& a : due_heartbeat) extend_lease(a, now);
  }

  runner_engine& add_handler(std::string kind, detail::erased_handler run, handler_options options) {
    std::scoped_lock lock(mutex_);
    if (started_) throw std::logic_error("errand: register handlers before the runner's first poll() or start()");
    if (!handlers_.emplace(kind, detail::registered_handler{std::move(run), options}).second)
      throw std::logic_error("errand: a handler for kind '" + kind + "' is registered already");
    return *this;
  }

  std::vector<job> claim_for(const std::string& worker, std::size_t n) {
    try {
      return store_.claim_batch(claim_request{worker, options_.lease, clock_.now(), options_.queues}, n);
    } catch (const std::exception& e) {
      store_failed("claim by " + worker, e);
      return {};
    }
  }

  job held_row(const std::shared_ptr<attempt>& a) const {
    std::scoped_lock lock(mutex_);
    return a->held;
  }

  std::shared_ptr<attempt> make_attempt(job row) {
    auto a = std::make_shared<attempt>();
    const auto found = handlers_.find(row.kind);
    a->handler = found == handlers_.end() ? nullptr : &found->second;
    a->allowed = a->handler && a->handler->options.deadline ? *a->handler->options.deadline : options_.deadline;
    a->next_heartbeat = (row.heartbeat_at ? *row.heartbeat_at : clock_.now()) + heartbeat_interval_;
    a->worker = row.worker.value_or("");
    a->held = row;
    a->row = std::move(row);
    return a;
  }

  // Called with mutex_ held. The deadline runs from here, not from the claim:
  // a prefetched job's time in the queue is not its handler's.
  void begin_attempt(slot& s, std::shared_ptr<attempt> a) {
    a->deadline = shifted(clock_.now(), a->allowed);
    if (shutting_down_) a->stop.request_stop();  // shutdown began while it was being claimed
    s.current = std::move(a);
    s.state = slot_state::busy;
  }

  // Called with mutex_ held: the next prefetched attempt whose lease is still ours.
  std::shared_ptr<attempt> take_prefetched() {
    while (!prefetched_.empty()) {
      auto next = std::move(prefetched_.front());
      prefetched_.pop_front();
      if (next->ended == ending::none) return next;
    }
    return nullptr;
  }

  // Called with mutex_ held.
  std::size_t prefetch_room() const {
    return shutting_down_ ? 0 : options_.prefetch - std::min(options_.prefetch, prefetched_.size());
  }

  void prefetch_more() {
    std::size_t room = 0;
    {
      std::scoped_lock lock(mutex_);
      room = prefetch_room();
    }
    if (room > 0) hand_out(claim_for(slots_.front().worker, room), nullptr);
  }

  // Claimed jobs go to `mine` first, then to idle threads of a started
  // runner, then to the prefetch queue; whatever shutdown leaves over is
  // released. Returns the attempt `mine` starts, if any.
  std::shared_ptr<attempt> hand_out(std::vector<job> claimed, slot* mine) {
    std::shared_ptr<attempt> own;
    std::vector<std::shared_ptr<attempt>> unstarted;  // not a deque, which allocates when it is made
    {
      std::scoped_lock lock(mutex_);
      stats_.claimed += static_cast<std::int64_t>(claimed.size());
      auto next = claimed.begin();
      if (mine && next != claimed.end()) {
        begin_attempt(*mine, make_attempt(std::move(*next++)));
        own = mine->current;
      }
      if (self_serving_)  // under poll() alone, only poll() starts handlers
        for (auto& s : slots_)
          if ((s.state == slot_state::idle || s.state == slot_state::waiting) && next != claimed.end())
            begin_attempt(s, make_attempt(std::move(*next++)));
      for (; next != claimed.end(); ++next) {
        if (shutting_down_)
          unstarted.push_back(make_attempt(std::move(*next)));
        else
          prefetched_.push_back(make_attempt(std::move(*next)));
      }
    }
    work_ready_.notify_all();
    release_unstarted(unstarted);
    return own;
  }

  // A thread of a started runner that finished an attempt runs the next one
  // without going idle: a prefetched one, or one claimed for it. One thread at
  // a time claims, in one claim_batch, for itself, for the threads waiting for
  // a job or idle, and for the prefetch queue's room. A thread that finds that
  // claim under way waits for it: the claim may serve it, and if not, it claims
  // next, for itself and for whoever waits by then. So claims grow with the
  // load instead of running beside each other: on PostgreSQL each claim is a
  // commit (and commits that notify are flushed one at a time), on SQLite a
  // write transaction. A claim that came back short (nothing more was due)
  // sends the threads still waiting idle, to be woken by the next notification
  // or poll. Where claims take less time than waking a waiting thread (the
  // memory store), waiting costs more than it saves: without a prefetch queue
  // to refill, the thread then claims its own job beside the claim under way.
  std::shared_ptr<attempt> continue_with(slot& mine) {
    std::size_t wanted = 1;
    bool beside = false;
    {
      std::unique_lock lock(mutex_);
      const auto finished = mine.current;
      for (;;) {
        if (!self_serving_ || shutting_down_) return nullptr;
        if (auto next = take_prefetched()) {
          begin_attempt(mine, std::move(next));
          return mine.current;
        }
        if (!claiming_) break;
        if (options_.prefetch == 0 && slow_claims_ < 0.5) {
          beside = true;
          break;
        }
        const auto claims_before = claims_ended_;
        mine.state = slot_state::waiting;
        arrived_.notify_one();
        work_ready_.wait(
            lock, [&] { return mine.current != finished || !claiming_ || shutting_down_ || !prefetched_.empty(); });
        if (mine.current != finished) return mine.current;  // the claim served it
        mine.state = slot_state::busy;                      // not served: hand_out must not serve it any more
        if (claims_ended_ != claims_before && last_claim_short_ && prefetched_.empty()) return nullptr;
      }
      if (!beside) {
        claiming_ = true;
        gather_finishing(lock, mine);
        if (shutting_down_) {
          claiming_ = false;
          work_ready_.notify_all();
          return nullptr;
        }
        wanted +=
            prefetch_room() + static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const slot& s) {
              return s.state == slot_state::idle || s.state == slot_state::waiting;
            }));
      }
    }
    // The store's speed, not the job's time: measured on the steady clock.
    const auto began = std::chrono::steady_clock::now();
    auto claimed = claim_for(mine.worker, wanted);
    const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began);
    const bool came_short = claimed.size() < wanted;
    auto own = hand_out(std::move(claimed), &mine);
    {
      std::scoped_lock lock(mutex_);
      slow_claims_ += ((took >= claims_worth_waiting_for ? 1.0 : 0.0) - slow_claims_) / 8;
      if (!beside) claim_time_ += (took - claim_time_) / 8;
    }
    if (!beside) end_shared_claim(came_short);
    return own;
  }

  // A claim is a commit: one that also serves the threads whose handlers
  // are about to return saves the commits they would each make next. So the
  // thread about to claim lets the others running a handler join it, for no
  // longer than claim_gather: a thread whose handler runs on costs the claim
  // that much. By default that is a share of what claims take (the store's
  // speed, on the steady clock), and only where nearly every claim is a
  // round trip: on the memory store a wait costs more than a claim. Not with
  // a prefetch queue, whose refill claims for more anyway.
  void gather_finishing(std::unique_lock<std::mutex>& lock, const slot& mine) {
    if (options_.prefetch != 0) return;
    std::chrono::nanoseconds longest = claim_time_ / claim_share_spent_gathering;
    if (options_.claim_gather)
      longest = std::chrono::duration_cast<std::chrono::nanoseconds>(
          detail::waitable(std::min(*options_.claim_gather, options_.poll_interval)));
    else if (!claims_are_round_trips())
      return;
    const auto others_running = [&] {
      return std::any_of(slots_.begin(), slots_.end(),
                         [&](const slot& s) { return &s != &mine && s.state == slot_state::busy; });
    };
    arrived_.wait_for(lock, longest, [&] { return !others_running() || shutting_down_; });
  }

  void end_shared_claim(bool came_short) {
    bool idle_left = false;
    {
      std::scoped_lock lock(mutex_);
      claiming_ = false;
      last_claim_short_ = came_short;
      ++claims_ended_;
      idle_left = !came_short &&
                  std::any_of(slots_.begin(), slots_.end(), [](const slot& s) { return s.state == slot_state::idle; });
    }
    work_ready_.notify_all();
    if (idle_left) wake_->notify();
  }

  // poll() of a started runner: the idle threads take prefetched jobs, then
  // one claim serves the rest of them and the prefetch queue's room, unless a
  // thread's claim is under way: one claim at a time (see continue_with()),
  // whose end wakes the loop again when it left idle threads and more may be due.
  std::size_t poll_started(std::unique_lock<std::mutex>& held) {
    std::vector<slot*> idle;
    std::size_t started = 0;
    for (auto& s : slots_) {
      if (s.state != slot_state::idle) continue;
      if (auto next = take_prefetched()) {
        begin_attempt(s, std::move(next));
        ++started;
      } else {
        idle.push_back(&s);
      }
    }
    const std::size_t wanted = claiming_ ? 0 : idle.size() + prefetch_room();
    if (wanted > 0) claiming_ = true;
    held.unlock();
    if (wanted > 0) {
      auto claimed = claim_for(idle.empty() ? slots_.front().worker : idle.front()->worker, wanted);
      const bool came_short = claimed.size() < wanted;
      hand_out(std::move(claimed), nullptr);
      {
        std::scoped_lock lock(mutex_);
        started += static_cast<std::size_t>(
            std::count_if(idle.begin(), idle.end(), [](const slot* s) { return s->state == slot_state::busy; }));
      }
      end_shared_claim(came_short);
      if (came_short) remember_next_due();
    }
    work_ready_.notify_all();
    return started;
  }

  // Jobs claimed but never started are given back with the lifecycle's
  // release event, which undoes the claim: the attempt is not spent.
  void release_unstarted(const std::vector<std::shared_ptr<attempt>>& unstarted) {
    if (unstarted.empty()) return;
    const time_point now = clock_.now();
    std::int64_t released = 0;
    for (const auto& a : unstarted) {
      {
        std::scoped_lock lock(mutex_);
        if (a->ended != ending::none) continue;  // its lease was lost already
      }
      try {
        released += report_held(store_, held_row(a), release{a->row.attempt, a->worker}, options_.retry, now).applied();
      } catch (const std::exception& e) {
        store_failed("releasing prefetched job " + std::to_string(a->row.id), e);
      }
    }
    if (released == 0) return;
    {
      std::scoped_lock lock(mutex_);
      stats_.released_unstarted += released;
    }
    log(options_.worker_id + " released " + std::to_string(released) + " prefetched job(s) it had not started");
  }

  // A thread of the pool: runs the attempts poll() gives it, and once the
  // runner is started, those it takes or claims itself.
  void serve(std::size_t index, std::stop_token stop) {
    slot& mine = slots_[index];
    for (;;) {
      std::shared_ptr<attempt> a;
      {
        std::unique_lock lock(mutex_);
        // A slot poll() reserved (claiming) waits for what poll() gives it.
        work_ready_.wait(lock, stop, [&] {
          return mine.state == slot_state::busy ||
                 (mine.state == slot_state::idle && self_serving_ && !shutting_down_ && !prefetched_.empty());
        });
        if (mine.state != slot_state::busy) {
          auto next = mine.state == slot_state::idle ? take_prefetched() : nullptr;
          if (!next) {
            if (stop.stop_requested()) return;
            continue;
          }
          begin_attempt(mine, std::move(next));
        }
        a = mine.current;
      }
      while (a) {
        run(a);
        a = continue_with(mine);
      }
      write_waiting_reports(true);  // idle: nothing to wait for
      {
        std::scoped_lock lock(mutex_);
        mine.current.reset();
        mine.state = slot_state::idle;
      }
      idle_.notify_all();
      arrived_.notify_one();
      wake_->notify();
    }
  }

  void run(const std::shared_ptr<attempt>& a) {
    time_point deadline;
    {
      std::scoped_lock lock(mutex_);
      deadline = a->deadline;
    }
    job_context context(a->row, a->worker, deadline, a->stop.get_token(),
                        [this, a] { return extend_lease(a, clock_.now()); });
    job_result result = a->handler ? detail::run_guarded(a->handler->run, a->row, context)
                                   : job_result(failure{"no handler for kind '" + a->row.kind + "'",
                                                        std::string(error_kind::no_handler), false});
    const time_point now = clock_.now();
    bool due = false, loop_writes = false;
    {
      std::scoped_lock lock(mutex_);
      a->returned = true;
      reports_.push_back(pending_report{a, std::move(result), now});
      due = reports_due(now);
      loop_writes = self_serving_ && !shutting_down_ && claims_are_round_trips();
    }
    if (!due) return;
    // Where writes are round trips, a started runner's background thread
    // writes them, so that this thread goes on to its next job (and joins
    // the claim for it) instead of missing from claims for a commit. Where
    // they take microseconds, waking that thread costs more than it saves.
    if (loop_writes)
      wake_->notify();
    else
      write_waiting_reports(true);
  }

  // Called with mutex_ held: nearly every recent claim was slow, as a round
  // trip to a database is (the share that decides between waiting for a
  // claim and claiming beside it is 0.5: a memory store that had a few slow
  // claims must not be taken for a database).
  bool claims_are_round_trips() const { return slow_claims_ >= 0.9; }

  // Called with mutex_ held.
  bool reports_due(time_point now) const {
    return !reports_.empty() &&
           (reports_.size() >= options_.report_batch || now >= shifted(reports_.front().at, options_.report_delay));
  }

  // The reports waiting (all), or those due, written in batches of at most
  // report_batch, the oldest first; no more than were waiting when it began,
  // so that the background thread's pass gets to its heartbeats under any load.
  void write_waiting_reports(bool all) {
    std::size_t left = 0;
    {
      std::scoped_lock lock(mutex_);
      left = reports_.size();
    }
    while (left > 0) {
      auto batch = take_reports(all);
      if (batch.empty()) return;
      left -= std::min(left, batch.size());
      write_reports(std::move(batch));
    }
  }

  // The next batch to write: the oldest reports, if `all` or if due.
  // Counted as being written until write_reports() is done with them.
  std::vector<pending_report> take_reports(bool all) {
    std::vector<pending_report> taken;
    std::scoped_lock lock(mutex_);
    if (reports_.empty() || (!all && !reports_due(clock_.now()))) return taken;
    const auto end = reports_.begin() + static_cast<std::ptrdiff_t>(std::min(reports_.size(), options_.report_batch));
    taken.assign(std::make_move_iterator(reports_.begin()), std::make_move_iterator(end));
    reports_.erase(reports_.begin(), end);
    ++reports_writing_;
    return taken;
  }

  // Each report decided on the row as it stands, the decisions written in
  // one apply_batch. A batch is all or nothing: when one decision lost its
  // compare-and-set, each is written again on its own, as a single report is.
  void write_reports(std::vector<pending_report> batch) {
    if (batch.empty()) return;
    std::vector<std::optional<report_result>> written(batch.size());
    std::vector<bool> lost(batch.size(), false);  // the store failed; counted and logged already
    if (batch.size() > 1) write_together(batch, written, lost);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& r = batch[i];
      if (lost[i]) continue;
      if (!written[i]) {
        try {
          written[i] = r.result.succeeded()
                           ? report_held(store_, held_row(r.of), succeed_event(r), options_.retry, r.at)
                           : report_held(store_, held_row(r.of), fail_event(r), options_.retry, r.at);
        } catch (const std::exception& e) {
          store_failed("the report for job " + std::to_string(r.of->row.id), e);
          continue;
        }
      }
      record_report(r, *written[i]);
    }
    {
      std::scoped_lock lock(mutex_);
      --reports_writing_;
    }
    idle_.notify_all();
  }

  static succeed succeed_event(const pending_report& r) {
    return succeed{r.of->row.attempt, r.of->worker, r.result.detail};
  }
  static fail fail_event(const pending_report& r) { return fail{r.of->row.attempt, r.of->worker, *r.result.error}; }

  // Fills in what one apply_batch settled; leaves empty what must be written alone.
  void write_together(const std::vector<pending_report>& batch, std::vector<std::optional<report_result>>& written,
                      std::vector<bool>& lost) {
    std::vector<decision> decisions;
    std::vector<std::size_t> decided;
    // Decided on the rows as this runner last wrote them: no read. A report
    // that is not applied on its held row, or a batch that loses a
    // compare-and-set, is written alone, which reads the row as stored.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& r = batch[i];
      const job current = held_row(r.of);
      decision d = r.result.succeeded() ? decide(current, succeed_event(r), options_.retry, r.at)
                                        : decide(current, fail_event(r), options_.retry, r.at);
      if (!d.applied()) continue;
      decisions.push_back(std::move(d));
      decided.push_back(i);
    }
    if (decisions.empty()) return;
    std::vector<write_result> results;
    try {
      results = store_.apply_batch(decisions);
    } catch (const std::exception& e) {
      for (const std::size_t i : decided) {
        store_failed("the report for job " + std::to_string(batch[i].of->row.id), e);
        lost[i] = true;
      }
      return;
    }
    {
      std::scoped_lock lock(mutex_);
      ++stats_.report_batches;
    }
    for (std::size_t k = 0; k < decided.size(); ++k)
      if (results[k] == write_result::applied)
        written[decided[k]] = report_result{verdict::applied, rejection::none, {}, std::move(decisions[k].next)};
  }

  void record_report(const pending_report& r, const report_result& written) {
    ending ended;
    const bool success = r.result.succeeded();
    {
      std::scoped_lock lock(mutex_);
      ended = r.of->ended;
      if (written.applied()) ++(success ? stats_.succeeded : stats_.failed);
      if (!written.accepted()) ++stats_.rejected_reports;
    }
    if (!written.accepted())
      log("job " + std::to_string(r.of->row.id) + ": the store refused the " + (success ? "success" : "failure") +
          " that " + r.of->worker + " reported for attempt " + std::to_string(r.of->row.attempt) + why_late(ended) +
          ": " + written.reason);
  }

  static std::string why_late(ending ended) {
    switch (ended) {
      case ending::timed_out:
        return " after it timed out";
      case ending::released:
        return " after it was released at shutdown";
      case ending::lease_lost:
        return " after its lease was lost";
      case ending::none:
        break;
    }
    return "";
  }

  // Records the end of an attempt the runner decided on itself (a timeout, a
  // release at shutdown), then stops its handler: in that order, so that what
  // a handler reports once stopped cannot take the place of the reason.
  void end_attempt(const std::shared_ptr<attempt>& a, failure why, time_point now) {
    const std::string message = why.message;
    const bool timeout = why.kind == error_kind::timeout;
    std::optional<report_result> written;
    try {
      written = report_held(store_, held_row(a), fail{a->row.attempt, a->worker, std::move(why)}, options_.retry, now);
    } catch (const std::exception& e) {
      {
        std::scoped_lock lock(mutex_);
        a->ended = ending::none;  // not recorded: the next supervise() tries again
      }
      a->stop.request_stop();
      store_failed("recording '" + message + "' for job " + std::to_string(a->row.id), e);
      return;
    }
    a->stop.request_stop();
    if (!written->applied()) return;  // the handler's own report got there first
    {
      std::scoped_lock lock(mutex_);
      ++(timeout ? stats_.timed_out : stats_.released_at_shutdown);
    }
    log("job " + std::to_string(a->row.id) + " attempt " + std::to_string(a->row.attempt) + ": " + message);
  }

  bool extend_lease(const std::shared_ptr<attempt>& a, time_point now) {
    {
      std::scoped_lock lock(mutex_);
      if (a->ended != ending::none || a->returned) return false;
      a->next_heartbeat = shifted(now, heartbeat_interval_);
    }
    std::optional<report_result> written;
    try {
      written = heartbeat_held(store_, held_row(a), options_.lease, now);
    } catch (const std::exception& e) {
      store_failed("the heartbeat for job " + std::to_string(a->row.id), e);
      return true;  // the lease may well still be ours; the next heartbeat tells
    }
    bool lost = false;
    {
      std::scoped_lock lock(mutex_);
      if (written->applied()) {
        ++stats_.heartbeats;
        a->held = *written->row;
      } else if (a->ended == ending::none && !a->returned) {
        a->ended = ending::lease_lost;
        ++stats_.leases_lost;
        lost = true;
      }
    }
    if (lost) {
      a->stop.request_stop();
      log("job " + std::to_string(a->row.id) + ": " + a->worker + " lost its lease: " + written->reason);
    }
    return written->applied();
  }

  void reap_expired(time_point now) {
    std::vector<job> recovered;
    try {
      recovered = reap(store_, options_.retry, now, options_.reaper_batch);
    } catch (const std::exception& e) {
      store_failed("the reaper", e);
      return;
    }
    if (recovered.empty()) return;
    {
      std::scoped_lock lock(mutex_);
      stats_.reaped += static_cast<std::int64_t>(recovered.size());
    }
    for (const job& row : recovered)
      log("job " + std::to_string(row.id) + " recovered by the reaper: " + row.last_error.value_or(""));
  }

  void enqueue_periodic(time_point now) {
    periodic_pass pass;
    try {
      pass = periodic_.enqueue_due(store_, now);
    } catch (const std::exception& e) {
      store_failed("enqueueing periodic jobs", e);
      return;
    }
    const auto created =
        std::count_if(pass.ticks.begin(), pass.ticks.end(), [](const scheduled_tick& t) { return t.result.created; });
    {
      std::scoped_lock lock(mutex_);
      stats_.periodic_enqueued += created;
      stats_.periodic_skipped += pass.skipped;
    }
    if (pass.skipped > 0)
      log(std::to_string(pass.skipped) +
          " tick(s) of periodic jobs not enqueued: older than their backfill and max_lateness allow");
  }

  void run_loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      wake_->wait(stop, until_next_pass());
      if (stop.stop_requested()) return;
      try {
        supervise();
        poll();
      } catch (const std::exception& e) {
        log(std::string("runner loop: ") + e.what());
      }
    }
  }

  // Wakes the loop whenever the store announces work. The epoch is taken
  // again before the loop is woken, so that work announced while it claims
  // wakes it once more.
  void watch_for_work(std::stop_token stop, std::optional<std::uint64_t> since) {
    // How long stop() may wait for this thread when the store's wait cannot see the stop token.
    constexpr std::chrono::milliseconds stop_latency{100};
    while (!stop.stop_requested()) {
      if (!since) {
        since = work_epoch();
        if (!since) {  // the store failed; it is tried again at the poll interval
          std::mutex mutex;
          std::unique_lock lock(mutex);
          std::condition_variable_any().wait_for(lock, stop, detail::waitable(options_.poll_interval), [] { return false; });
          continue;
        }
        wake_->notify();  // work may have arrived unannounced while the store failed
      }
      try {
        bool announced = false;
        if constexpr (announces_work_stoppably<S>)
          announced = store_.wait_for_work(
              *since, std::chrono::duration_cast<std::chrono::milliseconds>(detail::waitable(options_.poll_interval)), stop);
        else
          announced = store_.wait_for_work(*since, stop_latency);
        if (announced) {
          since = work_epoch();
          wake_->notify();
        }
      } catch (const std::exception& e) {
        since.reset();
        store_failed("waiting for work", e);
      }
    }
  }

  // After a claim came back empty: when the store's next job comes due, for
  // the loop to wake then.
  void remember_next_due() {
    if constexpr (knows_next_due<S>) {
      std::optional<time_point> next;
      try {
        next = store_.next_run_at(clock_.now());
      } catch (const std::exception& e) {
        store_failed("looking for the next job due", e);
      }
      std::scoped_lock lock(mutex_);
      next_run_at_ = next;
    }
  }

  // Empty when the store announces no work, or failed to say.
  std::optional<std::uint64_t> work_epoch() {
    if constexpr (announces_work<S>) {
      try {
        return store_.work_epoch();
      } catch (const std::exception& e) {
        store_failed("waiting for work", e);
      }
    }
    return std::nullopt;
  }

  // The poll interval, or less when a deadline, a heartbeat, a batch of
  // reports, the reaper, a periodic job or the store's next job is due sooner.
  // Something already due is a store write that failed on the last pass: it is
  // retried at the poll interval, not in a busy loop.
  duration until_next_pass() {
    const time_point now = clock_.now();
    time_point next = shifted(now, options_.poll_interval);
    const auto consider = [&](time_point due) {
      if (due > now) next = std::min(next, due);
    };
    if (const auto tick = periodic_.next_due()) consider(*tick);
    std::scoped_lock lock(mutex_);
    consider(next_reap_);
    if (next_run_at_) {
      // A job that came due while the loop was busy is claimed now, once.
      if (*next_run_at_ <= now) {
        next_run_at_.reset();
        return duration::zero();
      }
      consider(*next_run_at_);
    }
    for (const auto& s : slots_)
      if (s.current && s.current->ended == ending::none && !s.current->returned) {
        consider(s.current->deadline);
        consider(s.current->next_heartbeat);
      }
    for (const auto& a : prefetched_) consider(a->next_heartbeat);
    // A report that came due since the last pass is written now: it holds a
    // lease that nothing extends.
    if (!reports_.empty()) next = std::min(next, reports_due(now) ? now : shifted(reports_.front().at, options_.report_delay));
    return next - now;
  }

  void store_failed(const std::string& what, const std::exception& e) {
    {
      std::scoped_lock lock(mutex_);
      ++stats_.store_errors;
    }
    log(what + " failed: " + e.what());
  }

  // A log sink that throws must not take a runner thread down with it.
  void log(const std::string& line) const noexcept {
    try {
      options_.log(line);
    } catch (...) {
    }
  }

  S& store_;
  runner_options options_;
  const clock& clock_;
  duration heartbeat_interval_{};
  std::map<std::string, detail::registered_handler, std::less<>> handlers_;
  periodic_scheduler periodic_;

  mutable std::mutex mutex_;
  std::condition_variable_any work_ready_;
  std::condition_variable idle_;
  std::condition_variable arrived_;  // a thread began waiting for the shared claim, went idle, or shutdown began
  std::vector<slot> slots_;
  std::deque<std::shared_ptr<attempt>> prefetched_;  // claimed, waiting for a free thread
  std::deque<pending_report> reports_;               // returned, waiting for their batch; taken from the front
  std::size_t reports_writing_ = 0;                  // batches taken from reports_ and not written yet
  runner_stats stats_;
  bool started_ = false;
  bool self_serving_ = false;       // started: threads take and claim their next attempt themselves
  bool claiming_ = false;           // a started runner's shared claim (a thread's or poll()'s) is under way
  bool last_claim_short_ = false;   // the last such claim found fewer jobs due than it asked for
  std::uint64_t claims_ended_ = 0;  // how many such claims have come back
  // About what waking a waiting thread costs, and the share of this runner's
  // recent claims that took longer (a moving mean, robust to the odd claim
  // whose thread the system put to sleep).
  static constexpr std::chrono::nanoseconds claims_worth_waiting_for = std::chrono::microseconds{20};
  double slow_claims_ = 1;                  // until measured, claims are taken to be round trips
  std::chrono::nanoseconds claim_time_{0};  // a moving mean of how long the shared claims took
  static constexpr int claim_share_spent_gathering = 4;
  bool shutting_down_ = false;
  time_point grace_end_{};
  time_point next_reap_ = time_point::min();
  std::optional<time_point> next_run_at_;  // the store's next job due, when the last claim found none

  std::shared_ptr<detail::wakeup> wake_ = std::make_shared<detail::wakeup>();
  subscription listening_;
  std::jthread loop_;
  std::jthread watcher_;  // stores that announce work only
};

}  // namespace detail

template <store S>
runner<S>::runner(S& jobs, runner_options options, const clock& time)
    : engine_(std::make_unique<detail::runner_engine<S>>(jobs, std::move(options), time)) {}

template <store S>
runner<S>::~runner() = default;

template <store S>
runner<S>& runner<S>::schedule(periodic_job job) {
  engine_->schedule(std::move(job));
  return *this;
}

template <store S>
std::size_t runner<S>::poll() {
  return engine_->poll();
}

template <store S>
void runner<S>::supervise() {
  engine_->supervise();
}

template <store S>
void runner<S>::wait_idle() {
  engine_->wait_idle();
}

template <store S>
void runner<S>::begin_shutdown() {
  engine_->begin_shutdown();
}

template <store S>
void runner<S>::start() {
  engine_->start();
}

template <store S>
void runner<S>::stop() {
  engine_->stop();
}

template <store S>
void runner<S>::notify() {
  engine_->notify();
}

template <store S>
runner_stats runner<S>::stats() const {
  return engine_->stats();
}

template <store S>
std::vector<std::string> runner<S>::workers() const {
  return engine_->workers();
}

}  // namespace errand
