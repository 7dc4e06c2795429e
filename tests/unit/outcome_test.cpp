// outcome.hpp: every attempt's error read back out of the history (contract 3
// of docs/concepts.md), and the latest outcome an orchestrator reacts to (the
// agent sessions example).

#include "errand_catch.hpp"
#include <errand/memory.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::retry_policy no_delay = errand::retry_policy::immediate();

struct fixture {
  errand::manual_clock clock;
  errand::memory_store store;
  std::int64_t id = 0;

  explicit fixture(std::int32_t max_attempts = 5) {
    errand::job_spec spec;
    spec.kind = "review_pull_request";
    spec.max_attempts = max_attempts;
    id = store.enqueue(spec, clock.now()).id;
  }

  std::int32_t claim(const std::string& worker) {
    clock.advance(1s);
    const auto row = store.claim({worker, 30s, clock.now(), {}});
    REQUIRE(row);
    return row->attempt;
  }

  template <class Event>
  void report(const Event& e) {
    clock.advance(1s);
    const auto result = errand::report(store, id, e, no_delay, clock.now());
    INFO(result.reason);
    REQUIRE(result.applied());
  }

  std::vector<errand::history_record> history() const { return store.history(id); }
};

}  // namespace

TEST_CASE("contract 3: errors_of returns every failed attempt's error after a later success", "[contract][outcome]") {
  fixture f;
  const auto first = f.claim("w1");
  f.report(errand::fail{first, "w1", {"OpenCode returned empty body (status 200)", "reported", true, "client.py:88"}});
  const auto failed_at = f.clock.now();
  const auto second = f.claim("w2");
  f.clock.advance(1min);
  f.report(errand::lease_expired{second, "lease expired: worker w2, last heartbeat T"});
  const auto third = f.claim("w3");
  f.report(errand::succeed{third, "w3"});
  REQUIRE(f.store.get(f.id)->state == job_state::succeeded);
  REQUIRE_FALSE(f.store.get(f.id)->last_error);

  const auto errors = errand::errors_of(f.history());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "OpenCode returned empty body (status 200)");
  CHECK(errors[0].kind == "reported");
  CHECK(errors[0].attempt == 1);
  CHECK(errors[0].worker == "w1");
  CHECK(errors[0].trace == "client.py:88");
  CHECK(errors[0].at == failed_at);
  CHECK(errors[1].message == "lease expired: worker w2, last heartbeat T");
  CHECK(errors[1].kind == "lease_expired");
  CHECK(errors[1].attempt == 2);
  CHECK(errors[1].worker == "w2");
}

TEST_CASE("contract 3: the errors stay queryable after an operator requeues the job", "[contract][outcome]") {
  fixture f(1);
  const auto attempt = f.claim("w1");
  f.report(errand::fail{attempt, "w1", {"invalid YAML at line 3", "reported", false}});
  f.report(errand::requeue{"YAML fixed"});
  REQUIRE_FALSE(f.store.get(f.id)->last_error);

  const auto errors = errand::errors_of(f.history());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "invalid YAML at line 3");
}

TEST_CASE("a cancel is an error in the history, with the reason it kept", "[outcome]") {
  fixture f;
  f.report(errand::fail{f.claim("w1"), "w1", {"rate limited"}});
  f.report(errand::cancel{});
  const auto errors = errand::errors_of(f.history());
  REQUIRE(errors.size() == 2);
  CHECK(errors[1].message == "rate limited");
  CHECK(errors[1].kind == "cancelled");
  CHECK_FALSE(errors[1].worker);
}

TEST_CASE("error_of finds no error in claims, successes and requeues", "[outcome]") {
  fixture f(1);
  f.report(errand::fail{f.claim("w1"), "w1", {"x", "reported", false}});
  f.report(errand::requeue{});
  f.report(errand::succeed{f.claim("w1"), "w1"});
  const auto history = f.history();
  REQUIRE(history.size() == 5);
  CHECK_FALSE(errand::error_of(history[0]));  // claim
  CHECK(errand::error_of(history[1]));        // fail
  CHECK_FALSE(errand::error_of(history[2]));  // requeue
  CHECK_FALSE(errand::error_of(history[3]));  // claim
  CHECK_FALSE(errand::error_of(history[4]));  // succeed
}

TEST_CASE("latest_outcome_of: nothing until an attempt ends", "[outcome]") {
  fixture f;
  CHECK_FALSE(errand::latest_outcome_of(f.history()));
  f.claim("w1");
  CHECK_FALSE(errand::latest_outcome_of(f.history()));
}

TEST_CASE("latest_outcome_of: the last failure, with its text and kind (agent sessions)", "[outcome]") {
  fixture f;
  f.report(errand::fail{f.claim("w1"), "w1", {"claude exec timed out", "timeout"}});
  const auto latest = errand::latest_outcome_of(f.history());
  REQUIRE(latest);
  CHECK(latest->job_id == f.id);
  CHECK_FALSE(latest->success);
  CHECK(latest->state == job_state::retry_pending);
  CHECK(latest->attempt == 1);
  CHECK(latest->text == "claude exec timed out");
  CHECK(latest->kind == "timeout");
  CHECK(latest->at == f.clock.now());

  SECTION("a claim after it does not hide it") {
    f.claim("w2");
    CHECK(errand::latest_outcome_of(f.history())->text == "claude exec timed out");
  }
  SECTION("the store answers the same") {
    const auto stored = f.store.latest_outcome(f.id);
    REQUIRE(stored);
    CHECK(stored->text == latest->text);
    CHECK(stored->kind == latest->kind);
  }
}

TEST_CASE("latest_outcome_of: a success with a detail is told apart from a clean one (review tasks)", "[outcome]") {
  fixture quiet;
  quiet.report(errand::succeed{quiet.claim("w1"), "w1", "review did not post: no comments"});
  fixture clean;
  clean.report(errand::succeed{clean.claim("w1"), "w1"});

  const auto q = errand::latest_outcome_of(quiet.history());
  const auto c = errand::latest_outcome_of(clean.history());
  REQUIRE(q);
  REQUIRE(c);
  CHECK(q->success);
  CHECK(c->success);
  CHECK(q->text == "review did not post: no comments");
  CHECK_FALSE(c->text);
  CHECK_FALSE(q->kind);
  CHECK(q->state == job_state::succeeded);
}

TEST_CASE("latest_outcome_of: a success after failures is the latest outcome", "[outcome]") {
  fixture f;
  f.report(errand::fail{f.claim("w1"), "w1", {"boom"}});
  f.report(errand::succeed{f.claim("w1"), "w1"});
  const auto latest = errand::latest_outcome_of(f.history());
  REQUIRE(latest);
  CHECK(latest->success);
  CHECK(latest->attempt == 2);
}

TEST_CASE("contract 7: a history record with corrupt JSON is a clear error, not undefined behaviour",
          "[contract][outcome]") {
  errand::history_record broken;
  broken.job_id = 7;
  broken.seq = 2;
  broken.from = job_state::running;
  broken.to = job_state::failed;
  broken.event = "fail";
  SECTION("truncated JSON") {
    broken.payload = R"({"attempt":1,"worker":"w1","error":{"message":"boo)";
    CHECK_THROWS_AS(errand::error_of(broken), errand::codec_error);
  }
  SECTION("a field of the wrong type") {
    broken.payload =
        R"({"attempt":"one","worker":"w1","error":{"message":"x","kind":"reported","retryable":true,"trace":null}})";
    try {
      errand::error_of(broken);
      FAIL("a mistyped field was read");
    } catch (const errand::codec_error& e) {
      CHECK(std::string(e.what()).find("attempt") != std::string::npos);
    }
  }
  SECTION("errors_of reports it too") {
    broken.payload = "not json";
    const std::vector<errand::history_record> history{broken};
    CHECK_THROWS_AS(errand::errors_of(history), errand::codec_error);
  }
}
