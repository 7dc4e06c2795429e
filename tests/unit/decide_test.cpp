// decide.hpp: the one place the lifecycle's semantics live. Every promise of
// docs/concepts.md that the pure core implements has a test named after its
// number ("contract 5: ...").

#include "errand_catch.hpp"
#include <errand/codec.hpp>
#include <errand/decide.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace {

using namespace std::chrono_literals;
using errand::job_state;
using errand::rejection;
using errand::verdict;

const errand::time_point t0 = *errand::from_iso8601("2026-01-01T00:00:00Z");
const errand::retry_policy no_delay = errand::retry_policy::immediate();

errand::job new_job(std::int32_t max_attempts = 3) {
  errand::job_spec spec;
  spec.kind = "send_invoice";
  spec.max_attempts = max_attempts;
  return errand::make_job(spec, 7, t0);
}

// Applies `e` to `row` as a store would, and returns the decision.
template <class Event>
errand::decision step(errand::job& row, const Event& e, errand::time_point now = t0,
                      const errand::retry_policy& policy = no_delay) {
  auto d = errand::decide(row, e, policy, now);
  INFO(d.reason);
  REQUIRE(d.applied());
  row = d.next;
  return d;
}

errand::fail failure_of(const errand::job& row, std::string message, bool retryable = true) {
  return {
      row.attempt, row.worker.value_or(""), {std::move(message), std::string(errand::error_kind::reported), retryable}};
}

errand::succeed success_of(const errand::job& row, std::optional<std::string> detail = std::nullopt) {
  return {row.attempt, row.worker.value_or(""), std::move(detail)};
}

// A job running its first attempt on worker w1.
errand::job running_job(std::int32_t max_attempts = 3) {
  auto row = new_job(max_attempts);
  step(row, errand::claim{"w1", 30s});
  return row;
}

// A job whose first attempt failed with "disk full".
errand::job retry_pending_job() {
  auto row = running_job();
  step(row, failure_of(row, "disk full"), t0 + 1s);
  return row;
}

// "Nothing changed": the decision writes nothing and hands back the row as it was.
void require_unchanged(const errand::decision& d, const errand::job& current) {
  CHECK_FALSE(d.applied());
  CHECK_FALSE(d.record.has_value());
  CHECK(d.expected_version == current.version);
  CHECK(errand::to_json(d.next) == errand::to_json(current));
}

}  // namespace

// ---- contract 1: no failure without a reason ---------------------------------

TEST_CASE("contract 1: a retryable failure records its reason, kind and time in retry_pending", "[contract][decide]") {
  auto row = running_job();
  step(row, failure_of(row, "disk full"), t0 + 5s);
  CHECK(row.state == job_state::retry_pending);
  CHECK(row.last_error == "disk full");
  CHECK(row.last_error_kind == "reported");
  CHECK(row.last_error_at == t0 + 5s);
}

TEST_CASE("contract 1: a failure without a message and nothing recorded says 'no reason reported'",
          "[contract][decide]") {
  SECTION("fail") {
    auto row = running_job();
    step(row, failure_of(row, ""), t0 + 1s);
    CHECK(row.state == job_state::retry_pending);
    CHECK(row.last_error == "no reason reported");
    CHECK(row.last_error_at == t0 + 1s);
  }
  SECTION("a last attempt's fail") {
    auto row = running_job(1);
    step(row, failure_of(row, ""), t0 + 1s);
    CHECK(row.state == job_state::failed);
    CHECK(row.last_error == "no reason reported");
  }
  SECTION("lease_expired without a reason") {
    auto row = running_job();
    step(row, errand::lease_expired{row.attempt, ""}, t0 + 30s);
    CHECK(row.last_error == "no reason reported");
    CHECK(row.last_error_kind == "lease_expired");
  }
  SECTION("cancel of a pending job without a reason") {
    auto row = new_job();
    step(row, errand::cancel{}, t0 + 1s);
    CHECK(row.state == job_state::failed);
    CHECK(row.last_error == "no reason reported");
    CHECK(row.last_error_kind == "cancelled");
    CHECK(row.last_error_at == t0 + 1s);
  }
}

TEST_CASE("contract 1: a failure without a message keeps the recorded reason (cancel of a retry_pending job)",
          "[contract][decide]") {
  auto row = retry_pending_job();
  step(row, errand::cancel{}, t0 + 2s);
  CHECK(row.state == job_state::failed);
  CHECK(row.last_error == "disk full");
  CHECK(row.last_error_kind == "cancelled");
  CHECK(row.last_error_at == t0 + 2s);
  SECTION("an empty reason is no reason") {
    auto again = retry_pending_job();
    step(again, errand::cancel{""}, t0 + 2s);
    CHECK(again.last_error == "disk full");
  }
  SECTION("a reason given replaces the one recorded") {
    auto again = retry_pending_job();
    step(again, errand::cancel{"customer deleted"}, t0 + 2s);
    CHECK(again.last_error == "customer deleted");
  }
}

TEST_CASE("contract 1: no decision leaves retry_pending or failed without an error, or with an empty one",
          "[contract][decide]") {
  const auto check = [](const errand::job& row) {
    REQUIRE(row.last_error.has_value());
    CHECK_FALSE(row.last_error->empty());
    CHECK(row.last_error_at.has_value());
    CHECK(row.last_error_kind.has_value());
  };
  auto row = running_job(2);
  step(row, failure_of(row, ""));
  check(row);
  step(row, errand::claim{"w2"});
  step(row, errand::fail{row.attempt, "w2", {"", "", true}});  // no message, no kind: the worst report there is
  CHECK(row.state == job_state::failed);
  check(row);
}

// ---- contract 2: fresh attempt, clean slate ----------------------------------

TEST_CASE("contract 2: claim clears last_error, its kind and time (absent, not empty)", "[contract][decide]") {
  auto row = retry_pending_job();
  REQUIRE(row.last_error.has_value());
  step(row, errand::claim{"w2", 30s}, t0 + 10s);
  CHECK(row.state == job_state::running);
  CHECK(row.attempt == 2);
  CHECK(row.worker == "w2");
  CHECK_FALSE(row.last_error.has_value());
  CHECK_FALSE(row.last_error_kind.has_value());
  CHECK_FALSE(row.last_error_at.has_value());
  CHECK(errand::to_json(row).find(R"("last_error":null)") != std::string::npos);
}

TEST_CASE("contract 2: an operator's requeue clears the error it answers", "[contract][decide]") {
  auto row = running_job(1);
  step(row, failure_of(row, "bad YAML", false));
  REQUIRE(row.state == job_state::failed);
  step(row, errand::requeue{"fixed the YAML"}, t0 + 1h);
  CHECK(row.state == job_state::pending);
  CHECK_FALSE(row.last_error.has_value());
  CHECK_FALSE(row.last_error_kind.has_value());
  CHECK_FALSE(row.last_error_at.has_value());
  CHECK(row.run_at == t0 + 1h);
}

TEST_CASE("contract 2: a job that succeeds after retries shows no stale error", "[contract][decide]") {
  auto row = retry_pending_job();
  step(row, errand::claim{"w2"}, t0 + 1min);
  step(row, errand::lease_expired{row.attempt, "lease expired: worker w2"}, t0 + 2min);
  step(row, errand::claim{"w3"}, t0 + 3min);
  step(row, success_of(row), t0 + 4min);
  CHECK(row.state == job_state::succeeded);
  CHECK(row.attempt == 3);
  CHECK_FALSE(row.last_error.has_value());
  CHECK_FALSE(row.last_error_kind.has_value());
  CHECK_FALSE(row.last_error_at.has_value());
  CHECK_FALSE(row.lease_until.has_value());
}

TEST_CASE("contract 2: a success may carry a detail, told apart from a clean success", "[contract][decide]") {
  auto quiet = running_job();
  step(quiet, success_of(quiet, "succeeded, but posted nothing"));
  auto clean = running_job();
  step(clean, success_of(clean));
  CHECK(quiet.state == job_state::succeeded);
  CHECK(clean.state == job_state::succeeded);
  CHECK(quiet.detail == "succeeded, but posted nothing");
  CHECK_FALSE(clean.detail.has_value());
  CHECK_FALSE(quiet.last_error.has_value());
}

// ---- contract 3: history is never lost ---------------------------------------

TEST_CASE("contract 3: every applied decision carries exactly one history record describing it", "[contract][decide]") {
  auto row = new_job();
  const auto claimed = step(row, errand::claim{"w1", 30s}, t0 + 1s);
  REQUIRE(claimed.record.has_value());
  CHECK(claimed.record->job_id == 7);
  CHECK(claimed.record->from == job_state::pending);
  CHECK(claimed.record->to == job_state::running);
  CHECK(claimed.record->event == "claim");
  CHECK(claimed.record->attempt == 1);
  CHECK(claimed.record->worker == "w1");
  CHECK(claimed.record->at == t0 + 1s);
  CHECK(errand::from_json<errand::claim>(claimed.record->payload).worker == "w1");

  const auto failed =
      step(row, errand::fail{1, "w1", {"timeout talking to S3", "timeout", true, "at put_object"}}, t0 + 2s);
  REQUIRE(failed.record.has_value());
  CHECK(failed.record->from == job_state::running);
  CHECK(failed.record->to == job_state::retry_pending);
  CHECK(failed.record->event == "fail");
  CHECK(failed.record->attempt == 1);
  CHECK(failed.record->worker == "w1");
  const auto payload = errand::from_json<errand::fail>(failed.record->payload);
  CHECK(payload.error.message == "timeout talking to S3");
  CHECK(payload.error.kind == "timeout");
  CHECK(payload.error.trace == "at put_object");

  const auto cancelled = step(row, errand::cancel{}, t0 + 3s);
  REQUIRE(cancelled.record.has_value());
  CHECK(cancelled.record->from == job_state::retry_pending);
  CHECK(cancelled.record->to == job_state::failed);
  CHECK_FALSE(cancelled.record->worker.has_value());  // an operator's event
}

TEST_CASE("contract 3: a failure's history payload records the error as stored, including a kept reason",
          "[contract][decide]") {
  SECTION("fail without a message") {
    auto row = running_job();
    const auto d = step(row, failure_of(row, ""));
    CHECK(errand::from_json<errand::fail>(d.record->payload).error.message == "no reason reported");
  }
  SECTION("cancel without a reason keeps the earlier one") {
    auto row = retry_pending_job();
    const auto d = step(row, errand::cancel{});
    CHECK(errand::from_json<errand::cancel>(d.record->payload).reason == "disk full");
  }
  SECTION("lease_expired records the worker that held the lease") {
    auto row = running_job();
    const auto d = step(row, errand::lease_expired{1, errand::lease_expiry_reason(row)}, t0 + 30s);
    CHECK(d.record->worker == "w1");
    CHECK(errand::from_json<errand::lease_expired>(d.record->payload).reason == row.last_error);
  }
  SECTION("text made storable is recorded as stored") {
    auto row = running_job();
    const auto d = step(row, failure_of(row, std::string("bad\0byte\xFF", 9)));
    CHECK(errand::from_json<errand::fail>(d.record->payload).error.message == row.last_error);
    CHECK(row.last_error == "bad\\0byte\xEF\xBF\xBD");
  }
}

TEST_CASE("contract 3: every write bumps the version by one and is checked against the version read",
          "[contract][decide]") {
  auto row = new_job();
  REQUIRE(row.version == 1);
  const auto claimed = step(row, errand::claim{"w1"});
  CHECK(claimed.expected_version == 1);
  CHECK(claimed.next.version == 2);
  const auto failed = step(row, failure_of(row, "x"));
  CHECK(failed.expected_version == 2);
  CHECK(failed.next.version == 3);
  const auto beat = errand::extend_lease(step(row, errand::claim{"w1"}).next, "w1", 2, 30s, t0);
  CHECK(beat.expected_version == 4);
  CHECK(beat.next.version == 5);
}

// ---- contract 4: nothing stays running forever (the pure part) ---------------

TEST_CASE("contract 4: the reaper's reason names the worker and its last heartbeat", "[contract][decide]") {
  auto row = running_job();
  CHECK(errand::lease_expiry_reason(row) == "lease expired: worker w1, last heartbeat 2026-01-01T00:00:00.000000Z");
  row = errand::extend_lease(row, "w1", 1, 30s, t0 + 20s).next;
  CHECK(errand::lease_expiry_reason(row) == "lease expired: worker w1, last heartbeat 2026-01-01T00:00:20.000000Z");

  errand::job never_held = new_job();
  CHECK(errand::lease_expiry_reason(never_held) == "lease expired: worker <none>, last heartbeat never");
}

TEST_CASE("contract 4: lease_expired is rejected while the lease is still valid", "[contract][decide]") {
  const auto row = running_job();  // lease until t0 + 30s
  const auto early =
      errand::decide(row, errand::lease_expired{1, errand::lease_expiry_reason(row)}, no_delay, t0 + 30s - 1us);
  CHECK(early.why == rejection::lease_held);
  CHECK(early.reason == "job 7 (state 'running', attempt 1) holds its lease until 2026-01-01T00:00:30.000000Z");
  require_unchanged(early, row);

  const auto due = errand::decide(row, errand::lease_expired{1, errand::lease_expiry_reason(row)}, no_delay, t0 + 30s);
  CHECK(due.applied());
}

TEST_CASE("contract 4: an expired lease with attempts left is retried, with the reason recorded",
          "[contract][decide]") {
  auto row = running_job();
  const auto reason = errand::lease_expiry_reason(row);
  step(row, errand::lease_expired{1, reason}, t0 + 31s);
  CHECK(row.state == job_state::retry_pending);
  CHECK(row.last_error == reason);
  CHECK(row.last_error_kind == "lease_expired");
  CHECK(row.last_error_at == t0 + 31s);
  CHECK_FALSE(row.lease_until.has_value());
  CHECK_FALSE(row.heartbeat_at.has_value());
}

TEST_CASE("contract 4: exhausting attempts by lease expiry goes to failed", "[contract][decide]") {
  auto row = new_job(2);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    step(row, errand::claim{std::string("w").append(std::to_string(attempt)), 10s}, row.run_at);
    step(row, errand::lease_expired{row.attempt, errand::lease_expiry_reason(row)}, *row.lease_until);
  }
  CHECK(row.state == job_state::failed);
  CHECK(row.attempt == 2);
  CHECK(row.last_error == "lease expired: worker w2, last heartbeat 2026-01-01T00:00:10.000000Z");
}

// ---- contract 5: stale writers lose ------------------------------------------

TEST_CASE("contract 5: a report for an old attempt is rejected and changes nothing", "[contract][decide]") {
  auto row = retry_pending_job();
  step(row, errand::claim{"w1"}, t0 + 1min);  // the same worker, attempt 2
  const auto old = errand::decide(row, errand::succeed{1, "w1"}, no_delay, t0 + 2min);
  CHECK(old.outcome == verdict::rejected);
  CHECK(old.why == rejection::stale_report);
  CHECK(old.reason ==
        "stale 'succeed' for attempt 1 of worker 'w1': job 7 (state 'running', attempt 2) is no longer held by it");
  require_unchanged(old, row);
}

TEST_CASE("contract 5: a report from a worker that does not hold the job is rejected", "[contract][decide]") {
  const auto row = running_job();
  const auto other = errand::decide(row, errand::fail{1, "w2", {"boom"}}, no_delay, t0 + 1s);
  CHECK(other.why == rejection::stale_report);
  CHECK(other.reason.find("worker 'w2'") != std::string::npos);
  require_unchanged(other, row);
}

TEST_CASE("contract 5: a report from a worker whose lease was reaped is rejected", "[contract][decide]") {
  auto row = running_job();
  step(row, errand::lease_expired{1, errand::lease_expiry_reason(row)}, t0 + 31s);
  SECTION("success") {
    const auto late = errand::decide(row, errand::succeed{1, "w1"}, no_delay, t0 + 40s);
    CHECK(late.why == rejection::stale_report);
    require_unchanged(late, row);
  }
  SECTION("failure") {
    const auto late = errand::decide(row, errand::fail{1, "w1", {"handler threw"}}, no_delay, t0 + 40s);
    CHECK(late.why == rejection::stale_report);
    require_unchanged(late, row);
  }
  SECTION("after the job was claimed again") {
    step(row, errand::claim{"w2"}, t0 + 41s);
    const auto late = errand::decide(row, errand::succeed{1, "w1"}, no_delay, t0 + 42s);
    CHECK(late.why == rejection::stale_report);
    require_unchanged(late, row);
  }
}

TEST_CASE("contract 5: a late success after a timeout-fail is rejected", "[contract][decide]") {
  auto row = running_job(1);
  step(row, errand::fail{1, "w1", {"timed out after 600s", "timeout", true}}, t0 + 600s);
  REQUIRE(row.state == job_state::failed);
  const auto late = errand::decide(row, errand::succeed{1, "w1"}, no_delay, t0 + 601s);
  CHECK(late.why == rejection::stale_report);
  require_unchanged(late, row);
  CHECK(row.last_error == "timed out after 600s");
}

TEST_CASE("contract 5: the exact duplicate of an applied report is acknowledged, not applied twice",
          "[contract][decide]") {
  SECTION("succeed") {
    auto row = running_job();
    const errand::succeed report{1, "w1", "nothing to do"};
    step(row, report);
    const auto again = errand::decide(row, report, no_delay, t0 + 1s);
    CHECK(again.outcome == verdict::duplicate);
    require_unchanged(again, row);
  }
  SECTION("fail, retryable") {
    auto row = running_job();
    const auto report = failure_of(row, "disk full");
    step(row, report);
    const auto again = errand::decide(row, report, no_delay, t0 + 1s);
    CHECK(again.outcome == verdict::duplicate);
    require_unchanged(again, row);
  }
  SECTION("fail without a message, on the last attempt") {
    auto row = running_job(1);
    const auto report = failure_of(row, "");
    step(row, report);
    const auto again = errand::decide(row, report, no_delay, t0 + 1s);
    CHECK(again.outcome == verdict::duplicate);
    require_unchanged(again, row);
  }
  SECTION("fail with text that had to be made storable") {
    auto row = running_job();
    const auto report = failure_of(row, std::string(100'000, '\xFF'));
    step(row, report);
    const auto again = errand::decide(row, report, no_delay, t0 + 1s);
    CHECK(again.outcome == verdict::duplicate);
  }
  SECTION("lease_expired") {
    auto row = running_job();
    const errand::lease_expired report{1, errand::lease_expiry_reason(row)};
    step(row, report, t0 + 30s);
    const auto again = errand::decide(row, report, no_delay, t0 + 31s);
    CHECK(again.outcome == verdict::duplicate);
    require_unchanged(again, row);
  }
  SECTION("release") {
    auto row = running_job();
    const errand::release report{1, "w1"};
    step(row, report);
    const auto again = errand::decide(row, report, no_delay, t0 + 1s);
    CHECK(again.outcome == verdict::duplicate);
    require_unchanged(again, row);
  }
}

TEST_CASE("a release hands the claim back: the attempt is undone, and only its holder may send it", "[decide]") {
  auto row = running_job(1);  // its only attempt
  const auto stranger = errand::decide(row, errand::release{1, "w2"}, no_delay, t0);
  CHECK(stranger.why == rejection::stale_report);
  require_unchanged(stranger, row);
  const auto d = step(row, errand::release{1, "w1"});
  CHECK(row.state == job_state::pending);
  CHECK(row.attempt == 0);
  CHECK_FALSE(row.lease_until);
  REQUIRE(d.record);
  CHECK(d.record->event == "release");
  CHECK(d.record->attempt == 0);
  CHECK(d.record->worker == "w1");
  step(row, errand::claim{"w2", 30s});
  CHECK(row.attempt == 1);  // the one attempt it had, taken by another worker
  const auto late = errand::decide(row, errand::release{1, "w1"}, no_delay, t0);
  CHECK(late.why == rejection::stale_report);
}

TEST_CASE("contract 5: a different report for an attempt that already ended is rejected, not taken for a duplicate",
          "[contract][decide]") {
  auto row = running_job();
  step(row, success_of(row, "done"));
  const auto other_detail = errand::decide(row, success_of(row, "something else"), no_delay, t0);
  CHECK(other_detail.why == rejection::stale_report);
  const auto failure = errand::decide(row, failure_of(row, "boom"), no_delay, t0);
  CHECK(failure.why == rejection::stale_report);
  require_unchanged(failure, row);
}

TEST_CASE("contract 5: a heartbeat extends the lease and bumps the version, without history", "[contract][decide]") {
  const auto row = running_job();
  const auto d = errand::extend_lease(row, "w1", 1, 45s, t0 + 20s);
  REQUIRE(d.applied());
  CHECK(d.expected_version == row.version);
  CHECK(d.next.version == row.version + 1);
  CHECK(d.next.lease_until == t0 + 65s);
  CHECK(d.next.heartbeat_at == t0 + 20s);
  CHECK(d.next.state == job_state::running);
  CHECK_FALSE(d.record.has_value());
}

TEST_CASE("contract 5: a stale heartbeat is rejected and changes nothing", "[contract][decide]") {
  auto row = running_job();
  SECTION("from another worker") {
    const auto d = errand::extend_lease(row, "w2", 1, 30s, t0 + 1s);
    CHECK(d.why == rejection::stale_report);
    CHECK(d.reason ==
          "stale heartbeat for attempt 1 of worker 'w2': job 7 (state 'running', attempt 1) is no longer held by it");
    require_unchanged(d, row);
  }
  SECTION("for an old attempt") {
    const auto d = errand::extend_lease(row, "w1", 0, 30s, t0 + 1s);
    CHECK(d.why == rejection::stale_report);
    require_unchanged(d, row);
  }
  SECTION("after the lease was reaped") {
    step(row, errand::lease_expired{1, errand::lease_expiry_reason(row)}, t0 + 30s);
    const auto d = errand::extend_lease(row, "w1", 1, 30s, t0 + 31s);
    CHECK(d.why == rejection::stale_report);
    require_unchanged(d, row);
  }
}

// ---- contract 6: illegal transitions cannot be written -----------------------

TEST_CASE("contract 6: an illegal transition is rejected naming the state and the event", "[contract][decide]") {
  SECTION("claim on succeeded") {
    auto row = running_job();
    step(row, success_of(row));
    const auto d = errand::decide(row, errand::claim{"w2"}, no_delay, t0);
    CHECK(d.why == rejection::illegal_transition);
    CHECK(d.reason == "job 7: state 'succeeded' cannot take event 'claim'");
    require_unchanged(d, row);
  }
  SECTION("claim on running") {
    const auto row = running_job();
    const auto d = errand::decide(row, errand::claim{"w2"}, no_delay, t0);
    CHECK(d.why == rejection::illegal_transition);
    CHECK(d.reason == "job 7: state 'running' cannot take event 'claim'");
    require_unchanged(d, row);
  }
  SECTION("requeue on pending") {
    const auto row = new_job();
    const auto d = errand::decide(row, errand::requeue{}, no_delay, t0);
    CHECK(d.why == rejection::illegal_transition);
    CHECK(d.reason == "job 7: state 'pending' cannot take event 'requeue'");
    require_unchanged(d, row);
  }
  SECTION("cancel on failed") {
    auto row = running_job(1);
    step(row, failure_of(row, "x"));
    const auto d = errand::decide(row, errand::cancel{"again"}, no_delay, t0);
    CHECK(d.why == rejection::illegal_transition);
    CHECK(d.reason == "job 7: state 'failed' cannot take event 'cancel'");
    require_unchanged(d, row);
  }
  SECTION("a worker's report on a job no worker holds") {
    const auto row = new_job();
    const auto d = errand::decide(row, errand::succeed{0, "w1"}, no_delay, t0);
    CHECK(d.why == rejection::stale_report);
    CHECK(d.reason.find("state 'pending'") != std::string::npos);
    CHECK(d.reason.find("'succeed'") != std::string::npos);
    require_unchanged(d, row);
  }
}

TEST_CASE("contract 6: a row whose state is not a known state is rejected naming it, for every event",
          "[contract][decide]") {
  auto row = running_job();
  row.state = static_cast<job_state>(42);
  const auto check = [&](const errand::decision& d, const std::string& event) {
    INFO(d.reason);
    CHECK(d.why == rejection::unknown_state);
    CHECK(d.reason == "job 7: unknown state <unknown 42> cannot take event '" + event + "'");
    CHECK_FALSE(d.applied());
    CHECK_FALSE(d.record.has_value());
    CHECK(d.next.state == row.state);
    CHECK(d.next.version == row.version);
  };
  check(errand::decide(row, errand::claim{"w1"}, no_delay, t0), "claim");
  check(errand::decide(row, errand::succeed{1, "w1"}, no_delay, t0), "succeed");
  check(errand::decide(row, errand::fail{1, "w1", {"x"}}, no_delay, t0), "fail");
  check(errand::decide(row, errand::lease_expired{1, "x"}, no_delay, t0 + 1h), "lease_expired");
  check(errand::decide(row, errand::cancel{}, no_delay, t0), "cancel");
  check(errand::decide(row, errand::requeue{}, no_delay, t0), "requeue");
  check(errand::decide(row, errand::release{1, "w1"}, no_delay, t0), "release");
}

// ---- contract 7: bad input gets a clear error, never a lost record -----------

TEST_CASE("contract 7: any bytes in a failure are stored, bounded and valid, and the write still happens",
          "[contract][decide]") {
  std::string hostile(1 << 20, 'x');
  hostile[0] = '\0';
  hostile[1] = '\xC0';
  hostile[2] = '"';
  hostile[3] = '\\';
  hostile[4] = '\xED';
  hostile[5] = '\xA0';
  hostile[6] = '\x80';
  auto row = running_job();
  const auto d = step(row, errand::fail{1, "w1", {hostile, std::string(5000, '\xFF'), true, hostile}});
  CHECK(row.state == job_state::retry_pending);
  REQUIRE(row.last_error.has_value());
  CHECK(row.last_error->size() <= errand::max_error_bytes);
  CHECK(row.last_error->find('\0') == std::string::npos);
  CHECK(row.last_error->starts_with("\\0\xEF\xBF\xBD\"\\"));
  CHECK(row.last_error->ends_with("\xE2\x80\xA6 [truncated from 1048576 bytes]"));
  CHECK(row.last_error_kind->size() <= errand::max_error_bytes);
  const auto recorded = errand::from_json<errand::fail>(d.record->payload);
  CHECK(recorded.error.message == *row.last_error);
  CHECK(recorded.error.trace->size() <= errand::max_error_bytes);
}

TEST_CASE("contract 7: free text in every event is made storable", "[contract][decide]") {
  const std::string nul_text("a\0b", 3);
  auto row = new_job();
  step(row, errand::claim{nul_text});
  CHECK(row.worker == "a\\0b");
  SECTION("a heartbeat from that worker, as it names itself, is accepted") {
    const auto d = errand::extend_lease(row, nul_text, 1, 30s, t0 + 1s);
    CHECK(d.applied());
  }
  SECTION("its success is accepted, with a storable detail") {
    step(row, errand::succeed{1, nul_text, nul_text});
    CHECK(row.detail == "a\\0b");
  }
  SECTION("a cancel reason") {
    step(row, errand::cancel{std::string("\xFF")});
    CHECK(row.last_error == "\xEF\xBF\xBD");
  }
}

// ---- claims -------------------------------------------------------------------

TEST_CASE("claim before the job's run_at is rejected as not due", "[decide][claim]") {
  auto row = running_job();
  errand::retry_policy policy;
  policy.base = 10s;
  policy.jitter = 0;
  step(row, failure_of(row, "try later"), t0 + 1s, policy);
  REQUIRE(row.run_at == t0 + 11s);

  const auto early = errand::decide(row, errand::claim{"w2"}, no_delay, t0 + 11s - 1us);
  CHECK(early.why == rejection::not_due);
  CHECK(early.reason == "job 7 (state 'retry_pending', attempt 1) is not due until 2026-01-01T00:00:11.000000Z");
  require_unchanged(early, row);

  CHECK(errand::decide(row, errand::claim{"w2"}, no_delay, t0 + 11s).applied());
}

TEST_CASE("claim starts the next attempt with a lease", "[decide][claim]") {
  auto row = new_job();
  step(row, errand::claim{"w1", 45s}, t0 + 5s);
  CHECK(row.state == job_state::running);
  CHECK(row.attempt == 1);
  CHECK(row.worker == "w1");
  CHECK(row.lease_until == t0 + 50s);
  CHECK(row.heartbeat_at == t0 + 5s);
  CHECK(row.updated_at == t0 + 5s);
}
