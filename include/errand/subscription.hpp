#pragma once
// After-commit notifications (contract 8 of docs/concepts.md): a store calls its listeners
// once a transition has committed, never before and never for a rollback.

#include <errand/job.hpp>

#include <functional>
#include <utility>

namespace errand {

struct notification {
  job row;                // the row as committed
  history_record record;  // the transition that produced it
};

using listener = std::function<void(const notification&)>;

// Keeps a listener subscribed for as long as it lives. Destroying or
// resetting it returns once the listener is not running on another thread,
// and the listener is never called again: it may use what the owner of its
// subscription destroys next. A listener may reset its own subscription; do
// not reset one while holding a lock its listener takes.
class subscription {
 public:
  subscription() = default;
  explicit subscription(std::function<void()> unsubscribe) : unsubscribe_(std::move(unsubscribe)) {}
  subscription(subscription&& other) noexcept : unsubscribe_(std::exchange(other.unsubscribe_, {})) {}
  subscription& operator=(subscription&& other) noexcept {
    if (this != &other) {
      reset();
      unsubscribe_ = std::exchange(other.unsubscribe_, {});
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { reset(); }

  void reset() {
    if (unsubscribe_) std::exchange(unsubscribe_, {})();
  }

 private:
  std::function<void()> unsubscribe_;
};

}  // namespace errand
