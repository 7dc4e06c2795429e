// report.hpp over errand::memory_store: read, decide, compare-and-set, and
// decide again when another writer got there first.

#include "errand_catch.hpp"
#include <errand/memory.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;
using errand::rejection;
using errand::verdict;

const errand::retry_policy no_delay = errand::retry_policy::immediate();

// A store that lets a test run a competing writer between a reader's get()
// and its apply(): the race a compare-and-set exists for, made deterministic.
class interposing_store {
 public:
  explicit interposing_store(errand::memory_store& inner) : inner_(inner) {}

  // Runs `competitor` once, right before the next apply() reaches the store.
  void before_next_apply(std::function<void(errand::memory_store&)> competitor) { competitor_ = std::move(competitor); }
  int applies() const { return applies_; }
  int gets() const { return gets_; }

  errand::write_result apply(const errand::decision& d) {
    ++applies_;
    if (auto competitor = std::exchange(competitor_, {})) competitor(inner_);
    return inner_.apply(d);
  }

  errand::enqueued enqueue(const errand::job_spec& spec, errand::time_point now) { return inner_.enqueue(spec, now); }
  std::vector<errand::enqueued> enqueue_batch(std::span<const errand::job_spec> specs, errand::time_point now) {
    return inner_.enqueue_batch(specs, now);
  }
  std::optional<errand::job> get(std::int64_t id) const {
    ++gets_;
    return inner_.get(id);
  }
  std::vector<errand::write_result> apply_batch(std::span<const errand::decision> ds) { return inner_.apply_batch(ds); }
  std::optional<errand::job> claim(const errand::claim_request& r) { return inner_.claim(r); }
  std::vector<errand::job> claim_batch(const errand::claim_request& r, std::size_t n) {
    return inner_.claim_batch(r, n);
  }
  std::vector<errand::job> expired_leases(errand::time_point now, std::size_t n) const {
    return inner_.expired_leases(now, n);
  }
  std::vector<errand::job> query(const errand::job_query& q) const { return inner_.query(q); }
  std::vector<errand::history_record> history(std::int64_t id) const { return inner_.history(id); }
  std::optional<errand::outcome> latest_outcome(std::int64_t id) const { return inner_.latest_outcome(id); }
  errand::state_counts count_by_state() const { return inner_.count_by_state(); }
  errand::prune_result prune(const errand::prune_request& r) { return inner_.prune(r); }
  errand::subscription subscribe(errand::listener l) { return inner_.subscribe(std::move(l)); }

 private:
  errand::memory_store& inner_;
  std::function<void(errand::memory_store&)> competitor_;
  int applies_ = 0;
  mutable int gets_ = 0;
};
static_assert(errand::store<interposing_store>);

struct fixture {
  errand::manual_clock clock;
  errand::memory_store memory;
  interposing_store store{memory};

  // Enqueues a job and lets `worker` claim it with a 30 s lease.
  errand::job running_job(const std::string& worker = "w1", std::int32_t max_attempts = 3) {
    errand::job_spec spec;
    spec.kind = "resize_image";
    spec.max_attempts = max_attempts;
    const auto id = memory.enqueue(spec, clock.now()).id;
    auto claimed = memory.claim({worker, 30s, clock.now(), {}});
    REQUIRE(claimed);
    REQUIRE(claimed->id == id);
    return *claimed;
  }

  std::vector<std::string> events_of(std::int64_t id) const {
    std::vector<std::string> events;
    for (const auto& r : memory.history(id)) events.push_back(r.event);
    return events;
  }
};

}  // namespace

TEST_CASE("report applies an event and returns the row as written", "[report]") {
  fixture f;
  const auto job = f.running_job();
  f.clock.advance(5s);
  const auto result =
      errand::report(f.store, job.id, errand::succeed{1, "w1", "resized 3 images"}, no_delay, f.clock.now());
  CHECK(result.applied());
  CHECK(result.accepted());
  REQUIRE(result.row);
  CHECK(result.row->state == job_state::succeeded);
  CHECK(result.row->detail == "resized 3 images");
  CHECK(f.memory.get(job.id)->version == result.row->version);
  CHECK(f.events_of(job.id) == std::vector<std::string>{"claim", "succeed"});
}

TEST_CASE("a report_result converts to bool as a dispatch_result does: true when the report was taken", "[report]") {
  static_assert(!std::is_convertible_v<errand::report_result, bool>, "explicit, as dispatch_result's");
  fixture f;
  const auto job = f.running_job();
  const errand::succeed done{1, "w1", {}};
  if (const auto applied = errand::report(f.store, job.id, done, no_delay, f.clock.now())) {
    CHECK(applied.applied());
  } else {
    FAIL("an applied report converted to false: " << applied.reason);
  }
  const auto duplicate = errand::report(f.store, job.id, done, no_delay, f.clock.now());
  CHECK(duplicate.outcome == verdict::duplicate);
  CHECK(static_cast<bool>(duplicate));
  const auto rejected = errand::report(f.store, job.id, errand::cancel{}, no_delay, f.clock.now());
  CHECK(rejected.why == rejection::illegal_transition);
  CHECK_FALSE(static_cast<bool>(rejected));
  CHECK_FALSE(errand::report(f.store, 99, errand::cancel{}, no_delay, f.clock.now()));
}

TEST_CASE("report on a job that does not exist says so", "[report]") {
  fixture f;
  const auto result = errand::report(f.store, 99, errand::cancel{}, no_delay, f.clock.now());
  CHECK(result.outcome == verdict::rejected);
  CHECK(result.why == rejection::no_such_job);
  CHECK(result.reason == "job 99 does not exist");
  CHECK_FALSE(result.row);
  CHECK(errand::heartbeat(f.store, 99, "w1", 1, 30s, f.clock.now()).why == rejection::no_such_job);
}

TEST_CASE("report of a job deleted between its read and its write says it does not exist", "[report]") {
  fixture f;
  const auto job = f.running_job("w1", 1);
  errand::report(f.memory, job.id, errand::fail{1, "w1", {"bad input", "reported", false}}, no_delay, f.clock.now());
  f.clock.advance(1h);
  f.store.before_next_apply([&](errand::memory_store& s) { s.prune({f.clock.now(), std::nullopt}); });
  const auto result = errand::report(f.store, job.id, errand::requeue{}, no_delay, f.clock.now());
  CHECK(result.why == rejection::no_such_job);
  CHECK_FALSE(f.memory.get(job.id));
}

TEST_CASE("contract 5: report decides again when a competing write moved the version on", "[contract][report]") {
  fixture f;
  const auto job = f.running_job();

  SECTION("the report still holds: it is applied on the fresh row") {
    f.store.before_next_apply([&](errand::memory_store& s) {
      REQUIRE(errand::heartbeat(s, job.id, "w1", 1, 60s, f.clock.now() + 10s).applied());
    });
    const auto result =
        errand::report(f.store, job.id, errand::fail{1, "w1", {"out of memory"}}, no_delay, f.clock.now() + 20s);
    CHECK(result.applied());
    CHECK(f.store.applies() == 2);  // the first compare-and-set lost, the second won
    const auto row = f.memory.get(job.id);
    CHECK(row->state == job_state::retry_pending);
    CHECK(row->last_error == "out of memory");
    CHECK(row->version == job.version + 2);  // the heartbeat's write and the report's
    CHECK(f.events_of(job.id) == std::vector<std::string>{"claim", "fail"});
  }

  SECTION("the reaper got there first: the late report is rejected and changes nothing") {
    f.clock.advance(31s);
    f.store.before_next_apply(
        [&](errand::memory_store& s) { REQUIRE(errand::reap(s, no_delay, f.clock.now()).size() == 1); });
    const auto result = errand::report(f.store, job.id, errand::succeed{1, "w1"}, no_delay, f.clock.now());
    CHECK(result.outcome == verdict::rejected);
    CHECK(result.why == rejection::stale_report);
    REQUIRE(result.row);
    CHECK(result.row->state == job_state::retry_pending);
    CHECK(result.row->last_error_kind == "lease_expired");
    CHECK(f.events_of(job.id) == std::vector<std::string>{"claim", "lease_expired"});
  }

  SECTION("the same report got there first: it is acknowledged as a duplicate, written once") {
    const errand::fail failure{1, "w1", {"upstream returned 503"}};
    f.store.before_next_apply([&](errand::memory_store& s) {
      REQUIRE(errand::report(s, job.id, failure, no_delay, f.clock.now()).applied());
    });
    const auto result = errand::report(f.store, job.id, failure, no_delay, f.clock.now());
    CHECK(result.outcome == verdict::duplicate);
    CHECK(result.accepted());
    CHECK(result.row->last_error == "upstream returned 503");
    CHECK(f.events_of(job.id) == std::vector<std::string>{"claim", "fail"});
  }
}

TEST_CASE("contract 5: heartbeat extends the lease without history; a stale one changes nothing",
          "[contract][report]") {
  fixture f;
  const auto job = f.running_job();
  f.clock.advance(20s);
  const auto beat = errand::heartbeat(f.store, job.id, "w1", 1, 30s, f.clock.now());
  REQUIRE(beat.applied());
  CHECK(beat.row->lease_until == f.clock.now() + 30s);
  CHECK(beat.row->heartbeat_at == f.clock.now());
  CHECK(beat.row->version == job.version + 1);
  CHECK(f.memory.history(job.id).size() == 1);

  const auto stale = errand::heartbeat(f.store, job.id, "w2", 1, 30s, f.clock.now());
  CHECK(stale.why == rejection::stale_report);
  CHECK(f.memory.get(job.id)->version == beat.row->version);
}

TEST_CASE("contract 4: reap records why each expired lease was given up, and only those", "[contract][report]") {
  fixture f;
  const auto silent = f.running_job("w1");
  const auto alive = f.running_job("w2");
  f.clock.advance(25s);
  REQUIRE(errand::heartbeat(f.store, alive.id, "w2", 1, 30s, f.clock.now()).applied());
  f.clock.advance(10s);  // w1's lease ended 5 s ago; w2's runs for 20 s more

  const auto recovered = errand::reap(f.store, no_delay, f.clock.now());
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].id == silent.id);
  CHECK(recovered[0].state == job_state::retry_pending);
  CHECK(recovered[0].last_error == "lease expired: worker w1, last heartbeat 2026-01-01T00:00:00.000000Z");
  CHECK(recovered[0].last_error_kind == "lease_expired");
  CHECK(recovered[0].last_error_at == f.clock.now());
  CHECK(f.memory.get(alive.id)->state == job_state::running);

  const auto history = f.memory.history(silent.id);
  REQUIRE(history.size() == 2);
  CHECK(history[1].event == "lease_expired");
  CHECK(history[1].worker == "w1");
  CHECK(history[1].from == job_state::running);
  CHECK(history[1].to == job_state::retry_pending);

  CHECK(errand::reap(f.store, no_delay, f.clock.now()).empty());  // a second pass finds nothing
}

TEST_CASE("contract 4: reap of a job on its last attempt fails it, with the reason", "[contract][report]") {
  fixture f;
  const auto job = f.running_job("w1", 1);
  f.clock.advance(30s);  // a lease ending exactly now has expired
  const auto recovered = errand::reap(f.store, no_delay, f.clock.now());
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].state == job_state::failed);
  CHECK(recovered[0].last_error == "lease expired: worker w1, last heartbeat 2026-01-01T00:00:00.000000Z");
  CHECK(f.memory.latest_outcome(job.id)->text == recovered[0].last_error);
}

TEST_CASE("contract 4: reap leaves alone a job whose worker heartbeated after the reaper looked",
          "[contract][report]") {
  fixture f;
  const auto job = f.running_job();
  f.clock.advance(31s);
  f.store.before_next_apply(
      [&](errand::memory_store& s) { REQUIRE(errand::heartbeat(s, job.id, "w1", 1, 30s, f.clock.now()).applied()); });
  CHECK(errand::reap(f.store, no_delay, f.clock.now()).empty());
  CHECK(f.memory.get(job.id)->state == job_state::running);
  CHECK(f.memory.history(job.id).size() == 1);
}

TEST_CASE("contract 4: the reaper's reason names the heartbeat that committed last", "[contract][report]") {
  fixture f;
  const auto job = f.running_job();
  f.clock.advance(40s);
  // The worker's last heartbeat lands after the reaper read the row, and its
  // (zero-length) lease is over by the time the reaper decides again.
  f.store.before_next_apply([&](errand::memory_store& s) {
    REQUIRE(errand::heartbeat(s, job.id, "w1", 1, 0s, f.clock.now() - 1s).applied());
  });
  const auto recovered = errand::reap(f.store, no_delay, f.clock.now());
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].last_error == "lease expired: worker w1, last heartbeat 2026-01-01T00:00:39.000000Z");
}

TEST_CASE("reap stops at its limit; the next pass takes the rest", "[report]") {
  fixture f;
  for (int i = 0; i < 5; ++i) f.running_job(std::string("w").append(std::to_string(i)));
  f.clock.advance(1min);
  CHECK(errand::reap(f.store, no_delay, f.clock.now(), 3).size() == 3);
  CHECK(errand::reap(f.store, no_delay, f.clock.now(), 3).size() == 2);
  CHECK(f.memory.count_by_state()[job_state::retry_pending] == 5);
}

TEST_CASE("report_held decides on the row the worker holds: one write, no read", "[report]") {
  fixture f;
  const auto held = f.running_job();
  const auto beat = errand::heartbeat_held(f.store, held, 30s, f.clock.now());
  REQUIRE(beat.applied());
  const auto done = errand::report_held(f.store, *beat.row, errand::succeed{1, "w1", {}}, no_delay, f.clock.now());
  CHECK(done.applied());
  CHECK(f.store.gets() == 0);
  CHECK(f.store.applies() == 2);
  CHECK(f.memory.get(held.id)->state == job_state::succeeded);
}

TEST_CASE("report_held reads the row and decides again only when its compare-and-set loses", "[report]") {
  fixture f;
  const auto held = f.running_job();
  SECTION("a write that leaves the attempt held: the report applies on the fresh row") {
    REQUIRE(errand::heartbeat(f.memory, held.id, "w1", 1, 60s, f.clock.now()).applied());  // another path beat
    const auto done = errand::report_held(f.store, held, errand::succeed{1, "w1", {}}, no_delay, f.clock.now());
    CHECK(done.applied());
    CHECK(f.store.gets() == 1);
    CHECK(f.store.applies() == 2);
  }
  SECTION("an operator cancelled meanwhile: the report is refused as the stored row says") {
    REQUIRE(errand::report(f.memory, held.id, errand::cancel{"not needed"}, no_delay, f.clock.now()).applied());
    const auto done = errand::report_held(f.store, held, errand::succeed{1, "w1", {}}, no_delay, f.clock.now());
    CHECK(done.why == rejection::stale_report);
    REQUIRE(done.row);
    CHECK(done.row->state == job_state::failed);
    CHECK(f.memory.get(held.id)->last_error == "not needed");
  }
  SECTION("a held row the report cannot apply to is not trusted: the stored row decides") {
    auto older = held;
    older.state = job_state::pending;  // as if remembered from before the claim
    const auto done = errand::report_held(f.store, older, errand::succeed{1, "w1", {}}, no_delay, f.clock.now());
    CHECK(done.applied());
    CHECK(f.store.gets() == 1);
  }
}
