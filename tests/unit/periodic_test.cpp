// Periodic jobs (periodic.hpp) and the runner that enqueues them, on the
// memory store and a manual clock: ticks, a process that was down for
// several ticks, backfill, a stalled pass, a store that fails, bad input.

#include "errand_catch.hpp"
#include <errand/memory.hpp>
#include <errand/periodic.hpp>
#include <errand/runner.hpp>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();  // 2026-01-01T00:00:00Z, a tick of every schedule here

std::vector<errand::time_point> run_ats(const errand::memory_store& store, const std::string& kind) {
  std::vector<errand::time_point> out;
  for (const auto& row : store.query({.kind = kind, .limit = 10000})) out.push_back(row.run_at);
  return out;
}

std::vector<errand::time_point> ticks_of(const errand::periodic_pass& pass) {
  std::vector<errand::time_point> out;
  for (const auto& t : pass.ticks) out.push_back(t.tick);
  return out;
}

errand::periodic_job hourly_cleanup() {
  return {
      .name = "cleanup", .when = errand::schedule::cron("@hourly"), .job = {.queue = "maintenance", .kind = "cleanup"}};
}

// A memory store whose enqueues fail while `down` is set.
struct flaky_store : errand::memory_store {
  bool down = false;
  std::vector<errand::enqueued> enqueue_batch(std::span<const errand::job_spec> specs, errand::time_point now) {
    if (down) throw errand::store_error("errand: the database is unreachable");
    return errand::memory_store::enqueue_batch(specs, now);
  }
};
static_assert(errand::store<flaky_store>);

}  // namespace

TEST_CASE("periodic: one job per tick, due at its tick, keyed by name and tick", "[periodic]") {
  errand::memory_store store;
  errand::periodic_scheduler periodic;
  periodic.add({.name = "quarter", .when = errand::schedule::every(15min), .job = {.kind = "sync", .priority = 3}});
  CHECK_FALSE(periodic.next_due());

  auto pass = periodic.enqueue_due(store, t0);
  REQUIRE(pass.ticks.size() == 1);
  CHECK(pass.ticks[0].name == "quarter");
  CHECK(pass.ticks[0].tick == t0);
  CHECK(pass.ticks[0].result.created);
  CHECK(periodic.next_due() == t0 + 15min);
  CHECK(periodic.enqueue_due(store, t0 + 5min).ticks.empty());
  CHECK(periodic.enqueue_due(store, t0 + 14min + 59s).ticks.empty());
  pass = periodic.enqueue_due(store, t0 + 15min + 2s);  // a pass a little late
  CHECK(ticks_of(pass) == std::vector{t0 + 15min});
  CHECK(periodic.enqueue_due(store, t0 + 16min).ticks.empty());

  const auto row = store.get(pass.ticks[0].result.id);
  CHECK(row->kind == "sync");
  CHECK(row->priority == 3);
  CHECK(row->run_at == t0 + 15min);
  CHECK(row->created_at == t0 + 15min + 2s);
  CHECK(row->unique_key == "errand:periodic:quarter:2026-01-01T00:15:00.000000Z");
  CHECK(row->unique_key == errand::periodic_scheduler::unique_key_for("quarter", t0 + 15min));
  CHECK(run_ats(store, "sync") == std::vector{t0, t0 + 15min});
}

TEST_CASE("periodic: a process that was down for several ticks enqueues none of them, by default", "[periodic]") {
  errand::memory_store store;
  {
    errand::periodic_scheduler before_the_outage;
    before_the_outage.add(hourly_cleanup());
    before_the_outage.enqueue_due(store, t0);
  }
  // Down from 00:00 to 03:05; the process that starts then sees the 01:00, 02:00 and 03:00 ticks missed.
  errand::periodic_scheduler restarted;
  restarted.add(hourly_cleanup());
  const auto pass = restarted.enqueue_due(store, t0 + 3h + 5min);
  CHECK(pass.ticks.empty());
  CHECK(pass.skipped == 0);  // it was not running then: nothing of its own was skipped
  CHECK(restarted.next_due() == t0 + 4h);
  CHECK(ticks_of(restarted.enqueue_due(store, t0 + 4h)) == std::vector{t0 + 4h});
  CHECK(run_ats(store, "cleanup") == std::vector{t0, t0 + 4h});
}

TEST_CASE("periodic: a process started just after a tick enqueues that tick, within max_lateness", "[periodic]") {
  errand::memory_store store;
  errand::periodic_scheduler periodic;
  auto cleanup = hourly_cleanup();
  cleanup.max_lateness = 10min;
  periodic.add(cleanup);
  const auto pass = periodic.enqueue_due(store, t0 + 3h + 5min);  // down for three ticks: one job, not three
  CHECK(ticks_of(pass) == std::vector{t0 + 3h});
  CHECK(run_ats(store, "cleanup") == std::vector{t0 + 3h});
}

TEST_CASE("periodic: backfill enqueues every tick missed within it, once across processes", "[periodic]") {
  errand::memory_store store;
  auto cleanup = hourly_cleanup();
  cleanup.backfill = 2h;
  errand::periodic_scheduler first, second;
  first.add(cleanup);
  second.add(cleanup);
  const auto pass = first.enqueue_due(store, t0 + 3h + 5min);
  CHECK(ticks_of(pass) == std::vector{t0 + 2h, t0 + 3h});  // 02:00 and 03:00; 01:00 is older than 2 h
  for (const auto& t : pass.ticks) CHECK(t.result.created);
  const auto again = second.enqueue_due(store, t0 + 3h + 6min);
  CHECK(ticks_of(again) == std::vector{t0 + 2h, t0 + 3h});
  for (const auto& t : again.ticks) CHECK_FALSE(t.result.created);
  CHECK(run_ats(store, "cleanup") == std::vector{t0 + 2h, t0 + 3h});
}

TEST_CASE("periodic: a stalled pass enqueues the latest tick only and counts the others", "[periodic]") {
  errand::memory_store store;
  errand::periodic_scheduler periodic;
  periodic.add({.name = "minutely", .when = errand::schedule::every(1min), .job = {.kind = "tick"}});
  periodic.enqueue_due(store, t0);
  const auto pass = periodic.enqueue_due(store, t0 + 10min + 30s);  // the process hung for ten minutes
  CHECK(ticks_of(pass) == std::vector{t0 + 10min});
  CHECK(pass.skipped == 9);
  CHECK(run_ats(store, "tick") == std::vector{t0, t0 + 10min});

  // Hung for three hours past every tick of an hourly schedule: nothing, all three skipped.
  errand::periodic_scheduler hourly;
  hourly.add(hourly_cleanup());
  hourly.enqueue_due(store, t0);
  const auto late = hourly.enqueue_due(store, t0 + 3h + 5min);
  CHECK(late.ticks.empty());
  CHECK(late.skipped == 3);
}

TEST_CASE("periodic: when the store fails, the next pass enqueues the same ticks", "[periodic]") {
  flaky_store store;
  errand::periodic_scheduler periodic;
  periodic.add(hourly_cleanup());
  store.down = true;
  CHECK_THROWS_WITH(periodic.enqueue_due(store, t0), "errand: the database is unreachable");
  CHECK_FALSE(periodic.next_due());
  store.down = false;
  CHECK(ticks_of(periodic.enqueue_due(store, t0 + 30s)) == std::vector{t0});
  CHECK(store.query({}).size() == 1);
}

TEST_CASE("periodic: cron schedules at a fixed offset, several schedules in one pass", "[periodic]") {
  errand::memory_store store;
  errand::periodic_scheduler periodic;
  periodic.add({.name = "berlin-morning", .when = errand::schedule::cron("0 3 * * *", 1h), .job = {.kind = "report"}});
  periodic.add({.name = "every-2h", .when = errand::schedule::every(2h), .job = {.kind = "sync"}});
  periodic.enqueue_due(store, t0 + 1min);
  CHECK(periodic.next_due() == t0 + 2h);
  const auto pass = periodic.enqueue_due(store, t0 + 2h);  // 03:00 at UTC+01:00 is 02:00 UTC
  REQUIRE(pass.ticks.size() == 2);
  CHECK(pass.ticks[0].name == "berlin-morning");
  CHECK(pass.ticks[1].name == "every-2h");
  CHECK(run_ats(store, "report") == std::vector{t0 + 2h});
  CHECK(errand::schedule::cron("0 3 * * *", 1h).describe() == "cron '0 3 * * *' (UTC+01:00)");
  CHECK(errand::schedule::cron("@daily").describe() == "cron '@daily' (UTC)");
  CHECK(errand::schedule::cron("0 3 * * *", -330min).describe() == "cron '0 3 * * *' (UTC-05:30)");
  CHECK(errand::schedule::every(2h).describe() == "every 7200s");
  CHECK(errand::schedule::every(1500ms).describe() == "every 1500000us");
  CHECK(errand::schedule::every(15min).next_after(t0 + 15min) == t0 + 30min);
  CHECK(errand::schedule::every(15min).next_after(t0 + 14min + 59s) == t0 + 15min);
}

TEST_CASE("periodic: a periodic job that could not run as asked is refused, naming it", "[periodic][bad-input]") {
  errand::periodic_scheduler periodic;
  const auto refused = [&](errand::periodic_job job, const std::string& message) {
    INFO(message);
    CHECK_THROWS_WITH(periodic.add(std::move(job)), contains_text(message));
  };
  refused({.name = "", .when = errand::schedule::every(1h), .job = {.kind = "x"}}, "a periodic job needs a name");
  refused({.name = "nameless-kind", .when = errand::schedule::every(1h), .job = {}}, "a job spec needs a kind");
  refused({.name = "keyed", .when = errand::schedule::every(1h), .job = {.kind = "x", .unique_key = "k"}},
          "periodic job 'keyed' sets a unique key; the scheduler keys each tick's job itself");
  refused({.name = "timed", .when = errand::schedule::every(1h), .job = {.kind = "x", .run_at = t0}},
          "periodic job 'timed' sets run_at; each tick's job runs at its tick");
  refused({.name = "back", .when = errand::schedule::every(1h), .job = {.kind = "x"}, .backfill = -1s},
          "periodic job 'back' has a negative backfill or max_lateness");
  refused({.name = std::string("nul\0name", 8), .when = errand::schedule::every(1h), .job = {.kind = "x"}},
          "field 'unique_key' holds a NUL byte at offset 19");
  periodic.add({.name = "twice", .when = errand::schedule::every(1h), .job = {.kind = "x"}});
  refused({.name = "twice", .when = errand::schedule::every(2h), .job = {.kind = "y"}},
          "periodic job 'twice' is added already");
  CHECK_THROWS_WITH(errand::schedule::every(0s), "errand: a schedule's interval must be positive");
  CHECK_THROWS_WITH(errand::schedule::cron("0 25 * * *"), contains_text("field hour '25'"));
  CHECK_THROWS_WITH(errand::schedule::cron("@daily", 24h),
                    "errand: a schedule's UTC offset must be less than 24 hours either way");
}

TEST_CASE("periodic: runners enqueue what their schedules say, each tick once", "[periodic][runner]") {
  errand::memory_store store;
  errand::manual_clock clock;
  std::vector<errand::time_point> cleaned;
  const errand::runner_options options{.threads = 1, .log = [](std::string_view) {}};
  errand::runner<errand::memory_store> a(store, options, clock), b(store, options, clock);
  for (auto* r : {&a, &b}) {
    r->schedule(hourly_cleanup());
    r->handle("cleanup", [&](const std::string&, errand::job_context& context) {
      cleaned.push_back(context.row().run_at);
      return errand::job_result{};
    });
  }
  for (int pass = 0; pass < 4 * 6; ++pass) {  // every ten minutes for four hours
    for (auto* r : {&a, &b}) {
      r->supervise();
      r->poll();
      r->wait_idle();
    }
    clock.advance(10min);
  }
  CHECK(cleaned == std::vector{t0, t0 + 1h, t0 + 2h, t0 + 3h});
  CHECK(a.stats().periodic_enqueued + b.stats().periodic_enqueued == 4);
  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, 4}});
  CHECK_THROWS_WITH(a.schedule(hourly_cleanup()),
                    "errand: schedule periodic jobs before the runner's first poll() or start()");
}

TEST_CASE("periodic: a runner logs the ticks it skipped", "[periodic][runner]") {
  errand::memory_store store;
  errand::manual_clock clock;
  std::vector<std::string> lines;
  errand::runner<errand::memory_store> r(
      store, {.threads = 1, .log = [&](std::string_view line) { lines.emplace_back(line); }}, clock);
  r.schedule({.name = "minutely", .when = errand::schedule::every(1min), .job = {.kind = "tick"}});
  r.supervise();
  clock.advance(5min);
  r.supervise();
  CHECK(r.stats().periodic_enqueued == 2);
  CHECK(r.stats().periodic_skipped == 4);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "4 tick(s) of periodic jobs not enqueued: older than their backfill and max_lateness allow");
}
