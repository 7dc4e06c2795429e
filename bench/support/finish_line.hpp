#pragma once
// Counts the jobs that reached one state, for a runner's benchmark to wait on:
// the store's after-commit notifications, so a job counts once its transition
// is durable.

#include <errand/job.hpp>
#include <errand/subscription.hpp>

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace errand_bench {

class finish_line {
 public:
  template <class Store>
  explicit finish_line(Store& store, errand::job_state counted = errand::job_state::succeeded)
      : subscription_(store.subscribe([this, counted](const errand::notification& n) {
          if (n.row.state != counted) return;
          bool reached = false;
          {
            std::scoped_lock lock(mutex_);
            reached = ++finished_ == awaited_;
          }
          // Once, not per job: a waiter woken by every commit would take a
          // core from the runner it measures.
          if (reached) crossed_.notify_all();
        })) {}

  // Waits until `jobs` more jobs reached the state since the last wait.
  void wait_for(std::int64_t jobs) {
    std::unique_lock lock(mutex_);
    awaited_ = jobs;
    crossed_.wait(lock, [&] { return finished_ >= jobs; });
    finished_ -= jobs;
    awaited_ = 0;
  }

 private:
  std::mutex mutex_;
  std::condition_variable crossed_;
  std::int64_t finished_ = 0;
  std::int64_t awaited_ = 0;  // what the waiter waits for; 0 while nobody waits
  errand::subscription subscription_;
};

}  // namespace errand_bench
