#pragma once
// When a retryable failure is tried again: exponential backoff, capped, with
// jitter so that a burst of failures does not come back as a burst.

#include <errand/time.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace errand {

struct retry_policy {
  duration base = std::chrono::seconds{1};   // delay after the first failed attempt
  double multiplier = 2.0;                   // growth per further attempt
  duration cap = std::chrono::minutes{10};   // no delay is longer
  double jitter = 0.2;                       // ± this fraction of the delay
  std::uint64_t seed = 0;                    // same seed, job and attempt: same delay

  // The delay after `attempt` (1-based) of job `job_id` failed. Pure: the
  // jitter comes from a generator seeded with (seed, job, attempt), so a
  // decision can be replayed and tested exactly.
  duration delay_after(std::int64_t job_id, std::int32_t attempt) const {
    const double exponent = std::max(0, attempt - 1);
    const double raw = static_cast<double>(base.count()) * std::pow(multiplier, exponent);
    const double capped = std::min(raw, static_cast<double>(cap.count()));
    const double spread = std::clamp(jitter, 0.0, 1.0) * capped;
    const double offset = (unit_interval(job_id, attempt) * 2.0 - 1.0) * spread;
    const double delay = capped + offset;
    if (!(delay > 0.0)) return duration::zero();  // NaN too, from a multiplier or a jitter that is NaN
    if (delay >= static_cast<double>(cap.count())) return cap;  // exact, where a double would round up past it
    return duration{static_cast<duration::rep>(delay)};
  }

  static retry_policy immediate() { return {duration::zero(), 1.0, duration::zero(), 0.0, 0}; }

 private:
  // splitmix64: tiny, stateless and well mixed; good enough to spread retries.
  double unit_interval(std::int64_t job_id, std::int32_t attempt) const {
    std::uint64_t x = seed ^ (static_cast<std::uint64_t>(job_id) * 0x9E3779B97F4A7C15ull) ^
                      (static_cast<std::uint64_t>(attempt) << 32);
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return static_cast<double>(x >> 11) * 0x1.0p-53;
  }
};

}  // namespace errand
