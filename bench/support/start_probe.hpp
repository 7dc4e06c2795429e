#pragma once
// Enqueue-to-handler latency: a started, idle runner whose handler for kind
// "ping" notes the moment it starts and the payload it was given. The payload
// carries the moment the job was sent (steady_clock, which is the system's
// monotonic clock and so the same across processes of one machine), so the
// job may come from this process or another.

#include <errand/clock.hpp>
#include <errand/runner.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace errand_bench {

using steady = std::chrono::steady_clock;

// The payload of a ping sent now.
inline std::string ping_payload() {
  return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count());
}

template <class Store>
class start_probe {
 public:
  explicit start_probe(Store& store) : runner_(store, options(), clock_) {
    runner_.handle("ping", [this](const std::string& payload, errand::job_context&) {
      const auto started = steady::now();
      const steady::time_point sent{std::chrono::nanoseconds{std::stoll(payload)}};
      {
        std::scoped_lock lock(mutex_);
        waited_ = started - sent;
      }
      started_.notify_one();
    });
    runner_.start();
  }
  ~start_probe() { runner_.stop(); }
  start_probe(const start_probe&) = delete;
  start_probe& operator=(const start_probe&) = delete;

  // Waits for the next ping's handler to start; how long after it was sent.
  std::chrono::duration<double> next() {
    std::unique_lock lock(mutex_);
    started_.wait(lock, [&] { return waited_.has_value(); });
    const std::chrono::duration<double> waited = *waited_;
    waited_.reset();
    return waited;
  }

 private:
  static errand::runner_options options() {
    errand::runner_options o;
    o.worker_id = "probe";
    o.log = [](std::string_view) {};
    return o;
  }

  errand::system_clock clock_;
  std::mutex mutex_;
  std::condition_variable started_;
  std::optional<steady::duration> waited_;
  errand::runner<Store> runner_;
};

// One sample per iteration, as the iteration's time; p50 and p99 as counters, in microseconds.
class latencies {
 public:
  void add(benchmark::State& state, std::chrono::duration<double> waited) {
    state.SetIterationTime(waited.count());
    micros_.push_back(waited.count() * 1e6);
  }

  void report(benchmark::State& state) {
    if (micros_.empty()) return;
    std::sort(micros_.begin(), micros_.end());
    const auto at = [&](double q) {
      return micros_[static_cast<std::size_t>(q * static_cast<double>(micros_.size() - 1))];
    };
    state.counters["p50_us"] = at(0.5);
    state.counters["p99_us"] = at(0.99);
  }

 private:
  std::vector<double> micros_;
};

}  // namespace errand_bench
