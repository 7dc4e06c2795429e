// runner.hpp over the memory store, driven step by step with a manual clock:
// poll() claims and starts handlers, supervise() applies the time, wait_idle()
// waits for handlers to report. Handlers block on gates the test opens; no
// test sleeps, and none depends on how fast a thread runs.
#include "errand_catch.hpp"
#include <errand/memory.hpp>
#include <errand/runner.hpp>
#include <errand/stack_trace.hpp>

#include <boost/describe/class.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using errand::job_state;

namespace {

struct resize_request {
  std::string path;
  int width = 0;
};
BOOST_DESCRIBE_STRUCT(resize_request, (), (path, width))

struct not_a_std_exception {};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A handler blocks on a gate until the test opens it.
class gate {
 public:
  void open() {
    {
      std::scoped_lock lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [&] { return open_; });
  }
  // False when stop was requested before the gate opened.
  bool wait(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    return opened_.wait(lock, stop, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any opened_;
  bool open_ = false;
};

// Declared after the runner, so that a failing test still unblocks every
// handler before the runner's destructor waits for them.
struct open_on_exit {
  std::shared_ptr<gate> g;
  ~open_on_exit() { g->open(); }
};

class captured_log {
 public:
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) {
      std::scoped_lock lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  bool mentions(const std::string& part) const {
    std::scoped_lock lock(mutex_);
    for (const auto& line : lines_)
      if (contains(line, part)) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Resolves once a committed transition matches. Its listener uses `this`: the
// subscription, destroyed first, waits for a call under way on a runner's
// thread (AddressSanitizer saw such a call outlive the helper before it did).
class awaited {
 public:
  awaited(errand::memory_store& store, std::function<bool(const errand::notification&)> match)
      : match_(std::move(match)), done_(promise_.get_future()) {
    subscription_ = store.subscribe([this](const errand::notification& n) {
      if (match_(n) && !fired_.exchange(true)) promise_.set_value();
    });
  }
  void wait() { done_.wait(); }

 private:
  std::function<bool(const errand::notification&)> match_;
  std::atomic<bool> fired_{false};
  std::promise<void> promise_;
  std::future<void> done_;
  errand::subscription subscription_;
};

struct fixture {
  errand::manual_clock clock;
  errand::memory_store store;
  captured_log log;

  errand::runner_options options(std::size_t threads = 1) {
    errand::runner_options o;
    o.threads = threads;
    o.worker_id = "w";
    o.retry = errand::retry_policy::immediate();
    o.log = log.sink();
    return o;
  }

  std::int64_t enqueue(std::string kind, std::string payload = "{}", std::int32_t max_attempts = 3) {
    errand::job_spec spec;
    spec.kind = std::move(kind);
    spec.payload = std::move(payload);
    spec.max_attempts = max_attempts;
    return store.enqueue(spec, clock.now()).id;
  }

  errand::job row(std::int64_t id) { return *store.get(id); }

  std::vector<std::string> events(std::int64_t id) {
    std::vector<std::string> names;
    for (const auto& r : store.history(id)) names.push_back(r.event);
    return names;
  }
};

using strings = std::vector<std::string>;

// The memory store with a hook run before every write it is asked for (claims,
// applies): a test makes the database unreachable, or looks at what the runner
// is about to write and at what it did just before.
class hooked_store {
 public:
  explicit hooked_store(errand::memory_store& real) : real_(real) {}
  // Called with the decision about to be applied, or nullptr for a claim. Set
  // it before the runner starts; it may throw, as a store that fails does.
  std::function<void(const errand::decision*)> before_write = [](const errand::decision*) {};

  errand::enqueued enqueue(const errand::job_spec& spec, errand::time_point now) { return real_.enqueue(spec, now); }
  std::vector<errand::enqueued> enqueue_batch(std::span<const errand::job_spec> specs, errand::time_point now) {
    return real_.enqueue_batch(specs, now);
  }
  std::optional<errand::job> get(std::int64_t id) { return real_.get(id); }
  errand::write_result apply(const errand::decision& d) {
    before_write(&d);
    return real_.apply(d);
  }
  std::atomic<int> batches{0};  // apply_batch calls
  std::vector<errand::write_result> apply_batch(std::span<const errand::decision> ds) {
    ++batches;
    for (const auto& d : ds) before_write(&d);
    return real_.apply_batch(ds);
  }
  std::optional<errand::job> claim(const errand::claim_request& request) {
    before_write(nullptr);
    return real_.claim(request);
  }
  std::vector<errand::job> claim_batch(const errand::claim_request& request, std::size_t n) {
    before_write(nullptr);
    return real_.claim_batch(request, n);
  }
  std::vector<errand::job> expired_leases(errand::time_point now, std::size_t n) {
    return real_.expired_leases(now, n);
  }
  std::vector<errand::job> query(const errand::job_query& q) { return real_.query(q); }
  std::vector<errand::history_record> history(std::int64_t id) { return real_.history(id); }
  std::optional<errand::outcome> latest_outcome(std::int64_t id) { return real_.latest_outcome(id); }
  errand::state_counts count_by_state() { return real_.count_by_state(); }
  errand::prune_result prune(const errand::prune_request& request) { return real_.prune(request); }
  errand::subscription subscribe(errand::listener on_commit) { return real_.subscribe(std::move(on_commit)); }

 private:
  errand::memory_store& real_;
};
static_assert(errand::store<hooked_store>);

// Claims the test can hold on a gate, each recorded: how many jobs it asked
// for, and whether another claim was under way when it began.
class held_claims_store : public hooked_store {
 public:
  using hooked_store::hooked_store;

  std::vector<errand::job> claim_batch(const errand::claim_request& request, std::size_t n) {
    std::shared_ptr<gate> hold;
    {
      std::scoped_lock lock(mutex_);
      if (in_flight_ > 0) ++overlapping_;
      ++in_flight_;
      asked_.push_back(n);
      claimers_.push_back(std::this_thread::get_id());
      hold = std::exchange(next_hold_, nullptr);
    }
    entered_.notify_all();
    if (hold) hold->wait();
    auto claimed = hooked_store::claim_batch(request, n);
    std::scoped_lock lock(mutex_);
    --in_flight_;
    got_.push_back(claimed.size());
    return claimed;
  }

  // The next claim waits for `g` to open.
  void hold_next(std::shared_ptr<gate> g) {
    std::scoped_lock lock(mutex_);
    next_hold_ = std::move(g);
  }
  void wait_for_claims(std::size_t count) {
    std::unique_lock lock(mutex_);
    entered_.wait(lock, [&] { return asked_.size() >= count; });
  }
  std::vector<std::size_t> asked() {
    std::scoped_lock lock(mutex_);
    return asked_;
  }
  // The thread that made each claim, in the order they began.
  std::vector<std::thread::id> claimers() {
    std::scoped_lock lock(mutex_);
    return claimers_;
  }
  // What each claim that has come back found, in the order they came back.
  std::vector<std::size_t> got() {
    std::scoped_lock lock(mutex_);
    return got_;
  }
  int overlapping() {
    std::scoped_lock lock(mutex_);
    return overlapping_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable entered_;
  std::shared_ptr<gate> next_hold_;
  std::vector<std::size_t> asked_;
  std::vector<std::thread::id> claimers_;
  std::vector<std::size_t> got_;
  int in_flight_ = 0;
  int overlapping_ = 0;
};
static_assert(errand::store<held_claims_store>);

// Three jobs whose handlers each wait on a gate of their own, then three that
// return at once, the gates opened when it goes out of scope. Declared after
// the runner, so that every handler is released before the runner's
// destructor waits for them.
class held_then_free {
 public:
  template <class Runner>
  held_then_free(fixture& f, Runner& runner) {
    runner.handle("held", [gates = gates_](const std::string&, errand::job_context& ctx) {
      const auto g = gates->at(ctx.job_id());
      g->wait();
    });
    runner.handle("free", [](const std::string&, errand::job_context&) {});
    for (int i = 0; i < 3; ++i) held.push_back(f.enqueue("held"));
    for (int i = 0; i < 3; ++i) free.push_back(f.enqueue("free"));
    for (const auto id : held) (*gates_)[id] = std::make_shared<gate>();
  }
  held_then_free(const held_then_free&) = delete;
  held_then_free& operator=(const held_then_free&) = delete;
  ~held_then_free() {
    for (const auto id : held) open(id);
  }

  void open(std::int64_t id) { gates_->at(id)->open(); }

  // The claims never overlapped, the one after the first asked for
  // `second_asked_for` jobs, and every free job ran once.
  void check_claims_after_the_first(fixture& f, held_claims_store& claims, std::size_t second_asked_for) const {
    CHECK(claims.overlapping() == 0);
    const auto asked = claims.asked();
    CAPTURE(asked);
    REQUIRE(asked.size() >= 2);
    CHECK(asked[1] == second_asked_for);
    for (const auto id : free) CHECK(f.events(id) == strings{"claim", "succeed"});
  }

  std::vector<std::int64_t> held, free;

 private:
  std::shared_ptr<std::map<std::int64_t, std::shared_ptr<gate>>> gates_ =
      std::make_shared<std::map<std::int64_t, std::shared_ptr<gate>>>();
};

// Claims that take as long as a round trip to a database: the runner tells a
// database from the memory store by how long its claims take. The time is
// spent spinning on the steady clock, so the test never sleeps.
class round_trip_store : public hooked_store {
 public:
  using hooked_store::hooked_store;

  std::vector<errand::job> claim_batch(const errand::claim_request& request, std::size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds{100};
    while (std::chrono::steady_clock::now() < until) {
    }
    return hooked_store::claim_batch(request, n);
  }
};
static_assert(errand::store<round_trip_store>);

// Round-trip claims, and an apply_batch that records how many decisions each
// batch holds; the first waits until the test releases it.
class held_batches_store : public round_trip_store {
 public:
  using round_trip_store::round_trip_store;

  std::vector<errand::write_result> apply_batch(std::span<const errand::decision> ds) {
    bool first = false;
    {
      std::scoped_lock lock(mutex_);
      first = sizes_.empty();
      sizes_.push_back(ds.size());
    }
    if (first) {
      first_entered_->open();
      released_->wait();
    }
    return round_trip_store::apply_batch(ds);
  }
  void wait_for_first_batch() { first_entered_->wait(); }
  void release() { released_->open(); }
  std::vector<std::size_t> sizes() {
    std::scoped_lock lock(mutex_);
    return sizes_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::size_t> sizes_;
  std::shared_ptr<gate> first_entered_ = std::make_shared<gate>(), released_ = std::make_shared<gate>();
};
static_assert(errand::store<held_batches_store>);

// A store that announces every enqueue to idle workers, as postgres_store does
// through LISTEN/NOTIFY.
class announcing_store : public hooked_store {
 public:
  using hooked_store::hooked_store;

  errand::enqueued enqueue(const errand::job_spec& spec, errand::time_point now) {
    auto created = hooked_store::enqueue(spec, now);
    {
      std::scoped_lock lock(mutex_);
      ++epoch_;
    }
    announced_.notify_all();
    return created;
  }
  std::uint64_t work_epoch() {
    std::scoped_lock lock(mutex_);
    return epoch_;
  }
  bool wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return announced_.wait_for(lock, timeout, [&] { return epoch_ != since; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable announced_;
  std::uint64_t epoch_ = 0;
};
static_assert(errand::announces_work<announcing_store>);
static_assert(!errand::announces_work<hooked_store>);

}  // namespace

TEST_CASE_METHOD(fixture, "a handler that returns normally succeeds the job", "[runner]") {
  errand::runner runner(store, options(), clock);
  runner.handle("noop", [](const std::string&, errand::job_context&) -> std::optional<std::string> { return {}; });
  const auto id = enqueue("noop");

  CHECK(runner.poll() == 1);
  runner.wait_idle();

  const auto job = row(id);
  CHECK(job.state == job_state::succeeded);
  CHECK_FALSE(job.detail);
  CHECK_FALSE(job.last_error);
  CHECK(job.worker == "w:0");
  CHECK(events(id) == strings{"claim", "succeed"});
  CHECK(runner.stats().claimed == 1);
  CHECK(runner.stats().succeeded == 1);
  CHECK(runner.poll() == 0);
}

TEST_CASE_METHOD(fixture, "a typed handler's success detail is recorded (review tasks)", "[runner][codec]") {
  errand::runner runner(store, options(), clock);
  runner.handle<resize_request>("resize", [](const resize_request& request, errand::job_context& ctx) {
    CHECK(ctx.attempt() == 1);
    CHECK(ctx.worker() == "w:0");
    return request.width == 0 ? std::optional<std::string>("nothing to resize") : std::nullopt;
  });
  const auto noop = enqueue("resize", R"({"path":"/a.png","width":0})");
  const auto real = enqueue("resize", R"({"path":"/b.png","width":640})");

  runner.poll();
  runner.wait_idle();
  runner.poll();
  runner.wait_idle();

  CHECK(row(noop).state == job_state::succeeded);
  CHECK(row(noop).detail == "nothing to resize");
  CHECK(row(real).state == job_state::succeeded);
  CHECK_FALSE(row(real).detail);
  REQUIRE(store.latest_outcome(noop));
  CHECK(store.latest_outcome(noop)->text == "nothing to resize");
}

TEST_CASE_METHOD(fixture,
                 "an exception from a handler becomes a failure carrying its text (pipeline steps, chat turns)",
                 "[runner][contract4]") {
  // A thread may run its handler, fail and report before poll() has claimed
  // for the next thread; with an immediate retry the next claim would take
  // that job again and leave another pending. A backoff keeps a failed job
  // out of this poll, so the three claims are the three jobs.
  auto o = options(3);
  o.retry = errand::retry_policy{.base = 1s, .jitter = 0.0};
  errand::runner runner(store, o, clock);
  runner.handle("std", [](const std::string&, errand::job_context&) { throw std::runtime_error("disk full"); });
  runner.handle("int", [](const std::string&, errand::job_context&) { throw 42; });
  runner.handle("custom", [](const std::string&, errand::job_context&) { throw not_a_std_exception{}; });
  const auto by_std = enqueue("std");
  const auto by_int = enqueue("int");
  const auto by_custom = enqueue("custom");

  REQUIRE(runner.poll() == 3);
  runner.wait_idle();

  for (const auto id : {by_std, by_int, by_custom}) {
    const auto job = row(id);
    CHECK(job.state == job_state::retry_pending);
    CHECK(job.last_error_kind == errand::error_kind::exception);
    CHECK(job.last_error_at == clock.now());
  }
  CHECK(row(by_std).last_error == "std::runtime_error: disk full");
  CHECK(row(by_int).last_error == "unknown exception: int");
  REQUIRE(row(by_custom).last_error);
  CHECK(contains(*row(by_custom).last_error, "unknown exception: "));
  CHECK(contains(*row(by_custom).last_error, "not_a_std_exception"));
  CHECK(runner.stats().failed == 3);
}

TEST_CASE_METHOD(fixture, "a stack trace thrown with the exception is kept in the history with the error",
                 "[runner][trace]") {
  errand::runner runner(store, options(), clock);
  runner.handle("sync", [](const std::string&, errand::job_context&) {
    errand::throw_with_trace(std::runtime_error("upstream closed the stream"));
  });
  const auto id = enqueue("sync");
  REQUIRE(runner.poll() == 1);
  runner.wait_idle();

  CHECK(row(id).last_error == "std::runtime_error: upstream closed the stream");
  const auto errors = errand::errors_of(store.history(id));
  REQUIRE(errors.size() == 1);
  REQUIRE(errors.front().trace);
  CHECK(errors.front().trace->starts_with(" 0# "));
}

TEST_CASE_METHOD(fixture, "a handler fails deliberately, retryable or not (work orders)", "[runner]") {
  errand::runner runner(store, options(), clock);
  runner.handle("validate", [](const std::string&, errand::job_context&) -> errand::job_result {
    return errand::failure{"invalid YAML: line 3", "invalid_input", false};
  });
  runner.handle("apply", [](const std::string&, errand::job_context& ctx) -> std::optional<std::string> {
    if (ctx.attempt() == 1) throw errand::job_failure{{"cluster unreachable", "transient", true}};
    return std::nullopt;
  });
  const auto invalid = enqueue("validate");
  const auto transient = enqueue("apply");

  runner.poll();
  runner.wait_idle();
  runner.poll();
  runner.wait_idle();

  CHECK(row(invalid).state == job_state::failed);
  CHECK(row(invalid).attempt == 1);
  CHECK(row(invalid).last_error == "invalid YAML: line 3");
  CHECK(row(invalid).last_error_kind == "invalid_input");

  CHECK(row(transient).state == job_state::retry_pending);
  CHECK(row(transient).last_error == "cluster unreachable");

  runner.poll();
  runner.wait_idle();
  CHECK(row(transient).state == job_state::succeeded);
  CHECK_FALSE(row(transient).last_error);
  CHECK(events(transient) == strings{"claim", "fail", "claim", "succeed"});
}

TEST_CASE_METHOD(fixture, "a payload that does not decode fails the job for good, naming it and the codec error",
                 "[runner][codec][contract7]") {
  errand::runner runner(store, options(), clock);
  bool called = false;
  runner.handle<resize_request>("resize", [&](const resize_request&, errand::job_context&) { called = true; });
  const auto payload = R"({"path":5,"width":"wide"})";
  const auto id = enqueue("resize", payload);

  runner.poll();
  runner.wait_idle();

  const auto job = row(id);
  CHECK_FALSE(called);
  CHECK(job.state == job_state::failed);
  CHECK(job.attempt == 1);
  CHECK(job.last_error_kind == errand::error_kind::bad_payload);
  REQUIRE(job.last_error);
  CHECK(contains(*job.last_error, "job " + std::to_string(id) + " (kind 'resize'): payload does not decode: "));
  CHECK(contains(*job.last_error, "errand: JSON field"));
  CHECK(job.payload == payload);  // nothing lost: the payload is still there to inspect
}

TEST_CASE_METHOD(fixture, "a job of a kind nobody handles fails for good instead of running forever", "[runner]") {
  errand::runner runner(store, options(), clock);
  const auto id = enqueue("mystery", "{}", 5);

  runner.poll();
  runner.wait_idle();

  const auto job = row(id);
  CHECK(job.state == job_state::failed);
  CHECK(job.attempt == 1);
  CHECK(job.last_error == "no handler for kind 'mystery'");
  CHECK(job.last_error_kind == errand::error_kind::no_handler);
}

TEST_CASE_METHOD(fixture, "past its deadline an attempt times out, and the handler's late success is rejected",
                 "[runner][contract4][contract5]") {
  auto released = std::make_shared<gate>();
  std::atomic<bool> saw_stop{false};
  errand::runner runner(store, options(), clock);
  runner.handle("slow", [released, &saw_stop](const std::string&, errand::job_context& ctx) {
    released->wait();  // ignores its stop_token, like a handler stuck in a blocking call
    saw_stop = ctx.stop_requested();
  });
  open_on_exit guard{released};
  const auto id = enqueue("slow");

  REQUIRE(runner.poll() == 1);
  clock.advance(599s);
  runner.supervise();
  CHECK(row(id).state == job_state::running);

  clock.advance(1s);
  runner.supervise();
  auto job = row(id);
  CHECK(job.state == job_state::retry_pending);
  CHECK(job.last_error == "timed out after 600s");
  CHECK(job.last_error_kind == errand::error_kind::timeout);
  CHECK(runner.stats().timed_out == 1);

  released->open();
  runner.wait_idle();
  CHECK(saw_stop);
  job = row(id);
  CHECK(job.state == job_state::retry_pending);
  CHECK(job.last_error == "timed out after 600s");
  CHECK(events(id) == strings{"claim", "fail"});
  CHECK(runner.stats().rejected_reports == 1);
  CHECK(runner.stats().succeeded == 0);
  CHECK(log.mentions("after it timed out"));
}

TEST_CASE_METHOD(fixture, "durations of duration::max() mean for ever: no deadline, no lease end, no overflow",
                 "[runner][contract4]") {
  auto released = std::make_shared<gate>();
  auto o = options();
  o.deadline = errand::duration::max();
  o.lease = errand::duration::max();
  o.shutdown_grace = errand::duration::max();
  o.reaper_interval = errand::duration::max();
  o.poll_interval = errand::duration::max();
  errand::runner runner(store, o, clock);
  errand::time_point deadline{};
  runner.handle("long", [released, &deadline](const std::string&, errand::job_context& ctx) {
    deadline = ctx.deadline();
    released->wait();
  });
  open_on_exit guard{released};
  const auto id = enqueue("long");

  REQUIRE(runner.poll() == 1);
  CHECK(row(id).lease_until == errand::latest_time);
  clock.advance(std::chrono::hours{24 * 365 * 100});
  runner.supervise();
  CHECK(row(id).state == job_state::running);
  CHECK(runner.stats().timed_out == 0);
  released->open();
  runner.wait_idle();
  CHECK(deadline == errand::latest_time);
  CHECK(row(id).state == job_state::succeeded);
  CHECK(events(id) == strings{"claim", "succeed"});
}

TEST_CASE_METHOD(fixture, "a timeout is written before the handler is asked to stop", "[runner][contract4]") {
  // Stopped first, a handler could report its own failure ("interrupted") and
  // take the place of the reason the attempt really ended: the deadline.
  hooked_store observed(store);
  std::mutex mutex;
  std::optional<std::stop_token> handler_token;
  std::optional<bool> stopped_when_timeout_written;
  observed.before_write = [&](const errand::decision* d) {
    if (!d || d->next.last_error_kind != errand::error_kind::timeout) return;
    std::scoped_lock lock(mutex);
    stopped_when_timeout_written = handler_token && handler_token->stop_requested();
  };
  auto started = std::make_shared<gate>();
  errand::runner runner(observed, options(), clock);
  runner.handle("slow", [&, started](const std::string&, errand::job_context& ctx) {
    {
      std::scoped_lock lock(mutex);
      handler_token = ctx.stop_token();
    }
    started->open();
    gate never;
    never.wait(ctx.stop_token());
    throw std::runtime_error("interrupted");
  });
  const auto id = enqueue("slow");

  REQUIRE(runner.poll() == 1);
  started->wait();
  clock.advance(600s);
  runner.supervise();
  runner.wait_idle();

  std::scoped_lock lock(mutex);
  REQUIRE(stopped_when_timeout_written.has_value());
  CHECK_FALSE(*stopped_when_timeout_written);
  CHECK(row(id).last_error == "timed out after 600s");
}

TEST_CASE_METHOD(fixture, "a deadline under a second is written in milliseconds; a handler that stops early loses too",
                 "[runner][contract4]") {
  errand::runner runner(store, options(), clock);
  runner.handle(
      "poll_api",
      [](const std::string&, errand::job_context& ctx) {
        gate never;
        never.wait(ctx.stop_token());
        throw std::runtime_error("interrupted");
      },
      errand::handler_options{250ms});
  const auto id = enqueue("poll_api");

  runner.poll();
  clock.advance(250ms);
  runner.supervise();
  runner.wait_idle();

  CHECK(row(id).last_error == "timed out after 250ms");
  CHECK(runner.stats().rejected_reports == 1);
  CHECK(events(id) == strings{"claim", "fail"});
}

TEST_CASE_METHOD(fixture, "heartbeats keep a long attempt's lease: it is not reaped", "[runner][contract4]") {
  auto released = std::make_shared<gate>();
  auto o = options();
  o.lease = 30s;
  errand::runner runner(store, o, clock);
  std::atomic<bool> own_heartbeat{false};
  runner.handle("long", [released, &own_heartbeat](const std::string&, errand::job_context& ctx) {
    released->wait();
    own_heartbeat = ctx.heartbeat();
  });
  open_on_exit guard{released};
  const auto id = enqueue("long");
  const auto claimed_at = clock.now();

  runner.poll();
  for (int i = 0; i < 6; ++i) {
    clock.advance(10s);
    runner.supervise();
  }

  const auto job = row(id);
  CHECK(clock.now() > claimed_at + 30s);
  CHECK(job.state == job_state::running);
  CHECK(job.heartbeat_at == clock.now());
  CHECK(job.lease_until == clock.now() + 30s);
  CHECK(runner.stats().heartbeats == 6);
  CHECK(runner.stats().reaped == 0);
  CHECK(store.expired_leases(clock.now(), 10).empty());

  released->open();
  runner.wait_idle();
  CHECK(own_heartbeat);
  CHECK(row(id).state == job_state::succeeded);
  CHECK(events(id) == strings{"claim", "succeed"});  // heartbeats are not transitions
}

TEST_CASE_METHOD(fixture, "a worker whose lease another reaper took stops its handler, and its report is refused",
                 "[runner][contract5]") {
  errand::runner runner(store, options(), clock);
  runner.handle("stalled", [](const std::string&, errand::job_context& ctx) {
    gate never;
    never.wait(ctx.stop_token());  // returns normally once asked to stop: a success the store must refuse
  });
  const auto id = enqueue("stalled");

  runner.poll();
  clock.advance(31s);  // this worker missed its heartbeats (a long GC pause, a frozen VM)
  REQUIRE(errand::reap(store, errand::retry_policy{}, clock.now()).size() == 1);
  runner.supervise();  // its heartbeat is refused: the job is no longer its own
  runner.wait_idle();

  CHECK(row(id).state == job_state::retry_pending);
  CHECK(row(id).last_error_kind == errand::error_kind::lease_expired);
  CHECK(events(id) == strings{"claim", "lease_expired"});
  CHECK(runner.stats().leases_lost == 1);
  CHECK(runner.stats().rejected_reports == 1);
  CHECK(log.mentions("w:0 lost its lease"));
  CHECK(log.mentions("after its lease was lost"));
}

TEST_CASE_METHOD(fixture, "the reaper records why a dead worker's job stopped: its worker and last heartbeat",
                 "[runner][contract4]") {
  auto o = options();
  o.reaper_interval = 60s;
  errand::runner runner(store, o, clock);
  const auto id = enqueue("resize");
  const auto claimed_at = clock.now();
  REQUIRE(store.claim(errand::claim_request{"dead-host:99:0", 30s, clock.now(), {}}));  // and never reports

  runner.supervise();
  CHECK(row(id).state == job_state::running);

  clock.advance(31s);
  runner.supervise();  // the reaper ran at the first supervise(); its next pass is not due
  CHECK(row(id).state == job_state::running);

  clock.advance(29s);
  runner.supervise();
  const auto job = row(id);
  CHECK(job.state == job_state::retry_pending);
  CHECK(job.last_error == "lease expired: worker dead-host:99:0, last heartbeat " + errand::to_iso8601(claimed_at));
  CHECK(job.last_error_kind == errand::error_kind::lease_expired);
  CHECK(runner.stats().reaped == 1);
  CHECK(events(id) == strings{"claim", "lease_expired"});
  CHECK(log.mentions("recovered by the reaper: lease expired: worker dead-host:99:0"));
}

TEST_CASE_METHOD(fixture, "start() recovers the jobs a crashed process left running (chat turns)",
                 "[runner][contract4]") {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(enqueue("chat"));
    REQUIRE(store.claim(errand::claim_request{"crashed:1234:" + std::to_string(i), 30s, clock.now(), {}}));
  }
  const auto crashed_at = clock.now();
  clock.advance(5min);  // the process is restarted later

  errand::runner runner(store, options(3), clock);
  runner.handle("chat", [](const std::string&, errand::job_context&) {});
  runner.start();  // the reaper pass and the first claims are done when start() returns
  runner.wait_idle();
  runner.stop();

  CHECK(runner.stats().reaped == 3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto history = store.history(ids[i]);
    REQUIRE(history.size() == 4);
    CHECK(history[1].event == "lease_expired");
    CHECK(contains(history[1].payload, "lease expired: worker crashed:1234:" + std::to_string(i) + ", last heartbeat " +
                                           errand::to_iso8601(crashed_at)));
    CHECK(history[2].event == "claim");
    CHECK(history[3].event == "succeed");
    CHECK(row(ids[i]).state == job_state::succeeded);
    CHECK(row(ids[i]).attempt == 2);
  }
}

TEST_CASE_METHOD(fixture, "shutdown stops claiming, lets handlers finish, and releases the rest with a reason",
                 "[runner][contract4]") {
  auto stubborn_gate = std::make_shared<gate>();
  auto o = options(2);
  o.shutdown_grace = 5s;
  errand::runner runner(store, o, clock);
  runner.handle("cooperative", [](const std::string&, errand::job_context& ctx) {
    gate never;
    never.wait(ctx.stop_token());
    throw std::runtime_error("upload interrupted by shutdown");
  });
  runner.handle("stubborn", [stubborn_gate](const std::string&, errand::job_context&) { stubborn_gate->wait(); });
  open_on_exit guard{stubborn_gate};
  const auto cooperative = enqueue("cooperative");
  const auto stubborn = enqueue("stubborn");
  awaited cooperative_ended(store, [&](const errand::notification& n) {
    return n.row.id == cooperative && n.row.state != job_state::running;
  });

  REQUIRE(runner.poll() == 2);
  const auto waiting = enqueue("cooperative");
  runner.begin_shutdown();
  cooperative_ended.wait();
  CHECK(runner.poll() == 0);

  clock.advance(4s);
  runner.supervise();
  CHECK(row(stubborn).state == job_state::running);

  clock.advance(1s);
  runner.supervise();
  auto job = row(stubborn);
  CHECK(job.state == job_state::retry_pending);
  CHECK(job.last_error == "worker w:1 shut down before the job finished");
  CHECK(job.last_error_kind == errand::error_kind::shutdown);
  CHECK(runner.stats().released_at_shutdown == 1);

  stubborn_gate->open();
  runner.wait_idle();
  CHECK(row(stubborn).state == job_state::retry_pending);  // its late success was refused
  CHECK(runner.stats().rejected_reports == 1);
  CHECK(row(cooperative).state == job_state::retry_pending);
  CHECK(row(cooperative).last_error == "std::runtime_error: upload interrupted by shutdown");
  CHECK(row(waiting).state == job_state::pending);
  CHECK(row(waiting).attempt == 0);

  SECTION("the released jobs retry on the next worker") {
    errand::runner next(store, options(2), clock);
    next.handle("cooperative", [](const std::string&, errand::job_context&) {});
    next.handle("stubborn", [](const std::string&, errand::job_context&) {});
    while (next.poll() > 0) next.wait_idle();
    for (const auto id : {cooperative, stubborn, waiting}) {
      CHECK(row(id).state == job_state::succeeded);
      CHECK_FALSE(row(id).last_error);
    }
    CHECK(errand::errors_of(store.history(stubborn)).front().message == "worker w:1 shut down before the job finished");
  }
}

TEST_CASE_METHOD(fixture, "stop() with no grace releases running jobs at once", "[runner][contract4]") {
  auto stubborn_gate = std::make_shared<gate>();
  auto o = options();
  o.shutdown_grace = 0s;
  errand::runner runner(store, o, clock);
  runner.handle("stubborn", [stubborn_gate](const std::string&, errand::job_context&) { stubborn_gate->wait(); });
  open_on_exit guard{stubborn_gate};
  const auto id = enqueue("stubborn");

  runner.poll();
  runner.stop();

  CHECK(row(id).state == job_state::retry_pending);
  CHECK(row(id).last_error == "worker w:0 shut down before the job finished");
  CHECK(runner.poll() == 0);
}

TEST_CASE_METHOD(fixture, "a store that fails is logged and counted; the job is recovered, never left running",
                 "[runner][contract4]") {
  hooked_store flaky(store);
  std::atomic<bool> down{false};
  flaky.before_write = [&](const errand::decision*) {
    if (down) throw errand::store_error("errand: the database is unreachable");
  };
  auto reported = std::make_shared<gate>();
  errand::runner runner(flaky, options(), clock);
  runner.handle("sync", [reported](const std::string&, errand::job_context&) { reported->wait(); });
  open_on_exit guard{reported};
  const auto id = enqueue("sync");

  down = true;
  CHECK(runner.poll() == 0);
  CHECK(runner.stats().store_errors == 1);
  CHECK(log.mentions("claim by w:0 failed: errand: the database is unreachable"));
  CHECK(row(id).state == job_state::pending);

  down = false;
  REQUIRE(runner.poll() == 1);  // claimed; the success is reported while the database is down again
  down = true;
  reported->open();
  runner.wait_idle();
  CHECK(runner.stats().store_errors == 2);
  CHECK(log.mentions("the report for job " + std::to_string(id) + " failed"));
  CHECK(row(id).state == job_state::running);

  down = false;
  clock.advance(31s);
  runner.supervise();  // the lease the lost report left behind expires, and the reaper says so
  CHECK(row(id).state == job_state::retry_pending);
  CHECK(row(id).last_error_kind == errand::error_kind::lease_expired);
  REQUIRE(runner.poll() == 1);
  runner.wait_idle();
  CHECK(row(id).state == job_state::succeeded);
}

TEST_CASE_METHOD(fixture, "N threads run M jobs to the end with consistent histories", "[runner][threads]") {
  constexpr int jobs_per_kind = 40;
  constexpr int total = 3 * jobs_per_kind;
  std::atomic<int> finished{0};
  std::promise<void> all_finished;
  auto subscription = store.subscribe([&](const errand::notification& n) {
    if ((n.row.state == job_state::succeeded || n.row.state == job_state::failed) && ++finished == total)
      all_finished.set_value();
  });

  errand::runner runner(store, options(4), clock);
  runner.handle("ok", [](const std::string&, errand::job_context&) {});
  runner.handle("flaky", [](const std::string&, errand::job_context& ctx) {
    if (ctx.attempt() == 1) throw std::runtime_error("flaked on attempt 1");
  });
  runner.handle("broken", [](const std::string&, errand::job_context&) -> errand::job_result {
    return errand::failure{"broken for good", "reported", false};
  });
  std::map<std::int64_t, std::string> kind_of;
  for (int i = 0; i < jobs_per_kind; ++i)
    for (const char* kind : {"ok", "flaky", "broken"}) kind_of[enqueue(kind)] = kind;

  runner.start();
  all_finished.get_future().wait();
  runner.stop();

  const auto counts = store.count_by_state();
  CHECK(counts.at(job_state::succeeded) == 2 * jobs_per_kind);
  CHECK(counts.at(job_state::failed) == jobs_per_kind);
  std::int64_t attempts = 0;
  for (const auto& [id, kind] : kind_of) {
    const auto job = row(id);
    const auto history = store.history(id);
    attempts += job.attempt;
    CHECK(job.attempt == (kind == "flaky" ? 2 : 1));
    CHECK(job.state == (kind == "broken" ? job_state::failed : job_state::succeeded));
    if (kind != "broken") CHECK_FALSE(job.last_error);
    REQUIRE(history.size() == static_cast<std::size_t>(2 * job.attempt));
    auto state = job_state::pending;
    std::int32_t claims = 0;
    for (std::size_t i = 0; i < history.size(); ++i) {
      CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
      CHECK(history[i].from == state);
      state = history[i].to;
      if (history[i].event == "claim") CHECK(history[i].attempt == ++claims);
    }
    CHECK(state == job.state);
    CHECK(claims == job.attempt);
  }
  const auto stats = runner.stats();
  CHECK(stats.claimed == attempts);
  CHECK(stats.succeeded == 2 * jobs_per_kind);
  CHECK(stats.failed == 2 * jobs_per_kind);
  CHECK(stats.rejected_reports == 0);
  CHECK(stats.store_errors == 0);
}

TEST_CASE_METHOD(fixture, "threads that finish while a claim is under way wait for it, then share the next claim",
                 "[runner][threads]") {
  held_claims_store claims(store);
  auto o = options(3);
  o.report_batch = 1;  // each report is written, and notified, as soon as its handler returns
  o.poll_interval = std::chrono::hours{1};
  o.claim_gather = 0s;  // the first thread to finish claims at once, without waiting for the others
  errand::runner runner(claims, o, clock);
  auto claim_gate = std::make_shared<gate>();
  open_on_exit guard_claim{claim_gate};
  held_then_free jobs(*this, runner);
  const auto& held = jobs.held;
  awaited all_done(store, [done = std::make_shared<std::atomic<int>>(0)](const errand::notification& n) {
    return n.row.state == job_state::succeeded && ++*done == 6;
  });

  runner.start();  // its first poll claims a job for each thread at once: the three held ones
  REQUIRE(claims.asked() == std::vector<std::size_t>{3});

  claims.hold_next(claim_gate);
  jobs.open(held[0]);
  claims.wait_for_claims(2);  // the first thread to finish claims its next job, and the claim is held
  {
    awaited second(store, [&](const errand::notification& n) {
      return n.row.id == held[1] && n.row.state == job_state::succeeded;
    });
    awaited third(store, [&](const errand::notification& n) {
      return n.row.id == held[2] && n.row.state == job_state::succeeded;
    });
    jobs.open(held[1]);
    jobs.open(held[2]);
    second.wait();
    third.wait();
  }
  claim_gate->open();
  all_done.wait();
  runner.stop();

  // The two threads waited for the held claim rather than claim beside it,
  // which was for its own thread only: the others were running.
  REQUIRE(claims.asked().size() >= 3);
  jobs.check_claims_after_the_first(*this, claims, 1);
}

TEST_CASE_METHOD(fixture, "a thread about to claim lets the threads whose handlers are returning join its claim",
                 "[runner][threads]") {
  held_claims_store claims(store);
  auto o = options(3);
  o.poll_interval = std::chrono::hours{1};
  o.claim_gather = std::chrono::hours{1};  // only the others' return ends the wait
  errand::runner runner(claims, o, clock);
  held_then_free jobs(*this, runner);
  awaited all_done(store, [done = std::make_shared<std::atomic<int>>(0)](const errand::notification& n) {
    return n.row.state == job_state::succeeded && ++*done == 6;
  });

  runner.start();  // its first poll claims the three held jobs
  REQUIRE(claims.asked() == std::vector<std::size_t>{3});
  for (const auto id : jobs.held) jobs.open(id);  // one after another
  all_done.wait();
  runner.stop();

  // One claim for the three threads: the first to finish waited for the other two.
  jobs.check_claims_after_the_first(*this, claims, 3);
}

TEST_CASE_METHOD(fixture, "shutdown ends a thread's wait for others to join its claim, and nothing more is claimed",
                 "[runner][threads][contract4]") {
  held_claims_store claims(store);
  auto o = options(2);
  o.poll_interval = std::chrono::hours{1};
  o.claim_gather = std::chrono::hours{1};
  o.report_batch = 1;  // the free job's success is written before its thread waits for the held one
  o.shutdown_grace = 0s;
  const auto held = enqueue("held");
  const auto first_free = enqueue("free");
  const auto second_free = enqueue("free");
  {
    errand::runner runner(claims, o, clock);
    auto held_gate = std::make_shared<gate>();
    runner.handle("held",
                  [held_gate](const std::string&, errand::job_context&) { held_gate->wait(); });  // ignores stop
    runner.handle("free", [](const std::string&, errand::job_context&) {});
    open_on_exit guard{held_gate};
    awaited first_done(store, [&](const errand::notification& n) {
      return n.row.id == first_free && n.row.state == job_state::succeeded;
    });
    runner.start();  // claims the held job and the first free one
    first_done.wait();
    runner.stop();
  }  // the held handler returns, and the runner's threads end

  CHECK(claims.asked() == std::vector<std::size_t>{2});
  CHECK(events(second_free).empty());  // never claimed, so never released either
  CHECK(row(second_free).state == job_state::pending);
  CHECK(row(held).state == job_state::retry_pending);  // released by the shutdown, as a running job is
}

TEST_CASE_METHOD(fixture, "a started runner refills its prefetch queue in one claim, with room for a job per thread",
                 "[runner][threads][prefetch]") {
  held_claims_store claims(store);
  auto o = options(2);
  o.prefetch = 4;
  errand::runner runner(claims, o, clock);
  std::mutex mutex;
  std::set<std::thread::id> pool;
  runner.handle("free", [&](const std::string&, errand::job_context&) {
    std::scoped_lock lock(mutex);
    pool.insert(std::this_thread::get_id());
  });
  constexpr int total = 40;
  for (int i = 0; i < total; ++i) enqueue("free");
  awaited all_done(store, [done = std::make_shared<std::atomic<int>>(0)](const errand::notification& n) {
    return n.row.state == job_state::succeeded && ++*done == total;
  });

  runner.start();
  all_done.wait();
  runner.stop();

  CHECK(claims.overlapping() == 0);
  const auto asked = claims.asked();
  const auto got = claims.got();
  const auto claimers = claims.claimers();
  CAPTURE(asked, got);
  REQUIRE(!asked.empty());
  CHECK(asked.front() == 6);  // start(): both idle threads and the queue's room, in its first claim
  std::scoped_lock lock(mutex);
  for (std::size_t i = 0; i < got.size() && got[i] == asked[i]; ++i)
    if (pool.contains(claimers[i]))
      CHECK(asked[i] >= 5);  // a thread that found the queue empty: itself and all the room, never one job
  // (the background thread tops the queue up between them, with what room it finds)
  CHECK(std::accumulate(got.begin(), got.end(), std::size_t{0}) == total);
}

// A runner over a store that announces work wakes on the announcement and
// does not subscribe; over any other store it wakes on the notification.
TEST_CASE_METHOD(fixture, "a requeue wakes the pool before its poll interval, announced or notified",
                 "[runner][threads]") {
  const auto requeue_wakes = [&](auto& jobs) {
    const auto id = enqueue("report", "{}", 1);
    REQUIRE(store.claim(errand::claim_request{"other", 30s, clock.now(), {}}));
    REQUIRE(errand::report(store, id, errand::fail{1, "other", {"quota exceeded", "reported", false}},
                           errand::retry_policy{}, clock.now())
                .applied());

    auto o = options(2);
    o.poll_interval = std::chrono::hours{1};
    o.reaper_interval = std::chrono::hours{1};
    errand::runner runner(jobs, o, clock);
    runner.handle("report", [](const std::string&, errand::job_context&) { return "sent"; });
    awaited succeeded(
        store, [&](const errand::notification& n) { return n.row.id == id && n.row.state == job_state::succeeded; });
    runner.start();  // its first pass finds nothing to claim; the next is an hour away
    CHECK(row(id).state == job_state::failed);

    REQUIRE(errand::report(store, id, errand::requeue{"quota raised"}, errand::retry_policy{}, clock.now()).applied());
    succeeded.wait();  // only the requeue can have woken the runner this soon
    runner.stop();

    CHECK(row(id).detail == "sent");
    CHECK(events(id) == strings{"claim", "fail", "requeue", "claim", "succeed"});
  };
  SECTION("a store that only notifies") {
    hooked_store notifying(store);
    requeue_wakes(notifying);
  }
  SECTION("a store that announces work") { requeue_wakes(store); }
}

TEST_CASE_METHOD(fixture, "worker identities default to hostname:pid:index", "[runner]") {
  auto o = options(2);
  o.worker_id.clear();
  errand::runner runner(store, o, clock);
  const auto workers = runner.workers();
  REQUIRE(workers.size() == 2);
  const auto pid = std::string(":").append(std::to_string(getpid())) + ":";
  CHECK(contains(workers[0], pid + "0"));
  CHECK(contains(workers[1], pid + "1"));
  CHECK(workers[0].find(':') > 0);
}

TEST_CASE_METHOD(fixture, "handlers are registered once, before the runner starts", "[runner]") {
  errand::runner runner(store, options(), clock);
  runner.handle("a", [](const std::string&, errand::job_context&) {});
  CHECK_THROWS_AS(runner.handle("a", [](const std::string&, errand::job_context&) {}), std::logic_error);
  runner.poll();
  CHECK_THROWS_AS(runner.handle("b", [](const std::string&, errand::job_context&) {}), std::logic_error);
}

TEST_CASE_METHOD(fixture, "options that cannot work are refused", "[runner]") {
  auto o = options();
  o.threads = 0;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.lease = 0s;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.heartbeat_interval = o.lease;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.poll_interval = 0s;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.report_batch = 0;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.report_delay = 10s;  // the heartbeat interval: a waiting report could outlive its lease
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.claim_gather = -1ms;
  CHECK_THROWS_AS(errand::runner(store, o, clock), std::invalid_argument);
  o = options();
  o.retry.multiplier = std::nan("");
  CHECK_THROWS_WITH(errand::runner(store, o, clock),
                    "errand: a runner's retry policy has a multiplier or a jitter that is NaN");
}

// Throughput: prefetched jobs, reports written in batches, notify().

TEST_CASE_METHOD(fixture, "prefetched jobs start on the next free thread without another claim", "[runner][prefetch]") {
  auto first_gate = std::make_shared<gate>();
  auto o = options(1);
  o.prefetch = 2;
  o.deadline = 60s;
  errand::runner runner(store, o, clock);
  std::mutex mutex;
  std::map<std::int64_t, errand::time_point> deadlines;
  runner.handle("work", [&, first_gate](const std::string&, errand::job_context& ctx) {
    first_gate->wait();
    std::scoped_lock lock(mutex);
    deadlines[ctx.job_id()] = ctx.deadline();
  });
  open_on_exit guard{first_gate};
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(enqueue("work"));
  const auto claimed_at = clock.now();

  REQUIRE(runner.poll() == 1);  // one thread: one handler runs, two jobs wait for it
  CHECK(runner.stats().claimed == 3);
  CHECK(row(ids[1]).state == job_state::running);
  CHECK(row(ids[2]).state == job_state::running);
  CHECK(row(ids[3]).state == job_state::pending);

  for (int i = 0; i < 5; ++i) {  // heartbeats keep the waiting jobs' leases
    clock.advance(10s);
    runner.supervise();
  }
  CHECK(errand::reap(store, errand::retry_policy{}, clock.now()).empty());
  first_gate->open();
  runner.wait_idle();

  REQUIRE(runner.poll() == 1);  // the first prefetched job; the room it left is claimed again
  runner.wait_idle();
  CHECK(runner.stats().claimed == 4);
  while (runner.poll() > 0) runner.wait_idle();

  for (const auto id : ids) {
    CHECK(row(id).state == job_state::succeeded);
    CHECK(events(id) == strings{"claim", "succeed"});
  }
  std::scoped_lock lock(mutex);
  CHECK(deadlines.at(ids[0]) == claimed_at + 60s);
  CHECK(deadlines.at(ids[1]) == claimed_at + 50s + 60s);  // its deadline runs from its start, not its claim
}

TEST_CASE_METHOD(fixture, "at shutdown prefetched jobs are handed back at once, their attempts undone",
                 "[runner][prefetch][contract4]") {
  auto stubborn_gate = std::make_shared<gate>();
  auto o = options(1);
  o.prefetch = 2;
  errand::runner runner(store, o, clock);
  std::atomic<int> quick_runs{0};
  runner.handle("stubborn", [stubborn_gate](const std::string&, errand::job_context&) { stubborn_gate->wait(); });
  runner.handle("quick", [&](const std::string&, errand::job_context&) { ++quick_runs; });
  open_on_exit guard{stubborn_gate};
  const auto running = enqueue("stubborn");
  const auto retried = enqueue("quick", "{}", 3);
  const auto last_attempt = enqueue("quick", "{}", 1);

  REQUIRE(runner.poll() == 1);
  runner.begin_shutdown();

  for (const auto id : {retried, last_attempt}) {
    const auto job = row(id);
    CHECK(job.state == job_state::pending);
    CHECK(job.attempt == 0);  // the claim that never started is undone: a last attempt is not spent
    CHECK_FALSE(job.last_error.has_value());
    CHECK_FALSE(job.lease_until.has_value());
    CHECK(events(id) == strings{"claim", "release"});
  }
  CHECK(runner.stats().released_unstarted == 2);
  CHECK(log.mentions("w released 2 prefetched job(s) it had not started"));

  stubborn_gate->open();
  runner.stop();
  CHECK(row(running).state == job_state::succeeded);  // what had started finished within the grace period
  CHECK(quick_runs == 0);
}

TEST_CASE_METHOD(fixture, "prefetched jobs of a worker that stopped heartbeating are reaped, and never started",
                 "[runner][prefetch][contract5]") {
  auto frozen = std::make_shared<gate>();
  auto o = options(1);
  o.prefetch = 2;
  errand::runner runner(store, o, clock);
  std::mutex mutex;
  std::vector<std::int32_t> attempts_run;
  runner.handle("frozen", [frozen](const std::string&, errand::job_context&) { frozen->wait(); });
  runner.handle("quick", [&](const std::string&, errand::job_context& ctx) {
    std::scoped_lock lock(mutex);
    attempts_run.push_back(ctx.attempt());
  });
  open_on_exit guard{frozen};
  enqueue("frozen");
  const auto first = enqueue("quick");
  const auto second = enqueue("quick");

  REQUIRE(runner.poll() == 1);
  clock.advance(31s);  // the process stopped heartbeating (a crash, a frozen VM)
  CHECK(errand::reap(store, errand::retry_policy::immediate(), clock.now()).size() == 3);
  CHECK(row(first).state == job_state::retry_pending);
  CHECK(row(first).last_error == "lease expired: worker w:0, last heartbeat " + errand::to_iso8601(clock.now() - 31s));

  runner.supervise();  // it wakes up: every lease it held is refused
  CHECK(runner.stats().leases_lost == 3);
  frozen->open();
  runner.wait_idle();
  while (runner.poll() > 0) runner.wait_idle();

  for (const auto id : {first, second}) {
    CHECK(row(id).state == job_state::succeeded);
    CHECK(events(id) == strings{"claim", "lease_expired", "claim", "succeed"});
  }
  std::scoped_lock lock(mutex);
  CHECK(attempts_run == std::vector<std::int32_t>{2, 2});  // the reaped attempts never ran
}

TEST_CASE_METHOD(fixture, "prefetch takes no more of a limited queue than its limit, and nothing of a paused one",
                 "[runner][prefetch][queues]") {
  const auto in_queue = [&](const std::string& queue) {
    errand::job_spec spec;
    spec.kind = "work";
    spec.queue = queue;
    return store.enqueue(spec, clock.now()).id;
  };
  store.set_queue_limit("reports", 2, clock.now());
  store.pause_queue("mail", clock.now());
  for (int i = 0; i < 5; ++i) in_queue("reports");
  const auto mail = in_queue("mail");
  auto held = std::make_shared<gate>();
  auto o = options(1);
  o.prefetch = 8;
  errand::runner runner(store, o, clock);
  runner.handle("work", [held](const std::string&, errand::job_context&) { held->wait(); });
  open_on_exit guard{held};

  REQUIRE(runner.poll() == 1);
  CHECK(runner.stats().claimed == 2);
  CHECK(store.count_by_state().at(job_state::pending) == 4);
  CHECK(row(mail).state == job_state::pending);
}

TEST_CASE_METHOD(fixture, "a report that loses its compare-and-set in a batch is decided again on its own",
                 "[runner][batch][contract5]") {
  hooked_store observed(store);
  std::int64_t cancelled = 0;
  std::atomic<bool> cancel_next{true};
  observed.before_write = [&](const errand::decision* d) {
    // An operator cancels the job between the batch's read and its write.
    if (d && d->next.id == cancelled && cancel_next.exchange(false))
      REQUIRE(errand::report(store, cancelled, errand::cancel{"no longer needed"}, errand::retry_policy{}, clock.now())
                  .applied());
  };
  auto o = options(2);
  o.report_batch = 2;
  o.report_delay = 5s;
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(observed, o, clock);
  auto first_gate = std::make_shared<gate>(), second_gate = std::make_shared<gate>();
  auto slow_started = std::make_shared<gate>(), slow_gate = std::make_shared<gate>();
  runner.handle("first", [first_gate](const std::string&, errand::job_context&) { first_gate->wait(); });
  runner.handle("second", [second_gate](const std::string&, errand::job_context&) { second_gate->wait(); });
  runner.handle("slow", [slow_started, slow_gate](const std::string&, errand::job_context& ctx) {
    slow_started->open();
    slow_gate->wait(ctx.stop_token());
  });
  open_on_exit guards[] = {{first_gate}, {second_gate}, {slow_gate}};
  cancelled = enqueue("first");
  const auto second = enqueue("second");
  const auto slow = enqueue("slow");
  awaited second_succeeded(
      store, [&](const errand::notification& n) { return n.row.id == second && n.row.state == job_state::succeeded; });

  runner.start();  // "first" and "second" run; "slow" waits
  first_gate->open();
  slow_started->wait();  // the thread that ran "first" claimed "slow": its report waits for a batch
  CHECK(row(cancelled).state == job_state::running);
  second_gate->open();  // the second report fills the batch
  second_succeeded.wait();
  slow_gate->open();
  runner.stop();

  CHECK(observed.batches >= 1);
  CHECK(row(cancelled).state == job_state::failed);
  CHECK(row(cancelled).last_error == "no longer needed");
  CHECK(events(cancelled) == strings{"claim", "cancel"});
  CHECK(row(slow).state == job_state::succeeded);
  const auto stats = runner.stats();
  CHECK(stats.rejected_reports == 1);
  CHECK(stats.succeeded == 2);
  CHECK(log.mentions("job " + std::to_string(cancelled) + ": the store refused the success that w:0 reported"));
}

TEST_CASE_METHOD(fixture, "stop() writes the reports still waiting for their batch", "[runner][batch][contract4]") {
  auto o = options(1);
  o.report_delay = 5s;
  o.shutdown_grace = 0s;
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(store, o, clock);
  auto stubborn_started = std::make_shared<gate>(), stubborn_gate = std::make_shared<gate>();
  runner.handle("quick", [](const std::string&, errand::job_context&) { return "done"; });
  runner.handle("stubborn", [stubborn_started, stubborn_gate](const std::string&, errand::job_context&) {
    stubborn_started->open();
    stubborn_gate->wait();
  });
  open_on_exit guard{stubborn_gate};
  const auto quick = enqueue("quick");
  const auto stubborn = enqueue("stubborn");

  runner.start();
  stubborn_started->wait();  // "quick" returned; its report waits while the thread runs "stubborn"
  CHECK(row(quick).state == job_state::running);
  runner.stop();

  CHECK(row(quick).state == job_state::succeeded);
  CHECK(row(quick).detail == "done");
  CHECK(row(stubborn).state == job_state::retry_pending);
  CHECK(row(stubborn).last_error == "worker w:0 shut down before the job finished");
}

TEST_CASE_METHOD(fixture, "where claims are round trips, the background thread writes the reports, not a handler's",
                 "[runner][batch][threads]") {
  round_trip_store database(store);
  std::mutex mutex;
  std::vector<std::thread::id> writers;
  std::thread::id handler_thread;
  database.before_write = [&](const errand::decision* d) {
    std::scoped_lock lock(mutex);
    if (d) writers.push_back(std::this_thread::get_id());
  };
  auto o = options(1);
  o.report_batch = 2;
  o.poll_interval = std::chrono::hours{1};
  errand::runner runner(database, o, clock);
  auto held_started = std::make_shared<gate>(), held_gate = std::make_shared<gate>();
  runner.handle("quick", [&](const std::string&, errand::job_context&) {
    std::scoped_lock lock(mutex);
    handler_thread = std::this_thread::get_id();
  });
  runner.handle("held", [held_started, held_gate](const std::string&, errand::job_context&) {
    held_started->open();
    held_gate->wait();
  });
  enqueue("quick");
  enqueue("quick");
  const auto held = enqueue("held");
  open_on_exit guard{held_gate};
  awaited both_written(store, [done = std::make_shared<std::atomic<int>>(0)](const errand::notification& n) {
    return n.row.state == job_state::succeeded && ++*done == 2;
  });

  runner.start();
  both_written.wait();  // written while the handler's thread goes on to the held job
  held_started->wait();
  held_gate->open();
  runner.stop();

  CHECK(row(held).state == job_state::succeeded);
  std::scoped_lock lock(mutex);
  REQUIRE(writers.size() >= 2);
  CHECK(writers[0] != handler_thread);  // the batch of the two quick jobs' reports
  CHECK(writers[1] != handler_thread);
}

TEST_CASE_METHOD(fixture, "no batch holds more than report_batch reports, however many wait",
                 "[runner][batch][threads]") {
  held_batches_store database(store);
  auto o = options(2);
  o.report_batch = 2;
  o.poll_interval = std::chrono::hours{1};
  errand::runner runner(database, o, clock);
  auto all_returned = std::make_shared<gate>();
  runner.handle("quick", [all_returned, returned = std::make_shared<std::atomic<int>>(0)](const std::string&,
                                                                                          errand::job_context&) {
    if (++*returned == 6) all_returned->open();
  });
  for (int i = 0; i < 6; ++i) enqueue("quick");
  struct release_on_exit {
    held_batches_store& store;
    ~release_on_exit() { store.release(); }
  } guard{database};
  awaited all_done(store, [done = std::make_shared<std::atomic<int>>(0)](const errand::notification& n) {
    return n.row.state == job_state::succeeded && ++*done == 6;
  });

  runner.start();
  database.wait_for_first_batch();
  all_returned->wait();  // the other four reports wait while the first batch is written
  database.release();
  all_done.wait();
  runner.stop();

  const auto sizes = database.sizes();
  CAPTURE(sizes);
  for (const auto size : sizes) CHECK(size <= 2);  // a lone report is written with apply(), not counted here
}

TEST_CASE_METHOD(fixture, "a report waits for its batch no longer than report_delay", "[runner][batch]") {
  auto o = options(1);
  o.report_delay = 5s;
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(store, o, clock);
  auto stubborn_started = std::make_shared<gate>(), stubborn_gate = std::make_shared<gate>();
  runner.handle("quick", [](const std::string&, errand::job_context&) {});
  runner.handle("stubborn", [stubborn_started, stubborn_gate](const std::string&, errand::job_context&) {
    stubborn_started->open();
    stubborn_gate->wait();
  });
  open_on_exit guard{stubborn_gate};
  const auto quick = enqueue("quick");
  enqueue("stubborn");
  awaited quick_succeeded(
      store, [&](const errand::notification& n) { return n.row.id == quick && n.row.state == job_state::succeeded; });

  runner.start();
  stubborn_started->wait();  // "quick" returned; its report waits while the thread runs "stubborn"
  clock.advance(4s);
  runner.supervise();
  CHECK(row(quick).state == job_state::running);
  clock.advance(1s);
  runner.supervise();  // its delay is over: written (here, or by the background thread's next pass)
  quick_succeeded.wait();
  stubborn_gate->open();
  runner.stop();
}

TEST_CASE_METHOD(fixture, "notify() wakes an idle started runner for a job enqueued in the same process",
                 "[runner][threads]") {
  hooked_store silent(store);  // announces nothing
  auto o = options(2);
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(silent, o, clock);
  runner.handle("report", [](const std::string&, errand::job_context&) { return "sent"; });
  awaited succeeded(store, [&](const errand::notification& n) {
    return n.row.kind == "report" && n.row.state == job_state::succeeded;
  });
  runner.start();  // nothing to claim; the next pass is an hour away

  const auto id = enqueue("report");
  runner.notify();
  succeeded.wait();  // only notify() can have woken the runner this soon
  runner.stop();
  CHECK(row(id).detail == "sent");
}

TEST_CASE_METHOD(fixture, "the memory store wakes an idle started runner for an enqueue, without notify()",
                 "[runner][threads]") {
  // An hour, or for ever: a wait of duration::max() overflowed the steady clock's nanoseconds.
  const errand::duration interval = GENERATE(errand::duration{std::chrono::hours{1}}, errand::duration::max());
  auto o = options(2);
  o.poll_interval = interval;
  o.reaper_interval = interval;
  o.shutdown_grace = interval;
  errand::runner runner(store, o, clock);
  runner.handle("report", [](const std::string&, errand::job_context&) { return "sent"; });
  awaited succeeded(store, [&](const errand::notification& n) {
    return n.row.kind == "report" && n.row.state == job_state::succeeded;
  });
  runner.start();  // nothing to claim; the next pass is an hour away
  const auto id = enqueue("report");
  succeeded.wait();  // only the store's announcement can have woken the runner this soon
  runner.stop();
  CHECK(row(id).detail == "sent");
}

TEST_CASE_METHOD(fixture, "a job scheduled for later starts at its run_at, not at the next poll", "[runner][threads]") {
  auto o = options(2);
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(store, o, clock);
  runner.handle("reminder", [](const std::string&, errand::job_context&) { return "sent"; });
  awaited succeeded(store, [&](const errand::notification& n) {
    return n.row.kind == "reminder" && n.row.state == job_state::succeeded;
  });
  runner.start();  // nothing to claim; the next pass is an hour away
  errand::job_spec spec;
  spec.kind = "reminder";
  spec.run_at = clock.now() + 20ms;
  const auto id = store.enqueue(spec, clock.now()).id;  // announced, but not due: the runner waits for its run_at
  clock.advance(20ms);
  succeeded.wait();  // only the store's next run_at can have woken the runner before the hour
  runner.stop();
  CHECK(row(id).detail == "sent");
}

TEST_CASE_METHOD(fixture, "a store that announces work wakes an idle started runner for every enqueue",
                 "[runner][threads]") {
  announcing_store announcing(store);
  auto o = options(2);
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  errand::runner runner(announcing, o, clock);
  runner.handle("report", [](const std::string&, errand::job_context&) { return "sent"; });
  std::atomic<int> sent{0};
  std::promise<void> both_sent;
  auto subscription = store.subscribe([&](const errand::notification& n) {
    if (n.row.state == job_state::succeeded && ++sent == 2) both_sent.set_value();
  });
  runner.start();  // nothing to claim; the next pass is an hour away

  errand::job_spec spec;
  spec.kind = "report";
  const auto first = announcing.enqueue(spec, clock.now()).id;
  const auto second = announcing.enqueue(spec, clock.now()).id;
  both_sent.get_future().wait();  // only the store's announcements can have woken the runner this soon
  runner.stop();
  CHECK(row(first).detail == "sent");
  CHECK(row(second).detail == "sent");
}
