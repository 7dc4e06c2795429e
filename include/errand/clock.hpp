#pragma once
// Time is injected: production code reads the system clock, tests move a
// manual clock by hand and never sleep.

#include <errand/time.hpp>

#include <atomic>
#include <chrono>

namespace errand {

class clock {
 public:
  virtual ~clock() = default;
  virtual time_point now() const = 0;
};

class system_clock final : public clock {
 public:
  time_point now() const override {
    return std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
  }
};

// Starts where you put it and moves only when told; safe to read from any thread.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds{1'767'225'600}})  // 2026-01-01T00:00:00Z
      : micros_{start.time_since_epoch().count()} {}

  time_point now() const override { return time_point{duration{micros_.load()}}; }
  void set(time_point t) { micros_.store(t.time_since_epoch().count()); }
  void advance(duration by) { micros_.fetch_add(by.count()); }

 private:
  std::atomic<duration::rep> micros_;
};

}  // namespace errand
