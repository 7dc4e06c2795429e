#pragma once
// The five bug reports the examples model (docs/examples.md tells each story),
// each replayed against a backend: the behaviour each one asked for, asserted.
// Included after conformance_suite.hpp, so every backend that passes the suite
// passes these too.

#include "conformance_suite.hpp"

#include <errand/runner.hpp>

#include <condition_variable>
#include <latch>

namespace scenarios {

using namespace std::chrono_literals;
using errand::job_state;

inline errand::runner_options quiet_options(std::size_t threads = 1) {
  errand::runner_options options;
  options.threads = threads;
  options.worker_id = "scenario-worker";
  options.deadline = 600s;
  options.retry = errand::retry_policy{10s, 2.0, 5min, 0.0, 1};
  options.log = [](std::string_view) {};
  return options;
}

inline errand::job_spec work(std::string kind, std::string payload = "{}", std::int32_t max_attempts = 3) {
  errand::job_spec s;
  s.kind = std::move(kind);
  s.payload = std::move(payload);
  s.max_attempts = max_attempts;
  return s;
}

struct work_order {
  std::string yaml;
  bool target_exists = true;
};
BOOST_DESCRIBE_STRUCT(work_order, (), (yaml, target_exists))

// What a REST API returns for a job: the row as JSON, parsed back to check fields.
struct api_view {
  std::string state;
  std::optional<std::string> last_error;
  std::optional<std::string> last_error_at;
};
BOOST_DESCRIBE_STRUCT(api_view, (), (state, last_error, last_error_at))

inline api_view as_api(const errand::job& row) { return errand::from_json<api_view>(errand::to_json(row)); }

}  // namespace scenarios

TEMPLATE_LIST_TEST_CASE("work orders: invalid input fails at once with its reason; a transient failure stays visible",
                        "[scenario][contract]", conformance_fixtures) {
  using namespace scenarios;
  TestType fixture;
  auto& store = fixture.store();
  errand::manual_clock clock;
  errand::runner<typename TestType::store_type> runner(store, quiet_options(2), clock);
  std::latch retry_started{1}, release_retry{1};
  runner.template handle<work_order>("apply", [&](const work_order& order, errand::job_context& context) {
    if (order.yaml.find(':') == std::string::npos)
      throw errand::job_failure({"invalid YAML: expected a mapping, got '" + order.yaml + "'", "invalid_input", false});
    if (context.attempt() == 1) throw std::runtime_error("deployments.apps \"web\" not found");
    retry_started.count_down();
    release_retry.wait();
  });

  const auto bad = store.enqueue(work("apply", errand::to_json(work_order{"[not yaml", true})), clock.now()).id;
  const auto transient = store.enqueue(work("apply", errand::to_json(work_order{"kind: Deployment", false})), clock.now()).id;
  runner.poll();
  runner.wait_idle();

  const auto failed = store.get(bad);
  CHECK(failed->state == job_state::failed);
  CHECK(failed->attempt == 1);
  CHECK(failed->last_error_kind == "invalid_input");
  CHECK(as_api(*failed).last_error == "invalid YAML: expected a mapping, got '[not yaml'");

  const auto waiting = store.get(transient);
  REQUIRE(waiting->state == job_state::retry_pending);
  const auto api = as_api(*waiting);
  CHECK(api.state == "retry_pending");
  CHECK(api.last_error == "std::runtime_error: deployments.apps \"web\" not found");
  CHECK(api.last_error_at == errand::to_iso8601(clock.now()));

  // Still visible while it waits; cleared when the next attempt starts.
  clock.advance(5s);
  CHECK(runner.poll() == 0);
  CHECK(store.get(transient)->last_error);
  clock.set(waiting->run_at);
  CHECK(runner.poll() == 1);
  retry_started.wait();
  const auto running = store.get(transient);
  CHECK(running->state == job_state::running);
  CHECK_FALSE(as_api(*running).last_error);
  CHECK_FALSE(as_api(*running).last_error_at);
  release_retry.count_down();
  runner.wait_idle();
  CHECK(store.get(transient)->state == job_state::succeeded);
  CHECK(errand::errors_of(store.history(transient)).size() == 1);
}

TEMPLATE_LIST_TEST_CASE("pipeline steps: a step whose client misbehaves is never left running", "[scenario][contract]",
                        conformance_fixtures) {
  using namespace scenarios;
  TestType fixture;
  auto& store = fixture.store();
  errand::manual_clock clock;
  errand::runner<typename TestType::store_type> runner(store, quiet_options(3), clock);

  struct step_reply {
    std::string text;
  };
  runner.handle("empty_body", [](const std::string&, errand::job_context&) {
    const std::string body;  // the client got "200 OK" with nothing in it
    errand::from_json<errand::failure>(body);
  });
  runner.handle("non_std_throw", [](const std::string&, errand::job_context&) { throw step_reply{"?"}; });
  std::mutex mutex;
  std::condition_variable_any stopped;
  runner.handle("hangs", [&](const std::string&, errand::job_context& context) -> std::optional<std::string> {
    std::unique_lock lock(mutex);
    stopped.wait(lock, context.stop_token(), [] { return false; });
    return "finished after all";  // too late: the timeout is already recorded
  });

  const auto empty = store.enqueue(work("empty_body", "{}", 1), clock.now()).id;
  const auto odd = store.enqueue(work("non_std_throw", "{}", 1), clock.now()).id;
  CHECK(runner.poll() == 2);
  runner.wait_idle();
  const auto hung = store.enqueue(work("hangs", "{}", 1), clock.now()).id;
  CHECK(runner.poll() == 1);
  clock.advance(601s);
  runner.supervise();
  runner.wait_idle();

  for (const auto id : {empty, odd, hung}) {
    const auto row = store.get(id);
    INFO("job " << id);
    CHECK(row->state == job_state::failed);
    conformance::require_invariants(*row);
  }
  CHECK(store.get(empty)->last_error_kind == "exception");
  CHECK_THAT(*store.get(empty)->last_error, contains_text("errand: JSON document"));
  CHECK_THAT(*store.get(odd)->last_error, contains_text("step_reply"));
  CHECK(store.get(hung)->last_error == "timed out after 600s");
  CHECK(store.get(hung)->last_error_kind == "timeout");
  CHECK(runner.stats().rejected_reports == 1);
  CHECK(store.count_by_state()[job_state::running] == 0);
}

TEMPLATE_LIST_TEST_CASE("review tasks: a detail-less report keeps the reason; no-op successes are told apart",
                        "[scenario][contract]", conformance_fixtures) {
  using namespace scenarios;
  using conformance::claim_by;
  using conformance::t0;
  TestType fixture;
  auto& store = fixture.store();
  const auto policy = conformance::policy;

  // The runner said why; the reaper's later terminal report says nothing.
  const auto review = store.enqueue(work("review"), t0).id;
  auto claimed = store.claim(claim_by("runner-1", t0));
  errand::report(store, review, conformance::failure(*claimed, "review did not post: GitHub 422"), policy, t0);
  errand::report(store, review, errand::cancel{}, policy, t0 + 1s);
  auto row = store.get(review);
  CHECK(row->state == job_state::failed);
  CHECK(row->last_error == "review did not post: GitHub 422");

  // The runner's own retried, message-less report of the same attempt changes nothing.
  auto repeat = conformance::failure(*claimed, "");
  const auto again = errand::report(store, review, repeat, policy, t0 + 2s);
  CHECK(again.outcome != errand::verdict::applied);
  CHECK(store.get(review)->last_error == "review did not post: GitHub 422");

  // A failure that arrives without any message says so, in words.
  const auto silent = store.enqueue(work("review"), t0).id;
  claimed = store.claim(claim_by("runner-1", t0));
  errand::report(store, silent, conformance::failure(*claimed, "", false), policy, t0);
  CHECK(store.get(silent)->last_error == "no reason reported");

  // Retried into success: no stale error.
  const auto flaky = store.enqueue(work("review"), t0).id;
  claimed = store.claim(claim_by("runner-1", t0));
  errand::report(store, flaky, conformance::failure(*claimed, "timeout talking to the model"), policy, t0);
  claimed = store.claim(claim_by("runner-2", store.get(flaky)->run_at));
  REQUIRE(claimed);
  errand::report(store, flaky, conformance::success(*claimed), policy, claimed->run_at);
  row = store.get(flaky);
  CHECK(row->state == job_state::succeeded);
  CHECK_FALSE(row->last_error);
  CHECK_FALSE(row->detail);

  // "Succeeded, but posted nothing" is not a clean success.
  const auto noop = store.enqueue(work("review"), t0).id;
  claimed = store.claim(claim_by("runner-1", t0));
  errand::report(store, noop, conformance::success(*claimed, "review posted nothing: diff was empty"), policy, t0);
  CHECK(store.get(noop)->detail == "review posted nothing: diff was empty");
  CHECK(store.query({.state = job_state::succeeded}).size() == 2);
  std::size_t silent_noops = 0;
  for (const auto& done : store.query({.state = job_state::succeeded})) silent_noops += done.detail.has_value();
  CHECK(silent_noops == 1);
}

TEMPLATE_LIST_TEST_CASE(
    "agent sessions: the error survives a page refresh, reaches subscribers, and is the latest outcome",
    "[scenario][contract]", conformance_fixtures) {
  using namespace scenarios;
  using conformance::t0;
  TestType fixture;
  auto& store = fixture.store();
  const auto session = store.enqueue(work("agent_turn"), t0).id;
  const auto claimed = store.claim(conformance::claim_by("agent", t0));

  std::mutex mutex;
  std::vector<std::string> pushed;
  auto subscription = store.subscribe([&](const errand::notification& n) {
    if (n.row.last_error) {
      std::scoped_lock lock(mutex);
      pushed.push_back(*n.row.last_error);
    }
  });
  errand::failure timed_out{"claude exec timed out", std::string(errand::error_kind::timeout), true, {}};
  REQUIRE(errand::report(store, session, errand::fail{claimed->attempt, "agent", timed_out}, conformance::policy, t0)
              .applied());
  for (int spin = 0; spin < 2000; ++spin) {
    {
      std::scoped_lock lock(mutex);
      if (!pushed.empty()) break;
    }
    std::this_thread::sleep_for(1ms);  // cross-process delivery (LISTEN/NOTIFY) is asynchronous
  }
  subscription.reset();
  {
    std::scoped_lock lock(mutex);
    CHECK(pushed == std::vector<std::string>{"claude exec timed out"});
  }

  fixture.reopen();
  auto& refreshed = fixture.store();
  CHECK(refreshed.get(session)->last_error == "claude exec timed out");
  const auto latest = refreshed.latest_outcome(session);
  REQUIRE(latest);
  CHECK_FALSE(latest->success);
  CHECK(latest->kind == "timeout");
  CHECK("Latest output:\nError: " + *latest->text == "Latest output:\nError: claude exec timed out");
}

TEMPLATE_LIST_TEST_CASE("chat turns: a panic in processing is stored; stale running jobs are recovered",
                        "[scenario][contract]", conformance_fixtures) {
  using namespace scenarios;
  TestType fixture;
  auto& store = fixture.store();
  errand::manual_clock clock;

  // A worker claimed a chat and died: nothing will ever report for it.
  const auto orphan = store.enqueue(work("chat"), clock.now()).id;
  REQUIRE(store.claim({"crashed-host:42:0", 30s, clock.now(), {}}));
  clock.advance(5min);

  struct stream_error {};
  errand::runner<typename TestType::store_type> runner(store, quiet_options(), clock);
  runner.handle("chat", [](const std::string&, errand::job_context&) { throw stream_error{}; });
  runner.supervise();  // the start-up reaper pass is the crash recovery

  auto row = store.get(orphan);
  REQUIRE(row->state == job_state::retry_pending);
  CHECK(row->last_error_kind == "lease_expired");
  CHECK(row->last_error->find("worker crashed-host:42:0") != std::string::npos);

  clock.set(row->run_at);
  CHECK(runner.poll() == 1);
  runner.wait_idle();
  row = store.get(orphan);
  CHECK(row->state == job_state::retry_pending);
  CHECK(row->last_error_kind == "exception");
  CHECK(row->last_error->find("stream_error") != std::string::npos);
  CHECK(errand::errors_of(store.history(orphan)).size() == 2);
}
