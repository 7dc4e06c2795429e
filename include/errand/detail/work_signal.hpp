#pragma once
// What a store that announces work (errand::announces_work) keeps: an epoch
// that moves each time work may have arrived, and a wait on it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>

namespace errand::detail {

// A real-time wait the steady clock can count: a century at most. The clock counts nanoseconds
// (292 years), which a wait "for ever" (milliseconds::max(), a poll interval of
// duration::max()) overflows into one that ends at once.
template <class Duration>
Duration waitable(Duration d) {
  return std::min(d, std::chrono::duration_cast<Duration>(std::chrono::hours{24 * 365 * 100}));
}

class work_signal {
 public:
  std::uint64_t epoch() const noexcept { return epoch_.load(); }

  void announce() {
    {
      std::scoped_lock lock(mutex_);
      ++epoch_;
    }
    moved_.notify_all();
  }

  // True as soon as the epoch is no longer `since`; false after `timeout`,
  // or as soon as `stop` is requested.
  bool wait(std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop = {}) {
    std::unique_lock lock(mutex_);
    return moved_.wait_for(lock, stop, waitable(timeout), [&] { return epoch_.load() != since; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any moved_;
  std::atomic<std::uint64_t> epoch_{0};
};

}  // namespace errand::detail
