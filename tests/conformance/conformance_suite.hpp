#pragma once
// The conformance suite: the executable definition of "a backend works".
//
// A backend's test file names its fixtures, then includes this header once:
//
//   using conformance_fixtures = std::tuple<my_file_fixture, my_memory_fixture>;
//   #include "conformance_suite.hpp"
//
// A fixture is default-constructible, starts from an empty store, cleans up
// after itself, and provides:
//   using store_type = ...;                 // satisfies errand::operator_store
//   store_type& store();                    // used from many threads at once
//   store_type& second_store();             // another store on the same data, as a second
//                                           // process would open (the same one where nothing else can be)
//   void reopen();                          // close and open again on the same data
//   static constexpr const char* name;
//
// The suite uses nothing but the store concept and errand's core, so a fourth
// backend runs it unchanged.

#include <errand/errand.hpp>

#include "errand_catch.hpp"

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace conformance {

using namespace std::chrono_literals;
using errand::job_state;

inline const errand::time_point t0 = errand::manual_clock{}.now();
inline const errand::retry_policy policy{std::chrono::seconds{10}, 2.0, std::chrono::minutes{5}, 0.0, 7};

inline errand::job_spec spec(std::string kind = "work", std::int32_t priority = 0,
                             std::optional<errand::time_point> run_at = std::nullopt) {
  errand::job_spec s;
  s.kind = std::move(kind);
  s.payload = R"({"order":42})";
  s.priority = priority;
  s.run_at = run_at;
  return s;
}

inline errand::claim_request claim_by(std::string worker, errand::time_point now,
                                      std::vector<std::string> queues = {}) {
  return {std::move(worker), std::chrono::seconds{30}, now, std::move(queues)};
}

inline errand::fail failure(const errand::job& row, std::string message, bool retryable = true) {
  return {row.attempt, *row.worker, {std::move(message), std::string(errand::error_kind::reported), retryable, {}}};
}

inline errand::succeed success(const errand::job& row, std::optional<std::string> detail = std::nullopt) {
  return {row.attempt, *row.worker, std::move(detail)};
}

// Contracts 1 and 2 of docs/concepts.md as a predicate on any row a store returns.
inline void require_invariants(const errand::job& row) {
  INFO("job " << row.id << " in state " << *errand::name_of(row.state));
  if (row.state == job_state::retry_pending || row.state == job_state::failed) {
    REQUIRE(row.last_error.has_value());
    REQUIRE_FALSE(row.last_error->empty());
    REQUIRE(row.last_error_at.has_value());
  }
  if (row.last_error) REQUIRE_FALSE(row.last_error->empty());
  REQUIRE(row.lease_until.has_value() == (row.state == job_state::running));
}

// Contract 3 of docs/concepts.md: seq runs 1..n and each record starts where the last ended.
inline void require_consistent_history(const std::vector<errand::history_record>& history,
                                       job_state final_state) {
  job_state at = job_state::pending;
  for (std::size_t i = 0; i < history.size(); ++i) {
    INFO("history record " << i + 1);
    REQUIRE(history[i].seq == static_cast<std::int64_t>(i + 1));
    REQUIRE(history[i].from == at);
    at = history[i].to;
  }
  REQUIRE(at == final_state);
}

}  // namespace conformance

TEMPLATE_LIST_TEST_CASE("conformance: enqueue stores the spec and get reads it back", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto s = spec("resize", 3, t0 + 5s);
  s.queue = "images";
  s.max_attempts = 7;
  s.unique_key = "resize:1";
  const auto added = store.enqueue(s, t0);
  REQUIRE(added.created);
  REQUIRE(added.id > 0);

  const auto row = store.get(added.id);
  REQUIRE(row);
  CHECK(row->id == added.id);
  CHECK(row->queue == "images");
  CHECK(row->kind == "resize");
  CHECK(row->payload == R"({"order":42})");
  CHECK(row->state == job_state::pending);
  CHECK(row->priority == 3);
  CHECK(row->attempt == 0);
  CHECK(row->max_attempts == 7);
  CHECK(row->run_at == t0 + 5s);
  CHECK_FALSE(row->worker);
  CHECK_FALSE(row->lease_until);
  CHECK_FALSE(row->last_error);
  CHECK_FALSE(row->last_error_kind);
  CHECK_FALSE(row->last_error_at);
  CHECK_FALSE(row->detail);
  CHECK(row->unique_key == "resize:1");
  CHECK(row->created_at == t0);
  CHECK(store.history(added.id).empty());
  CHECK_FALSE(store.get(added.id + 1000));
}

TEMPLATE_LIST_TEST_CASE("conformance: a unique key makes a second enqueue a no-op", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto s = spec();
  s.unique_key = "once";
  const auto first = store.enqueue(s, t0);
  const auto second = store.enqueue(s, t0 + 1s);
  CHECK(first.created);
  CHECK_FALSE(second.created);
  CHECK(second.id == first.id);

  std::vector<errand::job_spec> batch{spec("a"), s, spec("b"), s};
  batch[0].unique_key = "fresh";
  const auto results = store.enqueue_batch(batch, t0);
  REQUIRE(results.size() == 4);
  CHECK(results[0].created);
  CHECK(results[1] == errand::enqueued{first.id, false});
  CHECK(results[2].created);
  CHECK(results[3] == errand::enqueued{first.id, false});
  CHECK(store.count_by_state()[job_state::pending] == 3);
}

TEMPLATE_LIST_TEST_CASE("conformance: a spec no job could run from is refused and nothing is written",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto no_attempts = spec();
  no_attempts.max_attempts = 0;
  CHECK_THROWS_WITH(store.enqueue(no_attempts, t0), contains_text("max_attempts 0"));
  CHECK_THROWS_WITH(store.enqueue(spec(""), t0), contains_text("needs a kind"));
  const std::vector<errand::job_spec> batch{spec("fine"), no_attempts};
  CHECK_THROWS_AS(store.enqueue_batch(batch, t0), std::invalid_argument);
  CHECK(store.query({}).empty());
  const auto id = store.enqueue(spec(), t0).id;
  CHECK(store.get(id)->kind == "work");
  CHECK(store.query({}).size() == 1);
}

TEMPLATE_LIST_TEST_CASE("conformance: text no database can hold is refused by every store; nothing is written",
                        "[conformance][contract][bad-input]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto kept = store.enqueue(spec("kept"), t0).id;

  std::vector<errand::job_spec> batch{spec("a"), spec(std::string("re\0size", 7)), spec("c")};
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0), contains_text("job_spec #1 field 'kind' holds a NUL byte at offset 2"));
  batch[1] = spec("b");
  batch[1].queue = "bad \xFF queue";
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0), contains_text("job_spec #1 field 'queue' is not valid UTF-8 at offset 4"));
  batch[1] = spec("b");
  batch[1].payload = "{\"unterminated\": ";
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0), contains_text("job_spec #1 (kind 'b'): field 'payload' is not JSON"));
  batch[1] = spec("b");
  batch[1].unique_key = std::string("key\0tail", 8);
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0), contains_text("job_spec #1 field 'unique_key' holds a NUL"));
  batch[1] = spec("b");
  batch[1].payload = R"({"total": [1, NaN]})";
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0),
                    "errand: job_spec #1 (kind 'b'): field 'payload' is not JSON: errand: JSON document: NaN and "
                    "infinities have no JSON representation; nothing was enqueued");
  auto single = spec("d");
  single.payload = "not json";
  CHECK_THROWS_AS(store.enqueue(single, t0), std::invalid_argument);
  single.payload = "1, 2";
  CHECK_THROWS_WITH(store.enqueue(single, t0),
                    "errand: job_spec (kind 'd'): field 'payload' is not JSON: errand: JSON document: expected one "
                    "JSON value, found 2; nothing was enqueued");
  single.payload = "[Inf.05]";  // no JSON: PostgreSQL's json type refuses it, and so does every store
  CHECK_THROWS_WITH(store.enqueue(single, t0), contains_text("(kind 'd'): field 'payload' is not JSON"));

  CHECK_THROWS_WITH(store.claim(claim_by("w", t0, {std::string("mail\0x", 6)})),
                    contains_text("a queue name in a claim_request holds a NUL byte"));
  CHECK_THROWS_WITH(store.claim({"w", std::chrono::seconds{0}, t0, {}}),
                    "errand: a claim_request's lease must be positive (it is 0 microseconds); nothing was claimed");
  CHECK_THROWS_WITH(store.claim_batch({"w", -std::chrono::seconds{1}, t0, {}}, 5),
                    contains_text("a claim_request's lease must be positive"));
  CHECK_THROWS_WITH(store.query({.kind = std::string("a\xFF")}),
                    contains_text("job_query field 'kind' is not valid UTF-8 at offset 1"));

  CHECK(store.count_by_state() == errand::state_counts{{job_state::pending, 1}});
  const auto row = store.get(kept);
  REQUIRE(row);
  CHECK(row->kind == "kept");
  CHECK(row->state == job_state::pending);
  CHECK(store.history(kept).empty());
}

TEMPLATE_LIST_TEST_CASE("conformance: a payload nested as deep as errand reads is stored as it is; deeper is refused",
                        "[conformance][bad-input]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const std::size_t arrays = errand::max_json_depth - 1;  // and an object inside them
  auto deepest = spec("deepest");
  deepest.payload = std::string(arrays, '[') + R"({"n":1})" + std::string(arrays, ']');
  const auto id = store.enqueue(deepest, t0).id;
  CHECK(store.get(id)->payload == deepest.payload);

  auto deeper = spec("deeper");
  deeper.payload = "[" + deepest.payload + "]";
  CHECK_THROWS_WITH(store.enqueue(deeper, t0),
                    "errand: job_spec (kind 'deeper'): field 'payload' is not JSON: errand: JSON document: arrays and "
                    "objects nested deeper than 1000 levels (2007 bytes); nothing was enqueued");
  // Deep enough to overflow the stack of a reader that recursed once per level.
  deeper.payload = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  const std::vector<errand::job_spec> batch{spec("fine"), deeper};
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0),
                    contains_text("job_spec #1 (kind 'deeper'): field 'payload' is not JSON: errand: JSON document: "
                                  "arrays and objects nested deeper than 1000 levels (2000000 bytes)"));
  CHECK(store.count_by_state() == errand::state_counts{{job_state::pending, 1}});
}

TEMPLATE_LIST_TEST_CASE("conformance: times are the years 0001 to 9999; for ever is the end of 9999",
                        "[conformance][bad-input]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  // The ends of the range are stored and read back exactly.
  const auto last = store.enqueue(spec("last", 0, errand::latest_time), t0).id;
  const auto first = store.enqueue(spec("first", 0, errand::earliest_time), t0).id;
  CHECK(store.get(last)->run_at == errand::latest_time);
  CHECK(store.get(first)->run_at == errand::earliest_time);

  // A time past them was written, and the job could not be read again.
  CHECK_THROWS_WITH(store.enqueue(spec("never", 0, errand::time_point::max()), t0),
                    "errand: job_spec (kind 'never'): field 'run_at' is outside the years 0001 to 9999 "
                    "(9223372036854775807 microseconds since 1970); nothing was enqueued");
  const std::vector<errand::job_spec> batch{spec("fine"), spec("before", 0, errand::earliest_time - 1us)};
  CHECK_THROWS_WITH(store.enqueue_batch(batch, t0),
                    contains_text("job_spec #1 (kind 'before'): field 'run_at' is outside the years 0001 to 9999"));
  CHECK(store.count_by_state() == errand::state_counts{{job_state::pending, 2}});

  // A lease of duration::max() ends with the year 9999 instead of overflowing into the past.
  const auto claimed = store.claim({"w", errand::duration::max(), t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->id == first);
  CHECK(claimed->lease_until == errand::latest_time);
  CHECK(store.get(first)->lease_until == errand::latest_time);
  CHECK(store.expired_leases(t0 + std::chrono::hours{24 * 365 * 1000}, 10).empty());

  // A unique key for ever holds at any time.
  auto keyed = spec("digest");
  keyed.unique_key = "digest:for-ever";
  keyed.unique_period = errand::duration::max();
  const auto kept = store.enqueue(keyed, t0);
  REQUIRE(kept.created);
  CHECK(store.enqueue(keyed, t0 + std::chrono::hours{24 * 365 * 1000}) == errand::enqueued{kept.id, false});
}

TEMPLATE_LIST_TEST_CASE("conformance: batched enqueue keeps order and ids grow", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  std::vector<errand::job_spec> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(spec(std::string("k").append(std::to_string(i))));
  const auto results = store.enqueue_batch(batch, t0);
  REQUIRE(results.size() == 50);
  for (std::size_t i = 0; i < results.size(); ++i) {
    REQUIRE(results[i].created);
    if (i > 0) REQUIRE(results[i].id > results[i - 1].id);
    REQUIRE(store.get(results[i].id)->kind == std::string("k").append(std::to_string(i)));
  }
}

TEMPLATE_LIST_TEST_CASE("conformance: claims take priority, then run_at, then id, and only due jobs",
                        "[conformance]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto late = store.enqueue(spec("late", 0, t0 + 1h), t0).id;
  const auto low = store.enqueue(spec("low", 5), t0).id;
  const auto second = store.enqueue(spec("second", 1, t0 - 1s), t0).id;
  const auto first = store.enqueue(spec("first", 1, t0 - 2s), t0).id;
  const auto tie = store.enqueue(spec("tie", 1, t0 - 1s), t0).id;

  std::vector<std::int64_t> order;
  while (const auto claimed = store.claim(claim_by("w", t0))) {
    CHECK(claimed->state == job_state::running);
    CHECK(claimed->attempt == 1);
    CHECK(claimed->worker == "w");
    CHECK(claimed->lease_until == t0 + 30s);
    CHECK(claimed->heartbeat_at == t0);
    order.push_back(claimed->id);
  }
  CHECK(order == std::vector<std::int64_t>{first, second, tie, low});
  CHECK(store.get(late)->state == job_state::pending);
  CHECK(store.claim(claim_by("w", t0 + 1h))->id == late);
}

TEMPLATE_LIST_TEST_CASE("conformance: claims honour the queue filter and batch size", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  for (int i = 0; i < 5; ++i) {
    auto s = spec();
    s.queue = i % 2 ? "mail" : "video";
    store.enqueue(s, t0);
  }
  const auto mail = store.claim_batch(claim_by("w", t0, {"mail"}), 10);
  REQUIRE(mail.size() == 2);
  for (const auto& row : mail) CHECK(row.queue == "mail");
  const auto video = store.claim_batch(claim_by("w", t0, {"video", "other"}), 2);
  REQUIRE(video.size() == 2);
  CHECK(video[0].id < video[1].id);
  CHECK(store.claim_batch(claim_by("w", t0), 10).size() == 1);
  CHECK(store.claim_batch(claim_by("w", t0), 10).empty());
  CHECK_FALSE(store.claim(claim_by("w", t0)));
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 1 and 2: a retryable failure is visible until the next claim",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim(claim_by("w1", t0));
  REQUIRE(claimed);

  const auto failed = errand::report(store, id, failure(*claimed, "target resource does not exist"), policy, t0 + 1s);
  REQUIRE(failed.applied());
  fixture.reopen();
  auto& reopened = fixture.store();
  const auto row = reopened.get(id);
  REQUIRE(row->state == job_state::retry_pending);
  CHECK(row->last_error == "target resource does not exist");
  CHECK(row->last_error_kind == "reported");
  CHECK(row->last_error_at == t0 + 1s);
  CHECK(row->run_at == t0 + 1s + policy.delay_after(id, 1));
  conformance::require_invariants(*row);

  CHECK_FALSE(reopened.claim(claim_by("w2", t0 + 2s)));
  const auto again = reopened.claim(claim_by("w2", row->run_at));
  REQUIRE(again);
  CHECK(again->attempt == 2);
  CHECK_FALSE(again->last_error);
  CHECK_FALSE(again->last_error_kind);
  CHECK_FALSE(again->last_error_at);
  CHECK_FALSE(reopened.get(id)->last_error);

  REQUIRE(errand::report(reopened, id, success(*again), policy, row->run_at + 1s).applied());
  const auto done = reopened.get(id);
  CHECK(done->state == job_state::succeeded);
  CHECK_FALSE(done->last_error);
  CHECK_FALSE(done->detail);
  const auto errors = errand::errors_of(reopened.history(id));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "target resource does not exist");
  CHECK(errors[0].attempt == 1);
  CHECK(errors[0].worker == "w1");
}

TEMPLATE_LIST_TEST_CASE("conformance: a non-retryable failure goes straight to failed with its reason",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim(claim_by("w1", t0));
  REQUIRE(errand::report(store, id, failure(*claimed, "invalid YAML at line 3", false), policy, t0).applied());
  const auto row = store.get(id);
  CHECK(row->state == job_state::failed);
  CHECK(row->last_error == "invalid YAML at line 3");
  CHECK(row->attempt == 1);
  conformance::require_invariants(*row);
}

TEMPLATE_LIST_TEST_CASE("conformance: the last attempt's failure is final", "[conformance][contract]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto s = spec();
  s.max_attempts = 2;
  const auto id = store.enqueue(s, t0).id;
  errand::time_point now = t0;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const auto claimed = store.claim(claim_by("w", now));
    REQUIRE(claimed);
    REQUIRE(errand::report(store, id, failure(*claimed, "boom " + std::to_string(attempt)), policy, now).applied());
    now = store.get(id)->run_at;
  }
  const auto row = store.get(id);
  CHECK(row->state == job_state::failed);
  CHECK(row->last_error == "boom 2");
  CHECK(errand::errors_of(store.history(id)).size() == 2);
  conformance::require_consistent_history(store.history(id), job_state::failed);
}

TEMPLATE_LIST_TEST_CASE("conformance: a success may carry a detail, told apart from a clean success",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto noop = store.enqueue(spec(), t0).id;
  const auto clean = store.enqueue(spec(), t0).id;
  const auto a = store.claim(claim_by("w", t0));
  const auto b = store.claim(claim_by("w", t0));
  REQUIRE(errand::report(store, noop, success(*a, "review posted nothing: no changed files"), policy, t0).applied());
  REQUIRE(errand::report(store, clean, success(*b), policy, t0).applied());
  CHECK(store.get(noop)->detail == "review posted nothing: no changed files");
  CHECK_FALSE(store.get(clean)->detail);
  const auto outcome = store.latest_outcome(noop);
  REQUIRE(outcome);
  CHECK(outcome->success);
  CHECK(outcome->text == "review posted nothing: no changed files");
  CHECK_FALSE(store.latest_outcome(clean)->text);
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 3: one history record per transition, errors kept",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  auto claimed = store.claim(claim_by("w1", t0));
  errand::report(store, id, failure(*claimed, "first"), policy, t0 + 1s);
  claimed = store.claim(claim_by("w2", t0 + 1h));
  errand::report(store, id, failure(*claimed, "second", false), policy, t0 + 2h);
  errand::report(store, id, errand::requeue{"operator retry", 1}, policy, t0 + 3h);
  CHECK_FALSE(store.get(id)->last_error);
  claimed = store.claim(claim_by("w3", t0 + 3h));
  errand::report(store, id, success(*claimed), policy, t0 + 4h);

  const auto history = store.history(id);
  REQUIRE(history.size() == 7);
  conformance::require_consistent_history(history, job_state::succeeded);
  const std::vector<std::string> events{"claim", "fail", "claim", "fail", "requeue", "claim", "succeed"};
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(history[i].event == events[i]);
  CHECK(history[1].worker == "w1");
  CHECK(history[1].at == t0 + 1s);
  CHECK(history[1].attempt == 1);
  CHECK(history[5].attempt == 3);
  CHECK(errand::from_json<errand::fail>(history[3].payload).error.message == "second");

  const auto errors = errand::errors_of(history);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "first");
  CHECK(errors[1].message == "second");
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 4: the reaper recovers an expired lease with a reason",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto dead = store.enqueue(spec(), t0).id;
  const auto alive = store.enqueue(spec(), t0).id;
  store.claim(claim_by("dead-worker", t0));
  const auto held = store.claim(claim_by("live-worker", t0));

  REQUIRE(errand::heartbeat(store, alive, "live-worker", held->attempt, 30s, t0 + 20s).applied());
  CHECK(store.expired_leases(t0 + 29s, 10).empty());
  const auto expired = store.expired_leases(t0 + 31s, 10);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == dead);

  const auto recovered = errand::reap(store, policy, t0 + 31s);
  REQUIRE(recovered.size() == 1);
  const auto row = store.get(dead);
  CHECK(row->state == job_state::retry_pending);
  CHECK(row->last_error == "lease expired: worker dead-worker, last heartbeat " + errand::to_iso8601(t0));
  CHECK(row->last_error_kind == "lease_expired");
  CHECK(store.get(alive)->state == job_state::running);
  CHECK(store.get(alive)->lease_until == t0 + 50s);
  conformance::require_invariants(*row);
}

TEMPLATE_LIST_TEST_CASE("conformance: a lease that ends exactly now has expired", "[conformance][contract]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  REQUIRE(store.claim(claim_by("w", t0)));  // a 30 s lease
  CHECK(store.expired_leases(t0 + 30s - 1us, 10).empty());
  const auto expired = store.expired_leases(t0 + 30s, 10);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == id);
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 5: stale writers lose, duplicates are acknowledged",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  const auto first = store.claim(claim_by("w1", t0));
  errand::reap(store, policy, t0 + 31s);
  const auto version = store.get(id)->version;
  const auto history_size = store.history(id).size();

  const auto late = errand::report(store, id, success(*first), policy, t0 + 32s);
  CHECK(late.outcome == errand::verdict::rejected);
  CHECK(late.why == errand::rejection::stale_report);
  CHECK(late.reason.find("job " + std::to_string(id)) != std::string::npos);
  CHECK(store.get(id)->version == version);
  CHECK(store.history(id).size() == history_size);

  const auto second = store.claim(claim_by("w2", store.get(id)->run_at));
  const auto report = failure(*second, "disk full");
  CHECK(errand::report(store, id, report, policy, second->run_at).applied());
  const auto again = errand::report(store, id, report, policy, second->run_at + 1s);
  CHECK(again.outcome == errand::verdict::duplicate);
  CHECK(store.history(id).size() == history_size + 2);

  const auto stale_beat = errand::heartbeat(store, id, "w2", second->attempt, 30s, second->run_at + 2s);
  CHECK(stale_beat.why == errand::rejection::stale_report);
}

TEMPLATE_LIST_TEST_CASE("conformance: apply is a compare-and-set", "[conformance][contract]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim(claim_by("w", t0));
  const auto d1 = errand::decide(*claimed, success(*claimed), policy, t0);
  const auto d2 = errand::decide(*claimed, failure(*claimed, "x"), policy, t0);
  CHECK(store.apply(d1) == errand::write_result::applied);
  CHECK(store.apply(d2) == errand::write_result::conflict);
  CHECK(store.get(id)->state == job_state::succeeded);
  CHECK(store.history(id).size() == 2);

  auto missing = d1;
  missing.next.id = id + 1000;
  CHECK(store.apply(missing) == errand::write_result::not_found);
}

TEMPLATE_LIST_TEST_CASE("conformance: a batch of decisions is all or nothing", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  store.enqueue_batch(std::vector<errand::job_spec>{spec(), spec(), spec()}, t0);
  const auto claimed = store.claim_batch(claim_by("w", t0), 3);
  REQUIRE(claimed.size() == 3);
  std::vector<errand::decision> batch;
  for (const auto& row : claimed) batch.push_back(errand::decide(row, success(row), policy, t0));

  auto spoiled = batch;
  spoiled[2].expected_version += 5;
  const auto refused = store.apply_batch(spoiled);
  CHECK(std::count(refused.begin(), refused.end(), errand::write_result::applied) == 0);
  for (const auto& row : claimed) CHECK(store.get(row.id)->state == job_state::running);

  const auto results = store.apply_batch(batch);
  CHECK(std::count(results.begin(), results.end(), errand::write_result::applied) == 3);
  for (const auto& row : claimed) {
    CHECK(store.get(row.id)->state == job_state::succeeded);
    CHECK(store.history(row.id).size() == 2);
  }
}

TEMPLATE_LIST_TEST_CASE("conformance: one batch may write the same job twice, in order", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  store.enqueue_batch(std::vector<errand::job_spec>{spec(), spec()}, t0);
  const auto claimed = store.claim_batch(claim_by("w", t0), 2);
  REQUIRE(claimed.size() == 2);
  const auto& first = claimed[0].id < claimed[1].id ? claimed[0] : claimed[1];
  const auto& second = claimed[0].id < claimed[1].id ? claimed[1] : claimed[0];
  const auto beat = errand::extend_lease(first, "w", first.attempt, 60s, t0 + 10s);
  const auto done = errand::decide(beat.next, success(first), policy, t0 + 20s);
  const auto other_done = errand::decide(second, success(second), policy, t0 + 20s);

  // The second write of a job expects the version the first wrote: the other way round, nothing is written.
  CHECK(store.apply_batch(std::vector{other_done, done, beat}) ==
        std::vector{errand::write_result::conflict, errand::write_result::conflict, errand::write_result::conflict});
  CHECK(store.get(first.id)->version == first.version);
  CHECK(store.get(second.id)->state == job_state::running);

  CHECK(store.apply_batch(std::vector{other_done, beat, done}) ==
        std::vector{errand::write_result::applied, errand::write_result::applied, errand::write_result::applied});
  CHECK(store.get(first.id)->state == job_state::succeeded);
  CHECK(store.history(first.id).size() == 2);  // the heartbeat is not a transition
  CHECK(store.get(second.id)->state == job_state::succeeded);

  auto gone = done;
  gone.next.id = second.id + 100;
  CHECK(store.apply_batch(std::vector{done, gone}) ==
        std::vector{errand::write_result::conflict, errand::write_result::not_found});
}

TEMPLATE_LIST_TEST_CASE("conformance: cancel and requeue", "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  auto claimed = store.claim(claim_by("w", t0));
  errand::report(store, id, failure(*claimed, "upstream 503"), policy, t0);
  const auto cancelled = errand::report(store, id, errand::cancel{}, policy, t0 + 1s);
  REQUIRE(cancelled.applied());
  auto row = store.get(id);
  CHECK(row->state == job_state::failed);
  CHECK(row->last_error == "upstream 503");
  CHECK(row->last_error_kind == "cancelled");

  const auto illegal = errand::report(store, id, errand::cancel{"again"}, policy, t0 + 2s);
  CHECK(illegal.why == errand::rejection::illegal_transition);
  CHECK(illegal.reason.find("'failed'") != std::string::npos);
  CHECK(illegal.reason.find("'cancel'") != std::string::npos);

  REQUIRE(errand::report(store, id, errand::requeue{}, policy, t0 + 3s).applied());
  row = store.get(id);
  CHECK(row->state == job_state::pending);
  CHECK_FALSE(row->last_error);
  CHECK(row->max_attempts >= row->attempt + 1);
  claimed = store.claim(claim_by("w", t0 + 3s));
  REQUIRE(claimed);
  CHECK(claimed->attempt == 2);
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 7: any error text is stored", "[conformance][contract]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  std::string hostile = "quote ' double \" backslash \\ nul ";
  hostile += '\0';
  hostile += " bad utf8 \xC3\x28 \xFF end; DROP TABLE jobs; --";
  std::string huge(1 << 20, 'x');
  huge.replace(1000, 1, std::string(1, '\0'));

  const auto a = store.enqueue(spec(), t0).id;
  const auto b = store.enqueue(spec(), t0).id;
  const auto ca = store.claim(claim_by("w", t0));
  const auto cb = store.claim(claim_by("w", t0));
  REQUIRE(errand::report(store, a, failure(*ca, hostile, false), policy, t0).applied());
  REQUIRE(errand::report(store, b, failure(*cb, huge, false), policy, t0).applied());
  fixture.reopen();
  auto& reopened = fixture.store();

  const auto ra = reopened.get(a);
  CHECK(ra->last_error == errand::storable_error_text(hostile));
  CHECK(ra->last_error->find('\0') == std::string::npos);
  const auto rb = reopened.get(b);
  CHECK(rb->last_error->size() <= errand::max_error_bytes);
  CHECK(rb->last_error->find("[truncated from 1048576 bytes]") != std::string::npos);
  CHECK(errand::errors_of(reopened.history(a)).at(0).message == *ra->last_error);
  CHECK(errand::errors_of(reopened.history(b)).at(0).message == *rb->last_error);
}

TEMPLATE_LIST_TEST_CASE("conformance: queries filter and page", "[conformance]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  for (int i = 0; i < 10; ++i) {
    auto s = spec(i % 2 ? "odd" : "even");
    s.queue = i < 5 ? "low" : "high";
    store.enqueue(s, t0);
  }
  for (int i = 0; i < 3; ++i) {
    const auto claimed = store.claim(claim_by("w", t0));
    errand::report(store, claimed->id, failure(*claimed, "nope"), policy, t0);
  }
  CHECK(store.query({.state = job_state::retry_pending}).size() == 3);
  CHECK(store.query({.has_error = true}).size() == 3);
  CHECK(store.query({.has_error = false}).size() == 7);
  CHECK(store.query({.queue = "high", .kind = "odd"}).size() == 3);

  std::vector<std::int64_t> seen;
  errand::job_query page{.limit = 4};
  for (;;) {
    const auto rows = store.query(page);
    if (rows.empty()) break;
    CHECK(rows.size() <= 4);
    for (const auto& row : rows) seen.push_back(row.id);
    page.after_id = rows.back().id;
  }
  CHECK(seen.size() == 10);
  CHECK(std::is_sorted(seen.begin(), seen.end()));

  const auto counts = store.count_by_state();
  CHECK(counts.at(job_state::pending) == 7);
  CHECK(counts.at(job_state::retry_pending) == 3);
}

TEMPLATE_LIST_TEST_CASE("conformance: the latest outcome is what an orchestrator reads", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto id = store.enqueue(spec(), t0).id;
  CHECK_FALSE(store.latest_outcome(id));
  const auto claimed = store.claim(claim_by("w", t0));
  CHECK_FALSE(store.latest_outcome(id));
  errand::report(store, id, failure(*claimed, "claude exec timed out"), policy, t0 + 1s);
  const auto outcome = store.latest_outcome(id);
  REQUIRE(outcome);
  CHECK_FALSE(outcome->success);
  CHECK(outcome->text == "claude exec timed out");
  CHECK(outcome->kind == "reported");
  CHECK(outcome->attempt == 1);
  CHECK(outcome->state == job_state::retry_pending);
  CHECK(outcome->at == t0 + 1s);
}

TEMPLATE_LIST_TEST_CASE("conformance: prune drops finished jobs and old history", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto patient = spec();
  patient.max_attempts = 5;
  const auto old_done = store.enqueue(spec(), t0).id;
  const auto busy = store.enqueue(patient, t0).id;
  auto claimed = store.claim(claim_by("w", t0));
  errand::report(store, old_done, success(*claimed), policy, t0);
  for (int i = 0; i < 3; ++i) {
    claimed = store.claim(claim_by("w", t0 + std::chrono::hours{i + 1}));
    REQUIRE(claimed->id == busy);
    errand::report(store, busy, failure(*claimed, "retry me"), errand::retry_policy::immediate(), t0 + std::chrono::hours{i + 1});
  }
  REQUIRE(store.history(busy).size() == 6);

  const auto result = store.prune({.finished_before = t0 + 1s, .keep_history = 2});
  CHECK(result.jobs_deleted == 1);
  CHECK(result.history_deleted == 2 + 4);
  CHECK_FALSE(store.get(old_done));
  const auto kept = store.history(busy);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].seq == 5);
  CHECK(kept[1].seq == 6);
  claimed = store.claim(claim_by("w", t0 + 5h));
  REQUIRE(claimed);
  errand::report(store, busy, success(*claimed), policy, t0 + 5h);
  CHECK(store.history(busy).back().seq == 8);
}

TEMPLATE_LIST_TEST_CASE("conformance: prune never deletes an unfinished job, however old", "[conformance]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto patient = spec();
  patient.max_attempts = 5;
  const auto pending = store.enqueue(spec("pending"), t0).id;
  const auto running = store.enqueue(spec("running"), t0).id;
  const auto waiting = store.enqueue(patient, t0).id;
  const auto failed = store.enqueue(spec("failed"), t0).id;
  const auto succeeded = store.enqueue(spec("succeeded"), t0).id;
  const auto claim_one = [&] {
    const auto row = store.claim(claim_by("w", t0));
    REQUIRE(row);
    return *row;
  };
  REQUIRE(claim_one().id == pending);  // back to pending through a requeue after a final failure below
  REQUIRE(claim_one().id == running);
  const auto waiting_row = claim_one();
  REQUIRE(errand::report(store, waiting, failure(waiting_row, "try later"), policy, t0).applied());
  const auto failed_row = claim_one();
  REQUIRE(errand::report(store, failed, failure(failed_row, "for good", false), policy, t0).applied());
  const auto succeeded_row = claim_one();
  REQUIRE(errand::report(store, succeeded, success(succeeded_row), policy, t0).applied());
  const auto pending_row = *store.get(pending);
  REQUIRE(errand::report(store, pending, failure(pending_row, "bad input", false), policy, t0).applied());
  REQUIRE(errand::report(store, pending, errand::requeue{"fixed the input"}, policy, t0).applied());

  REQUIRE(store.get(pending)->state == job_state::pending);
  REQUIRE(store.get(running)->state == job_state::running);
  REQUIRE(store.get(waiting)->state == job_state::retry_pending);
  std::map<std::int64_t, std::size_t> history_before;
  for (const auto id : {pending, running, waiting}) history_before[id] = store.history(id).size();

  const auto result = store.prune({.finished_before = t0 + std::chrono::hours{24 * 365}});
  CHECK(result.jobs_deleted == 2);
  CHECK_FALSE(store.get(failed));
  CHECK_FALSE(store.get(succeeded));
  for (const auto& [id, records] : history_before) {
    INFO("job " << id);
    REQUIRE(store.get(id));
    CHECK(store.history(id).size() == records);
  }
  CHECK(store.get(pending)->state == job_state::pending);
  CHECK(store.get(running)->state == job_state::running);
  CHECK(store.get(waiting)->state == job_state::retry_pending);
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 8: subscribers hear only what committed", "[conformance][contract]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  std::mutex mutex;
  std::vector<errand::notification> heard;
  auto subscription = store.subscribe([&](const errand::notification& n) {
    std::scoped_lock lock(mutex);
    heard.push_back(n);
  });
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim(claim_by("w", t0));
  const auto d = errand::decide(*claimed, failure(*claimed, "rate limited"), policy, t0);
  REQUIRE(store.apply(d) == errand::write_result::applied);
  CHECK(store.apply(d) == errand::write_result::conflict);
  errand::report(store, id, success(*claimed), policy, t0);  // stale: rejected, nothing committed

  const auto wait_for = [&](std::size_t n) {
    for (int spin = 0; spin < 2000; ++spin) {
      {
        std::scoped_lock lock(mutex);
        if (heard.size() >= n) return true;
      }
      std::this_thread::yield();
      std::this_thread::sleep_for(1ms);  // cross-process delivery (LISTEN/NOTIFY) is asynchronous
    }
    return false;
  };
  REQUIRE(wait_for(2));
  {
    std::scoped_lock lock(mutex);
    REQUIRE(heard.size() == 2);
    CHECK(heard[0].record.event == "claim");
    CHECK(heard[1].record.event == "fail");
    CHECK(heard[1].row.state == job_state::retry_pending);
    CHECK(heard[1].row.last_error == "rate limited");
  }
  subscription.reset();
  errand::report(store, id, errand::cancel{"stop"}, policy, t0);
  CHECK(store.get(id)->state == job_state::failed);
  std::scoped_lock lock(mutex);
  CHECK(heard.size() == 2);
}

TEMPLATE_LIST_TEST_CASE("conformance: contract 8: a reset subscription is never called again, even by a commit under way",
                        "[conformance][contract]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  std::latch inside(1);
  std::latch release(1);
  std::atomic<bool> first = true;
  auto blocking = store.subscribe([&](const errand::notification&) {
    if (!first.exchange(false)) return;
    inside.count_down();
    release.wait();
  });
  std::atomic<int> heard_after_reset = 0;
  auto later = store.subscribe([&](const errand::notification&) { ++heard_after_reset; });

  const auto id = store.enqueue(spec(), t0).id;
  std::optional<errand::job> claimed;
  std::thread writer([&] { claimed = store.claim(claim_by("w", t0)); });  // tells both, in order, on its thread
  inside.wait();
  later.reset();
  release.count_down();
  writer.join();
  REQUIRE(claimed);
  errand::report(store, id, success(*claimed), policy, t0);

  CHECK(store.get(id)->state == job_state::succeeded);
  CHECK(heard_after_reset == 0);
}

TEMPLATE_LIST_TEST_CASE("conformance: concurrent claimers never run one attempt twice", "[conformance][concurrency]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  constexpr int job_count = 200;
  constexpr int thread_count = 4;
  std::vector<errand::job_spec> specs(job_count, spec());
  store.enqueue_batch(specs, t0);

  std::atomic<int> finished{0};
  std::atomic<int> refused{0};  // Catch2 assertions are not thread-safe: count, check after join
  std::mutex mutex;
  std::multiset<std::pair<std::int64_t, std::int32_t>> attempts_run;
  const auto zero = errand::retry_policy::immediate();
  std::vector<std::thread> workers;
  for (int w = 0; w < thread_count; ++w) {
    workers.emplace_back([&, w] {
      const std::string name = "worker-" + std::to_string(w);
      int idle = 0;
      while (finished.load() < job_count && idle < 100000) {
        const auto batch = store.claim_batch(claim_by(name, t0 + 1s), static_cast<std::size_t>(1 + w % 2));
        if (batch.empty()) {
          ++idle;
          std::this_thread::yield();
          continue;
        }
        for (const auto& row : batch) {
          {
            std::scoped_lock lock(mutex);
            attempts_run.insert({row.id, row.attempt});
          }
          // Every job fails its first attempt (retryable, no backoff) and succeeds on the second.
          const auto result = row.attempt == 1 ? errand::report(store, row.id, failure(row, "flaky"), zero, t0 + 1s)
                                               : errand::report(store, row.id, success(row), zero, t0 + 1s);
          if (!result.applied()) ++refused;
          if (row.attempt != 1) ++finished;
        }
      }
    });
  }
  for (auto& t : workers) t.join();

  CHECK(refused.load() == 0);
  REQUIRE(finished.load() == job_count);
  CHECK(attempts_run.size() == static_cast<std::size_t>(2 * job_count));
  for (const auto& key : attempts_run) REQUIRE(attempts_run.count(key) == 1);
  const auto counts = store.count_by_state();
  CHECK(counts.at(job_state::succeeded) == job_count);
  for (const auto& row : store.query({.limit = job_count})) {
    const auto history = store.history(row.id);
    REQUIRE(history.size() == 4);
    conformance::require_consistent_history(history, job_state::succeeded);
    CHECK(errand::errors_of(history).size() == 1);
  }
}

TEMPLATE_LIST_TEST_CASE("conformance: queries list the latest change first and filter by when jobs changed",
                        "[conformance][operators]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(store.enqueue(spec(), t0 + std::chrono::minutes{i}).id);
  // Job 0 changes last; jobs 4 and 5 were enqueued in the same microsecond.
  store.enqueue(spec("twin"), t0 + 5min);
  ids.push_back(store.query({.kind = "twin"}).front().id);
  REQUIRE(errand::report(store, ids[0], errand::cancel{"no longer needed"}, policy, t0 + 10min).applied());

  const errand::job_query latest{.order = errand::job_order::recently_updated};
  std::vector<std::int64_t> listed;
  for (const auto& row : store.query(latest)) listed.push_back(row.id);
  CHECK(listed == std::vector<std::int64_t>{ids[0], ids[6], ids[5], ids[4], ids[3], ids[2], ids[1]});

  // Paging by the last job seen visits every job once, the twins included.
  std::vector<std::int64_t> paged;
  auto page = latest;
  page.limit = 2;
  for (;;) {
    const auto rows = store.query(page);
    if (rows.empty()) break;
    for (const auto& row : rows) paged.push_back(row.id);
    page.after_update = errand::update_cursor{rows.back().updated_at, rows.back().id};
  }
  CHECK(paged == listed);

  auto window = latest;
  window.updated_since = t0 + 2min;
  window.updated_before = t0 + 5min;
  std::vector<std::int64_t> in_window;
  for (const auto& row : store.query(window)) in_window.push_back(row.id);
  CHECK(in_window == std::vector<std::int64_t>{ids[4], ids[3], ids[2]});
  CHECK(store.query({.updated_since = t0 + 10min}).size() == 1);
  CHECK(store.query({.state = job_state::failed, .updated_before = t0 + 10min}).empty());
}

TEMPLATE_LIST_TEST_CASE("conformance: error groups count the jobs failing with each error, latest first",
                        "[conformance][operators]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto fail_next = [&](const std::string& message, const std::string& kind, bool retryable,
                             errand::time_point at) {
    const auto claimed = store.claim(claim_by("w", at));
    REQUIRE(claimed);
    errand::fail e{claimed->attempt, *claimed->worker, {message, kind, retryable, {}}};
    REQUIRE(errand::report(store, claimed->id, e, policy, at).applied());
    return claimed->id;
  };
  std::vector<errand::job_spec> specs(6, spec("mail"));
  specs[5].kind = "sms";
  specs[5].queue = "texts";
  store.enqueue_batch(specs, t0);
  const auto smtp_1 = fail_next("SMTP 451: mailbox busy", "smtp", true, t0 + 1s);
  const auto smtp_2 = fail_next("SMTP 451: mailbox busy", "smtp", true, t0 + 2s);
  const auto smtp_3 = fail_next("SMTP 451: mailbox busy", "smtp", false, t0 + 3s);
  const auto bad = fail_next("no address", "invalid_input", false, t0 + 4s);
  const auto cancelled = store.query({.state = job_state::pending}).front().id;
  REQUIRE(errand::report(store, cancelled, errand::cancel{"customer left"}, policy, t0 + 5s).applied());
  const auto sms = fail_next("SMTP 451: mailbox busy", "other", true, t0 + 6s);  // same text, other kind

  const auto groups = store.error_groups({});
  REQUIRE(groups.size() == 4);
  CHECK(groups[0].error_kind == "other");
  CHECK(groups[0].example_ids == std::vector<std::int64_t>{sms});
  CHECK(groups[1].error_kind == "cancelled");
  CHECK(groups[1].message == "customer left");
  CHECK(groups[2].error_kind == "invalid_input");
  CHECK(groups[2].jobs == 1);
  CHECK(groups[2].example_ids == std::vector<std::int64_t>{bad});
  CHECK(groups[3].error_kind == "smtp");
  CHECK(groups[3].message == "SMTP 451: mailbox busy");
  CHECK(groups[3].jobs == 3);
  CHECK(groups[3].first_at == t0 + 1s);
  CHECK(groups[3].last_at == t0 + 3s);
  CHECK(groups[3].example_ids == std::vector<std::int64_t>{smtp_3, smtp_2, smtp_1});

  const auto two = store.error_groups({.limit = 2, .examples = 0});
  REQUIRE(two.size() == 2);
  CHECK(two[1].error_kind == "cancelled");
  CHECK(two[1].example_ids.empty());
  const auto failed = store.error_groups({.state = job_state::failed, .kind = "mail", .examples = 5});
  REQUIRE(failed.size() == 3);
  CHECK(failed[2].jobs == 1);
  CHECK(failed[2].example_ids == std::vector<std::int64_t>{smtp_3});
  CHECK(store.error_groups({.queue = "texts"}).size() == 1);
  CHECK(store.error_groups({.since = t0 + 4s}).size() == 3);

  // A retry starts clean (contract item 2): the job leaves its group.
  const auto waiting = store.error_groups({.state = job_state::retry_pending});
  REQUIRE(waiting.size() == 2);
  CHECK(waiting[1].jobs == 2);
  REQUIRE(store.claim(claim_by("w", t0 + 1h))->id == smtp_1);
  CHECK(store.error_groups({.state = job_state::retry_pending})[1].jobs == 1);
}

TEMPLATE_LIST_TEST_CASE("conformance: a summary counts each queue's jobs, what moved lately and what is due",
                        "[conformance][operators]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto mail = spec("mail");
  mail.queue = "mail";
  auto later = spec("report", 0, t0 + 1h);
  later.queue = "reports";
  const auto first_mail = store.enqueue(mail, t0 - 5min).id;
  store.enqueue(mail, t0 - 1min);
  store.enqueue(later, t0);
  store.enqueue(spec("resize", 0, t0 - 2min), t0 - 3min);
  const auto done = store.claim(claim_by("w", t0, {"default"}));
  REQUIRE(done);
  REQUIRE(errand::report(store, done->id, success(*done), policy, t0 + 1s).applied());

  CHECK(store.summarize({.now = t0 + 2s, .since = t0}).size() == 3);
  const auto summaries = store.summarize({.now = t0 + 2s, .since = t0 - 2min});
  REQUIRE(summaries.size() == 3);
  CHECK(summaries[0].queue == "default");
  CHECK(summaries[0].jobs == errand::state_counts{{job_state::succeeded, 1}});
  CHECK(summaries[0].updated_since == errand::state_counts{{job_state::succeeded, 1}});
  CHECK(summaries[0].due == 0);
  CHECK_FALSE(summaries[0].oldest_due_id);
  CHECK(summaries[1].queue == "mail");
  CHECK(summaries[1].jobs == errand::state_counts{{job_state::pending, 2}});
  CHECK(summaries[1].updated_since == errand::state_counts{{job_state::pending, 1}});
  CHECK(summaries[1].due == 2);
  CHECK(summaries[1].oldest_due_id == first_mail);
  CHECK(summaries[1].oldest_due_at == t0 - 5min);
  CHECK(summaries[2].queue == "reports");
  CHECK(summaries[2].due == 0);
  CHECK_FALSE(summaries[2].oldest_due_at);
  CHECK(store.summarize({.now = t0 + 1h, .since = t0})[2].oldest_due_at == t0 + 1h);
}

// Scheduling: scoped unique keys, paused and limited queues, periodic jobs
// (docs/scheduling.md). Where the guarantee is across processes, two stores
// on the same data race; the SQLite and PostgreSQL tests race processes too.

TEMPLATE_LIST_TEST_CASE("conformance: a unique key scoped to states is free again once its job left them",
                        "[conformance][unique]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto unfinished = spec("sync");
  unfinished.unique_key = "sync:42";
  unfinished.unique_states = errand::unfinished_states;
  const auto first = store.enqueue(unfinished, t0);
  REQUIRE(first.created);
  CHECK(store.enqueue(unfinished, t0 + 1s) == errand::enqueued{first.id, false});
  const auto claimed = store.claim(claim_by("w", t0 + 1s));
  REQUIRE(claimed->id == first.id);
  CHECK(store.enqueue(unfinished, t0 + 2s) == errand::enqueued{first.id, false});
  REQUIRE(errand::report(store, first.id, success(*claimed), policy, t0 + 3s).applied());

  const auto second = store.enqueue(unfinished, t0 + 4s);
  REQUIRE(second.created);
  CHECK(second.id != first.id);
  CHECK(store.get(second.id)->unique_key == "sync:42");
  CHECK(store.get(first.id)->unique_key == "sync:42");

  // The new spec's scope decides: any state (the default) finds both jobs and names the newest.
  auto any_state = spec("sync");
  any_state.unique_key = "sync:42";
  CHECK(store.enqueue(any_state, t0 + 5s) == errand::enqueued{second.id, false});
  auto after_success = any_state;
  after_success.unique_states = {job_state::succeeded};
  CHECK(store.enqueue(after_success, t0 + 5s) == errand::enqueued{first.id, false});

  // A job waiting for its retry has not finished: it holds the key.
  const auto retried = store.claim(claim_by("w", t0 + 6s));
  REQUIRE(retried->id == second.id);
  REQUIRE(errand::report(store, second.id, failure(*retried, "timeout"), policy, t0 + 7s).applied());
  CHECK(store.enqueue(unfinished, t0 + 8s) == errand::enqueued{second.id, false});
  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, 1}, {job_state::retry_pending, 1}});
}

TEMPLATE_LIST_TEST_CASE("conformance: a unique key scoped to a period is free again after it", "[conformance][unique]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto hourly = spec("digest");
  hourly.unique_key = "digest:7";
  hourly.unique_period = 1h;
  const auto first = store.enqueue(hourly, t0);
  REQUIRE(first.created);
  CHECK(store.enqueue(hourly, t0 + 59min) == errand::enqueued{first.id, false});
  const auto second = store.enqueue(hourly, t0 + 1h);
  REQUIRE(second.created);
  CHECK(store.enqueue(hourly, t0 + 1h + 1s) == errand::enqueued{second.id, false});

  // Both scopes at once: the key holds only while the job is unfinished and within the period.
  auto both = hourly;
  both.queue = "digests";
  both.unique_key = "digest:8";
  both.unique_states = errand::unfinished_states;
  const auto third = store.enqueue(both, t0 + 2h);
  REQUIRE(third.created);
  CHECK(store.enqueue(both, t0 + 2h + 1min) == errand::enqueued{third.id, false});
  const auto claimed = store.claim(claim_by("w", t0 + 2h, {"digests"}));
  REQUIRE(claimed->id == third.id);
  REQUIRE(errand::report(store, third.id, success(*claimed), policy, t0 + 2h + 2min).applied());
  const auto fourth = store.enqueue(both, t0 + 2h + 3min);
  CHECK(fourth.created);
  CHECK(store.enqueue(both, t0 + 3h + 3min).created);  // an hour after the fourth, unfinished or not
}

TEMPLATE_LIST_TEST_CASE("conformance: a unique key without a scope holds until prune deletes its job",
                        "[conformance][unique]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto once = spec();
  once.unique_key = "once";
  const auto first = store.enqueue(once, t0);
  const auto claimed = store.claim(claim_by("w", t0));
  REQUIRE(errand::report(store, first.id, success(*claimed), policy, t0).applied());
  CHECK(store.enqueue(once, t0 + 24h) == errand::enqueued{first.id, false});
  REQUIRE(store.prune({.finished_before = t0 + 1s}).jobs_deleted == 1);
  const auto again = store.enqueue(once, t0 + 25h);
  CHECK(again.created);
  CHECK(again.id != first.id);
}

TEMPLATE_LIST_TEST_CASE("conformance: a scoped key repeated in one batch is held by the job created first",
                        "[conformance][unique]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto unfinished = spec("a");
  unfinished.unique_key = "k";
  unfinished.unique_states = errand::unfinished_states;
  auto only_succeeded = spec("b");
  only_succeeded.unique_key = "k2";
  only_succeeded.unique_states = {job_state::succeeded};
  const std::vector<errand::job_spec> batch{unfinished, spec("plain"), unfinished, only_succeeded, only_succeeded};
  const auto results = store.enqueue_batch(batch, t0);
  REQUIRE(results.size() == 5);
  CHECK(results[0].created);
  CHECK(results[1].created);
  CHECK(results[2] == errand::enqueued{results[0].id, false});
  // A pending job does not hold a key scoped to 'succeeded': both are created.
  CHECK(results[3].created);
  CHECK(results[4].created);
  CHECK(results[4].id > results[3].id);
  CHECK(store.count_by_state()[job_state::pending] == 4);
}

TEMPLATE_LIST_TEST_CASE("conformance: a scope without a key, or an empty period, is refused and nothing is written",
                        "[conformance][unique][bad-input]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto no_key = spec("report");
  no_key.unique_states = errand::unfinished_states;
  CHECK_THROWS_WITH(store.enqueue(no_key, t0),
                    "errand: job spec of kind 'report' scopes its uniqueness (unique_states or unique_period) but "
                    "has no unique_key");
  auto no_period = spec("report");
  no_period.unique_key = "r";
  no_period.unique_period = 0s;
  CHECK_THROWS_WITH(store.enqueue(no_period, t0), contains_text("unique_period that is not positive"));
  const std::vector<errand::job_spec> batch{spec("fine"), no_period};
  CHECK_THROWS_AS(store.enqueue_batch(batch, t0), std::invalid_argument);
  CHECK(store.query({}).empty());
}

TEMPLATE_LIST_TEST_CASE("conformance: enqueuers racing on keys through two stores create one job per key",
                        "[conformance][unique][concurrency]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  constexpr int key_count = 12;
  constexpr int thread_count = 4;
  // Round 0 enqueues every key; round 1, after every job succeeded, again:
  // keys scoped to unfinished jobs are free then, keys without a scope are not.
  const auto race = [&](int round) {
    std::latch start(thread_count);
    std::vector<std::vector<errand::enqueued>> seen(thread_count);
    std::vector<std::string> errors(thread_count);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&, t] {
        auto& store = t % 2 ? fixture.second_store() : fixture.store();
        start.arrive_and_wait();
        try {
          for (int k = 0; k < key_count; ++k) {
            auto s = spec("race");
            s.unique_key = "race:" + std::to_string(k);
            if (k % 2) s.unique_states = errand::unfinished_states;
            seen[t].push_back(store.enqueue(s, t0 + std::chrono::hours{round}));
          }
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    for (const auto& e : errors) CHECK(e.empty());
    std::map<int, int> created;
    std::map<int, std::set<std::int64_t>> ids;
    for (const auto& results : seen)
      for (std::size_t k = 0; k < results.size(); ++k) {
        created[static_cast<int>(k)] += results[k].created ? 1 : 0;
        ids[static_cast<int>(k)].insert(results[k].id);
      }
    return std::pair{created, ids};
  };
  fixture.second_store();  // opened before the race, as a second process would be
  const auto [created, ids] = race(0);
  for (int k = 0; k < key_count; ++k) {
    INFO("key race:" << k);
    CHECK(created.at(k) == 1);
    CHECK(ids.at(k).size() == 1);
  }
  auto& store = fixture.store();
  while (const auto claimed = store.claim(claim_by("w", t0 + 1h)))
    REQUIRE(errand::report(store, claimed->id, success(*claimed), policy, t0 + 1h).applied());
  const auto [created_again, ids_again] = race(2);
  for (int k = 0; k < key_count; ++k) {
    INFO("key race:" << k);
    CHECK(created_again.at(k) == (k % 2 ? 1 : 0));
    CHECK(ids_again.at(k).size() == 1);
  }
  CHECK(store.count_by_state() ==
        errand::state_counts{{job_state::succeeded, key_count}, {job_state::pending, key_count / 2}});
}

TEMPLATE_LIST_TEST_CASE("conformance: a paused queue gives claims nothing until it is resumed", "[conformance][queues]",
                        conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  const auto mail_spec = [] {
    auto s = spec("send");
    s.queue = "mail";
    return s;
  };
  const auto m1 = store.enqueue(mail_spec(), t0).id;
  const auto m2 = store.enqueue(mail_spec(), t0).id;
  auto video = spec("encode", 5);
  video.queue = "video";
  const auto v1 = store.enqueue(video, t0).id;
  const auto running = store.claim(claim_by("w", t0, {"mail"}));
  REQUIRE(running->id == m1);

  const auto paused = store.pause_queue("mail", t0 + 1s);
  CHECK(paused == errand::queue_setting{"mail", true, std::nullopt, t0 + 1s});
  CHECK(fixture.second_store().queue_settings() == std::vector<errand::queue_setting>{paused});
  CHECK_FALSE(store.claim(claim_by("w", t0 + 2s, {"mail"})));
  const auto others = fixture.second_store().claim_batch(claim_by("w", t0 + 2s), 10);
  REQUIRE(others.size() == 1);
  CHECK(others[0].id == v1);
  // What was running when the queue was paused finishes.
  CHECK(errand::report(store, m1, success(*running), policy, t0 + 3s).applied());
  CHECK(store.pause_queue("mail", t0 + 4s).paused);  // pausing twice is pausing

  fixture.reopen();
  auto& reopened = fixture.store();
  CHECK(reopened.queue_settings().at(0).paused);
  const auto resumed = fixture.second_store().resume_queue("mail", t0 + 5s);
  CHECK(resumed == errand::queue_setting{"mail", false, std::nullopt, t0 + 5s});
  CHECK(reopened.queue_settings().empty());
  const auto claimed = reopened.claim(claim_by("w", t0 + 6s));
  REQUIRE(claimed);
  CHECK(claimed->id == m2);
  CHECK(reopened.resume_queue("never-paused", t0 + 7s) == errand::queue_setting{"never-paused", false, {}, t0 + 7s});
  CHECK(reopened.queue_settings().empty());
}

TEMPLATE_LIST_TEST_CASE("conformance: a queue limit caps its running jobs for every store of the data",
                        "[conformance][queues]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  auto& store = fixture.store();
  auto& other = fixture.second_store();
  CHECK(store.set_queue_limit("slow", 2, t0) == errand::queue_setting{"slow", false, 2, t0});
  std::vector<std::int64_t> slow;
  for (int i = 0; i < 5; ++i) {
    auto s = spec("call_partner");  // first in claim order
    s.queue = "slow";
    slow.push_back(store.enqueue(s, t0).id);
  }
  store.enqueue(spec("local", 1), t0);
  store.enqueue(spec("local", 1), t0);

  const auto first = store.claim_batch(claim_by("w1", t0), 10);
  REQUIRE(first.size() == 4);
  CHECK(first[0].id == slow[0]);
  CHECK(first[1].id == slow[1]);
  CHECK(first[2].queue == "default");
  CHECK(first[3].queue == "default");
  CHECK_FALSE(other.claim(claim_by("w2", t0)));
  CHECK_FALSE(other.claim(claim_by("w2", t0, {"slow"})));

  REQUIRE(errand::report(store, slow[0], success(first[0]), policy, t0 + 1s).applied());
  const auto one_more = other.claim_batch(claim_by("w2", t0 + 1s), 10);
  REQUIRE(one_more.size() == 1);
  CHECK(one_more[0].id == slow[2]);

  CHECK(other.set_queue_limit("slow", 4, t0 + 2s).max_running == 4);
  CHECK(store.claim_batch(claim_by("w1", t0 + 2s, {"slow", "default"}), 10).size() == 2);
  CHECK_FALSE(store.claim(claim_by("w1", t0 + 2s)));

  // Paused and limited at once; then neither.
  CHECK(store.pause_queue("slow", t0 + 3s) == errand::queue_setting{"slow", true, 4, t0 + 3s});
  CHECK(other.set_queue_limit("slow", std::nullopt, t0 + 4s) == errand::queue_setting{"slow", true, {}, t0 + 4s});
  CHECK(store.queue_settings() == std::vector<errand::queue_setting>{{"slow", true, {}, t0 + 4s}});
  store.resume_queue("slow", t0 + 5s);
  CHECK(other.queue_settings().empty());

  // A limit no claim could honour is refused; nothing changes.
  store.set_queue_limit("slow", 1, t0 + 6s);
  CHECK_THROWS_WITH(store.set_queue_limit("slow", 0, t0 + 7s),
                    "errand: queue 'slow' cannot be limited to 0 running jobs; the limit must be at least 1 "
                    "(pause_queue stops a queue)");
  CHECK_THROWS_AS(store.set_queue_limit("slow", -3, t0 + 7s), std::invalid_argument);
  CHECK_THROWS_WITH(store.pause_queue("", t0 + 7s), "errand: a queue setting needs a queue name");
  CHECK_THROWS_WITH(store.pause_queue(std::string("sl\0w", 4), t0 + 7s),
                    "errand: a queue name in a queue setting holds a NUL byte at offset 2; nothing was written");
  CHECK_THROWS_AS(store.set_queue_limit("\xFF", 2, t0 + 7s), std::invalid_argument);
  CHECK(store.queue_settings() == std::vector<errand::queue_setting>{{"slow", false, 1, t0 + 6s}});
}

TEMPLATE_LIST_TEST_CASE("conformance: claimers racing through two stores never run more of a queue than its limit",
                        "[conformance][queues][concurrency]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  constexpr int limit = 3;
  constexpr int limited_jobs = 40;
  constexpr int other_jobs = 20;
  constexpr int thread_count = 4;
  auto& store = fixture.store();
  store.set_queue_limit("partner", limit, t0);
  auto limited = spec("call_partner");
  limited.queue = "partner";
  store.enqueue_batch(std::vector<errand::job_spec>(limited_jobs, limited), t0);
  store.enqueue_batch(std::vector<errand::job_spec>(other_jobs, spec("local")), t0);
  fixture.second_store();

  // Claimers that hold what they claim: together they get exactly `limit` jobs of the queue.
  {
    std::latch start(thread_count);
    std::vector<std::size_t> held(thread_count, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&, t] {
        auto& mine = t % 2 ? fixture.second_store() : fixture.store();
        start.arrive_and_wait();
        for (int i = 0; i < 3; ++i)
          held[t] += mine.claim_batch(claim_by("holder-" + std::to_string(t), t0, {"partner"}), 2).size();
      });
    for (auto& t : threads) t.join();
    std::size_t total = 0;
    for (const auto n : held) total += n;
    CHECK(total == limit);
    for (const auto& row : store.query({.state = job_state::running}))
      REQUIRE(errand::report(store, row.id, success(row), policy, t0).applied());
  }

  // Claimers that finish what they claim, from every queue: never more than `limit` of the queue at once.
  std::atomic<int> in_flight{0};
  std::atomic<int> most_in_flight{0};
  std::atomic<int> finished{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t)
    threads.emplace_back([&, t] {
      auto& mine = t % 2 ? fixture.second_store() : fixture.store();
      const std::string name = "worker-" + std::to_string(t);
      for (int idle = 0; finished.load() < limited_jobs + other_jobs - limit && idle < 100000;) {
        const auto batch = mine.claim_batch(claim_by(name, t0 + 1s), 2);
        if (batch.empty()) {
          ++idle;
          std::this_thread::yield();
          continue;
        }
        for (const auto& row : batch) {
          const bool counted = row.queue == "partner";
          if (counted) {
            const int now_running = ++in_flight;
            int seen = most_in_flight.load();
            while (now_running > seen && !most_in_flight.compare_exchange_weak(seen, now_running)) {
            }
            --in_flight;  // before the report: the store may let the next claim in once it is written
          }
          if (!errand::report(mine, row.id, success(row), policy, t0 + 1s).applied()) ++refused;
          ++finished;
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(refused.load() == 0);
  CHECK(most_in_flight.load() <= limit);
  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, limited_jobs + other_jobs}});
}

TEMPLATE_LIST_TEST_CASE("conformance: schedulers racing through two stores enqueue each tick once",
                        "[conformance][periodic][concurrency]", conformance_fixtures) {
  using namespace conformance;
  TestType fixture;
  constexpr int scheduler_count = 2;
  constexpr int passes = 3 * 60 * 3;  // every 20 s for three hours
  fixture.second_store();
  std::latch start(scheduler_count);
  std::vector<std::int64_t> created(scheduler_count, 0);
  std::vector<std::string> errors(scheduler_count);
  std::vector<std::thread> threads;
  for (int s = 0; s < scheduler_count; ++s)
    threads.emplace_back([&, s] {
      auto& mine = s % 2 ? fixture.second_store() : fixture.store();
      errand::periodic_scheduler periodic;
      periodic.add({.name = "minutely", .when = errand::schedule::every(1min), .job = {.kind = "tick"}});
      periodic.add({.name = "hourly", .when = errand::schedule::cron("@hourly"), .job = {.kind = "report"}});
      start.arrive_and_wait();
      try {
        for (int pass = 0; pass <= passes; ++pass)
          for (const auto& tick : periodic.enqueue_due(mine, t0 + pass * 20s).ticks)
            created[s] += tick.result.created ? 1 : 0;
      } catch (const std::exception& e) {
        errors[s] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK(e.empty());

  auto& store = fixture.store();
  std::map<std::string, std::set<errand::time_point>> ticks;
  std::size_t jobs = 0;
  for (const auto& row : store.query({.limit = 1000})) {
    ++jobs;
    CHECK(ticks[row.kind].insert(row.run_at).second);
    CHECK(row.unique_key ==
          errand::periodic_scheduler::unique_key_for(row.kind == "tick" ? "minutely" : "hourly", row.run_at));
  }
  CHECK(ticks["tick"].size() == 3 * 60 + 1);  // t0 is a tick too
  CHECK(ticks["report"].size() == 4);
  CHECK(created[0] + created[1] == static_cast<std::int64_t>(jobs));
  CHECK(*ticks["tick"].begin() == t0);
  CHECK(*ticks["report"].rbegin() == t0 + 3h);
}

TEMPLATE_LIST_TEST_CASE("conformance: a store that announces work announces enqueues, retries and resumed queues",
                        "[conformance][wakeups]", conformance_fixtures) {
  using namespace std::chrono_literals;
  using store_type = typename TestType::store_type;
  if constexpr (errand::announces_work<store_type>) {
    TestType fixture;
    auto& store = fixture.store();
    auto since = store.work_epoch();
    CHECK_FALSE(store.wait_for_work(since, 0ms));
    const auto id = store.enqueue(conformance::spec(), conformance::t0).id;
    CHECK(store.wait_for_work(since, 5s));

    since = store.work_epoch();
    const auto running = *store.claim(conformance::claim_by("w1", conformance::t0));
    const auto retry = errand::decide(running, conformance::failure(running, "flaky"), conformance::policy,
                                      conformance::t0);
    REQUIRE(store.apply(retry) == errand::write_result::applied);
    CHECK(store.wait_for_work(since, 5s));

    since = store.work_epoch();
    store.resume_queue("default", conformance::t0);
    CHECK(store.wait_for_work(since, 5s));
    CHECK(store.get(id)->state == errand::job_state::retry_pending);
  }
}

TEMPLATE_LIST_TEST_CASE("conformance: a store that announces work hears an enqueue through another store of the data",
                        "[conformance][wakeups]", conformance_fixtures) {
  using namespace std::chrono_literals;
  using store_type = typename TestType::store_type;
  if constexpr (errand::announces_work<store_type>) {
    TestType fixture;
    auto& store = fixture.store();
    store.wait_for_work(store.work_epoch(), 0ms);  // the store is ready to hear others
    auto since = store.work_epoch();
    fixture.second_store().enqueue(conformance::spec(), conformance::t0);
    CHECK(store.wait_for_work(since, 30s));  // as another process would enqueue
    // For ever is a timeout like any other; it overflowed the steady clock and ended at once.
    since = store.work_epoch();
    fixture.second_store().enqueue(conformance::spec(), conformance::t0);
    CHECK(store.wait_for_work(since, std::chrono::milliseconds::max()));
  }
}

TEMPLATE_LIST_TEST_CASE("conformance: a store that knows its next due job names the earliest run_at still to come",
                        "[conformance][wakeups]", conformance_fixtures) {
  using namespace std::chrono_literals;
  using store_type = typename TestType::store_type;
  if constexpr (errand::knows_next_due<store_type>) {
    TestType fixture;
    auto& store = fixture.store();
    const auto t0 = conformance::t0;
    CHECK_FALSE(store.next_run_at(t0).has_value());
    store.enqueue(conformance::spec("due", 0, t0), t0);
    const auto later = store.enqueue(conformance::spec("later", 0, t0 + 90s), t0).id;
    store.enqueue(conformance::spec("latest", 5, t0 + 10min), t0);
    CHECK(store.next_run_at(t0) == t0 + 90s);  // run_at after `after` only: the due job is claimable already
    CHECK(store.next_run_at(t0 + 90s) == t0 + 10min);
    CHECK_FALSE(store.next_run_at(t0 + 10min).has_value());

    const auto cancelled = errand::decide(*store.get(later), errand::cancel{"not needed"}, conformance::policy, t0);
    REQUIRE(store.apply(cancelled) == errand::write_result::applied);
    CHECK(store.next_run_at(t0) == t0 + 10min);  // a job no claim can take is not waiting
  }
}

// However a backend claims (decide() on rows it read, or SQL that starts the
// attempt itself), the rows it writes are the ones decide() would write, and
// it takes the due jobs in claim order. Random jobs in every state, run_at
// times around now, several priorities; each claim is checked against
// decide() on the rows as they stood before it.
TEMPLATE_LIST_TEST_CASE("conformance: a claim writes what decide() decides, in claim order, on random jobs",
                        "[conformance][claim][property]", conformance_fixtures) {
  using namespace std::chrono_literals;
  TestType fixture;
  auto& store = fixture.store();
  std::mt19937_64 random(20261130);
  const auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };
  auto now = conformance::t0;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 15; ++i) {
      auto s = conformance::spec("k", pick(0, 3), now + std::chrono::seconds{pick(-30, 30)});
      s.max_attempts = pick(1, 3);
      const auto id = store.enqueue(s, now).id;
      // Move some jobs on: claimed and failed (retry_pending or failed), cancelled.
      switch (pick(0, 5)) {
        case 0:
          if (auto claimed = store.claim(conformance::claim_by("mover", now + 1h)); claimed)
            REQUIRE(errand::report(store, claimed->id, conformance::failure(*claimed, "flaky", pick(0, 1) == 1),
                                   conformance::policy, now)
                        .accepted());
          break;
        case 1:
          REQUIRE(errand::report(store, id, errand::cancel{"not needed"}, conformance::policy, now).accepted());
          break;
        default:
          break;
      }
    }
    now += std::chrono::seconds{pick(0, 20)};
    std::map<std::int64_t, errand::job> before;
    for (const auto& row : store.query({.limit = 10000})) before[row.id] = row;
    std::vector<errand::job> due;
    for (const auto& [id, row] : before)
      if (errand::is_claimable(row.state) && row.run_at <= now) due.push_back(row);
    std::sort(due.begin(), due.end(), [](const errand::job& a, const errand::job& b) {
      return std::tie(a.priority, a.run_at, a.id) < std::tie(b.priority, b.run_at, b.id);
    });
    const std::size_t limit = static_cast<std::size_t>(pick(1, 8));
    const errand::claim_request request{"w" + std::to_string(round), std::chrono::seconds{pick(5, 60)}, now, {}};
    const auto claimed = store.claim_batch(request, limit);
    REQUIRE(claimed.size() == std::min(limit, due.size()));
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      INFO("round " << round << ", claim " << i);
      CHECK(claimed[i].id == due[i].id);
      const auto expected =
          errand::decide(before.at(claimed[i].id), errand::claim{request.worker, request.lease}, {}, now);
      REQUIRE(expected.applied());
      CHECK(errand::to_json(claimed[i]) == errand::to_json(expected.next));
      CHECK(errand::to_json(*store.get(claimed[i].id)) == errand::to_json(expected.next));
      const auto history = store.history(claimed[i].id);
      REQUIRE_FALSE(history.empty());
      auto record = *expected.record;
      record.seq = history.back().seq;
      auto written = history.back();
      // A payload is JSON; PostgreSQL keeps it as jsonb, which orders the keys its own way.
      const auto claim_written = errand::from_json<errand::claim>(written.payload);
      const auto claim_decided = errand::from_json<errand::claim>(record.payload);
      CHECK(claim_written.worker == claim_decided.worker);
      CHECK(claim_written.lease == claim_decided.lease);
      written.payload = record.payload;
      CHECK(errand::to_json(written) == errand::to_json(record));
    }
    // Nothing else moved.
    for (const auto& row : store.query({.limit = 10000}))
      if (std::none_of(claimed.begin(), claimed.end(), [&](const errand::job& c) { return c.id == row.id; }))
        CHECK(errand::to_json(row) == errand::to_json(before.at(row.id)));
  }
}
