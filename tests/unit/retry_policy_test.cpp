// retry_policy.hpp: when a retryable failure is tried again, and how decide()
// applies the policy (attempts, non-retryable errors, an operator's requeue).

#include "errand_catch.hpp"
#include <errand/decide.hpp>
#include <errand/retry_policy.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = *errand::from_iso8601("2026-01-01T00:00:00Z");

errand::retry_policy without_jitter() {
  errand::retry_policy policy;
  policy.base = 1s;
  policy.multiplier = 2.0;
  policy.cap = 1min;
  policy.jitter = 0.0;
  return policy;
}

errand::job new_job(std::int32_t max_attempts, std::int64_t id = 7) {
  errand::job_spec spec;
  spec.kind = "send_invoice";
  spec.max_attempts = max_attempts;
  return errand::make_job(spec, id, t0);
}

template <class Event>
void step(errand::job& row, const Event& e, const errand::retry_policy& policy, errand::time_point now) {
  const auto d = errand::decide(row, e, policy, now);
  INFO(d.reason);
  REQUIRE(d.applied());
  row = d.next;
}

void claim_and_fail(errand::job& row, const errand::retry_policy& policy, bool retryable = true) {
  step(row, errand::claim{"w1"}, policy, row.run_at);
  step(row, errand::fail{row.attempt, "w1", {"boom", "reported", retryable}}, policy, row.run_at);
}

}  // namespace

TEST_CASE("retry delays grow exponentially from the base", "[retry_policy]") {
  const auto policy = without_jitter();
  CHECK(policy.delay_after(1, 1) == 1s);
  CHECK(policy.delay_after(1, 2) == 2s);
  CHECK(policy.delay_after(1, 3) == 4s);
  CHECK(policy.delay_after(1, 6) == 32s);

  auto tripling = policy;
  tripling.multiplier = 3.0;
  CHECK(tripling.delay_after(1, 3) == 9s);
}

TEST_CASE("retry delays never pass the cap, however many attempts failed", "[retry_policy]") {
  const auto policy = without_jitter();
  CHECK(policy.delay_after(1, 7) == 1min);  // 64 s, capped
  CHECK(policy.delay_after(1, 100) == 1min);
  CHECK(policy.delay_after(1, 100000) == 1min);  // pow() overflows to infinity; still the cap
  CHECK(policy.delay_after(1, INT32_MAX) == 1min);
}

TEST_CASE("an attempt number below 1 is treated as the first", "[retry_policy]") {
  const auto policy = without_jitter();
  CHECK(policy.delay_after(1, 0) == 1s);
  CHECK(policy.delay_after(1, -5) == 1s);
}

TEST_CASE("jitter stays within its fraction of the delay and under the cap", "[retry_policy]") {
  errand::retry_policy policy;
  policy.base = 10s;
  policy.multiplier = 2.0;
  policy.cap = 100s;
  policy.jitter = 0.25;
  for (std::int64_t job = 1; job <= 200; ++job) {
    for (std::int32_t attempt = 1; attempt <= 6; ++attempt) {
      const auto plain = std::min(100s * 1.0, 10s * std::pow(2.0, attempt - 1));
      const auto delay = policy.delay_after(job, attempt);
      INFO("job " << job << ", attempt " << attempt << ": " << delay.count() << " us");
      CHECK(delay >= std::chrono::duration_cast<errand::duration>(plain * 0.75));
      CHECK(delay <= std::chrono::duration_cast<errand::duration>(plain * 1.25));
      CHECK(delay <= policy.cap);
    }
  }
}

TEST_CASE("jitter spreads a burst of failures over the whole band", "[retry_policy]") {
  errand::retry_policy policy;
  policy.base = 10s;
  policy.jitter = 0.5;
  errand::duration shortest = errand::duration::max(), longest = errand::duration::min();
  std::set<errand::duration::rep> distinct;
  for (std::int64_t job = 1; job <= 1000; ++job) {
    const auto delay = policy.delay_after(job, 1);
    shortest = std::min(shortest, delay);
    longest = std::max(longest, delay);
    distinct.insert(delay.count());
  }
  CHECK(distinct.size() > 990);  // different jobs come back at different times
  CHECK(shortest < 6s);          // the band is 5 s to 15 s, and it is used
  CHECK(longest > 14s);
}

TEST_CASE("the same seed, job and attempt give the same delay; another seed another", "[retry_policy]") {
  errand::retry_policy policy;
  policy.seed = 42;
  auto same = policy;
  auto other = policy;
  other.seed = 43;
  int differing = 0;
  for (std::int64_t job = 1; job <= 100; ++job) {
    CHECK(policy.delay_after(job, 2) == same.delay_after(job, 2));
    differing += policy.delay_after(job, 2) != other.delay_after(job, 2);
  }
  CHECK(differing > 95);
  CHECK(policy.delay_after(1, 3) != 2 * policy.delay_after(1, 2));  // each attempt draws its own jitter
}

TEST_CASE("jitter above 1 is taken as 1, so no delay is negative", "[retry_policy]") {
  errand::retry_policy policy;
  policy.jitter = 5.0;
  for (std::int64_t job = 1; job <= 500; ++job) CHECK(policy.delay_after(job, 1) >= 0s);
}

TEST_CASE("retry_policy::immediate retries at once", "[retry_policy]") {
  const auto policy = errand::retry_policy::immediate();
  for (std::int32_t attempt = 1; attempt <= 5; ++attempt) CHECK(policy.delay_after(3, attempt) == 0s);
}

TEST_CASE("decide schedules a retryable failure at now plus the policy's delay", "[retry_policy][decide]") {
  errand::retry_policy policy;
  policy.seed = 9;
  auto row = new_job(5);
  step(row, errand::claim{"w1"}, policy, t0);
  step(row, errand::fail{1, "w1", {"throttled"}}, policy, t0 + 3s);
  CHECK(row.state == job_state::retry_pending);
  CHECK(row.run_at == t0 + 3s + policy.delay_after(7, 1));

  step(row, errand::claim{"w1"}, policy, row.run_at);
  const auto failed_at = row.run_at + 1s;
  step(row, errand::lease_expired{2, "lease expired"}, policy, failed_at + 30s);
  CHECK(row.run_at == failed_at + 30s + policy.delay_after(7, 2));
}

TEST_CASE("max_attempts is honoured: the last allowed attempt's failure is final", "[retry_policy][decide]") {
  const auto policy = errand::retry_policy::immediate();
  auto row = new_job(3);
  claim_and_fail(row, policy);
  CHECK(row.state == job_state::retry_pending);
  claim_and_fail(row, policy);
  CHECK(row.state == job_state::retry_pending);
  claim_and_fail(row, policy);
  CHECK(row.state == job_state::failed);
  CHECK(row.attempt == 3);
  CHECK(row.last_error == "boom");
}

TEST_CASE("a job allowed one attempt fails on its first failure", "[retry_policy][decide]") {
  auto row = new_job(1);
  claim_and_fail(row, errand::retry_policy::immediate());
  CHECK(row.state == job_state::failed);
}

TEST_CASE("a non-retryable error goes straight to failed, attempts left or not", "[retry_policy][decide]") {
  auto row = new_job(10);
  claim_and_fail(row, errand::retry_policy::immediate(), false);
  CHECK(row.state == job_state::failed);
  CHECK(row.attempt == 1);
  CHECK(row.last_error == "boom");
}

TEST_CASE("requeue grants extra attempts beyond the ones used", "[retry_policy][decide]") {
  const auto policy = errand::retry_policy::immediate();
  auto row = new_job(2);
  claim_and_fail(row, policy);
  claim_and_fail(row, policy);
  REQUIRE(row.state == job_state::failed);

  SECTION("two more") {
    step(row, errand::requeue{"retry after the outage", 2}, policy, t0 + 1h);
    CHECK(row.max_attempts == 4);
    claim_and_fail(row, policy);
    CHECK(row.state == job_state::retry_pending);
    claim_and_fail(row, policy);
    CHECK(row.state == job_state::failed);
    CHECK(row.attempt == 4);
  }
  SECTION("as many as an int32 counts, without overflowing") {
    step(row, errand::requeue{std::nullopt, std::numeric_limits<std::int32_t>::max()}, policy, t0 + 1h);
    CHECK(row.max_attempts == std::numeric_limits<std::int32_t>::max());
    claim_and_fail(row, policy);
    CHECK(row.state == job_state::retry_pending);
  }
  SECTION("zero or fewer extra attempts still grant one") {
    step(row, errand::requeue{std::nullopt, GENERATE(0, -3)}, policy, t0 + 1h);
    CHECK(row.max_attempts == 3);
    claim_and_fail(row, policy);
    CHECK(row.state == job_state::failed);
  }
}

TEST_CASE("requeue of a job that failed early keeps the attempts it still had", "[retry_policy][decide]") {
  const auto policy = errand::retry_policy::immediate();
  auto row = new_job(5);
  claim_and_fail(row, policy, false);
  REQUIRE(row.state == job_state::failed);
  step(row, errand::requeue{}, policy, t0 + 1h);
  CHECK(row.max_attempts == 5);  // max(5, 1 + 1)
  CHECK(row.state == job_state::pending);
  CHECK(row.run_at == t0 + 1h);
}

TEST_CASE("a delay of any size or a policy that is NaN gives a delay, never an overflow", "[retry_policy]") {
  errand::retry_policy for_ever = without_jitter();
  for_ever.base = errand::duration::max();
  for_ever.cap = errand::duration::max();
  CHECK(for_ever.delay_after(7, 1) == errand::duration::max());  // a double would round it up past the maximum
  CHECK(for_ever.delay_after(7, 60) == errand::duration::max());
  for_ever.jitter = 0.5;
  CHECK(for_ever.delay_after(7, 3) <= errand::duration::max());

  errand::retry_policy not_a_number = without_jitter();
  not_a_number.multiplier = std::nan("");
  CHECK(not_a_number.delay_after(7, 2) == 0s);
  not_a_number = without_jitter();
  not_a_number.jitter = std::nan("");
  CHECK(not_a_number.delay_after(7, 2) == 0s);
  errand::retry_policy negative_cap = without_jitter();
  negative_cap.cap = -1s;
  CHECK(negative_cap.delay_after(7, 2) == 0s);
}

TEST_CASE("decide holds a retry and a lease of duration::max() at the latest storable time", "[retry_policy][decide]") {
  errand::retry_policy for_ever = without_jitter();
  for_ever.base = errand::duration::max();
  for_ever.cap = errand::duration::max();
  auto row = new_job(5);
  step(row, errand::claim{"w1", errand::duration::max()}, for_ever, t0);
  CHECK(row.lease_until == errand::latest_time);
  step(row, errand::fail{1, "w1", {"throttled"}}, for_ever, t0 + 3s);
  CHECK(row.state == job_state::retry_pending);
  CHECK(row.run_at == errand::latest_time);
}
