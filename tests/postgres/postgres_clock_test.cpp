// Workers whose clocks disagree by a minute, on one PostgreSQL database. With
// their system clocks they reap each other's live jobs and run jobs early;
// with postgres_server_clock every worker measures against the server's clock
// and neither happens.

#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <chrono>
#include <future>
#include <memory>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

// A machine's clock that is `skew` ahead of (or behind) the true time.
class skewed_clock final : public errand::clock {
 public:
  explicit skewed_clock(errand::duration skew) : skew_(skew) {}
  errand::time_point now() const override { return errand::system_clock{}.now() + skew_; }

 private:
  errand::duration skew_;
};

const skewed_clock ahead{+60s};
const skewed_clock behind{-60s};

errand::job_spec spec(std::string kind = "work") {
  errand::job_spec s;
  s.kind = std::move(kind);
  return s;
}

errand::runner_options options(std::string worker) {
  errand::runner_options o;
  o.threads = 1;
  o.worker_id = std::move(worker);
  o.lease = 30s;
  o.log = [](std::string_view) {};
  return o;
}

}  // namespace

TEST_CASE("the server clock reads the server's time through a skewed local clock", "[postgres][clock]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  const errand::postgres_server_clock from_ahead(store, ahead);
  const errand::postgres_server_clock from_behind(store, behind);
  // The offsets undo the skews, to within the tolerance (generous here: a loaded test machine).
  CHECK(from_ahead.offset() > -61s);
  CHECK(from_ahead.offset() < -59s);
  CHECK(from_behind.offset() > 59s);
  CHECK(from_behind.offset() < 61s);
  const auto server = store.server_time();
  for (const errand::clock* c : {static_cast<const errand::clock*>(&from_ahead), static_cast<const errand::clock*>(&from_behind)}) {
    const auto difference = c->now() - server;
    CHECK(difference > -1s);
    CHECK(difference < 1s);
  }
}

TEST_CASE("skewed workers on the server clock never reap a live job; on their own clocks they do",
          "[postgres][clock]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());

  SECTION("their own clocks: the hazard") {
    const auto id = store.enqueue(spec(), behind.now()).id;
    const auto claimed = store.claim({"slow-clock", 30s, behind.now(), {}});
    REQUIRE(claimed);
    // A reaper a minute ahead sees the lease of a worker a minute behind as long gone.
    const auto reaped = errand::reap(store, errand::retry_policy{}, ahead.now());
    REQUIRE(reaped.size() == 1);
    CHECK(reaped[0].id == id);
  }

  SECTION("the server's clock: the live job keeps running and its success is recorded") {
    const errand::postgres_server_clock slow_worker_time(store, behind);
    const errand::postgres_server_clock fast_reaper_time(store, ahead);
    const auto id = store.enqueue(spec("hold"), slow_worker_time.now()).id;

    auto release = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    errand::runner worker(store, options("slow-clock"), slow_worker_time);
    worker.handle("hold", [released](const std::string&, errand::job_context&) { released.wait(); });
    REQUIRE(worker.poll() == 1);

    errand::runner reaper(store, options("fast-clock"), fast_reaper_time);
    reaper.supervise();  // its first pass reaps every expired lease
    CHECK(reaper.stats().reaped == 0);
    CHECK(store.get(id)->state == job_state::running);

    release->set_value();
    worker.wait_idle();
    CHECK(store.get(id)->state == job_state::succeeded);
    CHECK(worker.stats().rejected_reports == 0);
  }
}

TEST_CASE("a worker a minute ahead on the server clock does not run a job before its run_at", "[postgres][clock]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  const auto server = store.server_time();
  auto later = spec();
  later.run_at = server + 30s;
  const auto id = store.enqueue(later, server).id;

  SECTION("its own clock: the hazard") {
    const auto claimed = store.claim({"fast-clock", 30s, ahead.now(), {}});
    REQUIRE(claimed);
    CHECK(claimed->id == id);
  }

  SECTION("the server's clock: not yet") {
    const errand::postgres_server_clock corrected(store, ahead);
    errand::runner worker(store, options("fast-clock"), corrected);
    worker.handle("work", [](const std::string&, errand::job_context&) {});
    CHECK(worker.poll() == 0);
    CHECK(store.get(id)->state == job_state::pending);
  }
}
