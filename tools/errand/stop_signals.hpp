#pragma once
// Ctrl-C (SIGINT) and SIGTERM end `errand tail` and `errand serve` cleanly:
// the signals are blocked in every thread and taken by sigtimedwait() on the
// thread that waits, so no handler runs in an arbitrary thread.

#include <signal.h>

#include <chrono>
#include <ctime>

namespace errand_tool {

class stop_signals {
 public:
  // Construct before starting any thread: threads inherit the blocked set.
  stop_signals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
  }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;
  ~stop_signals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

  // Returns when a stop signal arrives (true) or `done()` holds (false),
  // looking at done() every `every`.
  template <class Done>
  bool wait(Done&& done, std::chrono::milliseconds every = std::chrono::milliseconds{100}) {
    const timespec pause{static_cast<std::time_t>(every.count() / 1000),
                         static_cast<long>(every.count() % 1000) * 1000000};
    while (!done())
      if (sigtimedwait(&signals_, nullptr, &pause) > 0) return true;
    return false;
  }

 private:
  sigset_t signals_{};
  sigset_t previous_{};
};

}  // namespace errand_tool
