#pragma once
// The in-process listener registry every backend uses for after-commit
// notifications. notify() calls from a snapshot of the list, so a listener may
// subscribe another, or unsubscribe, from inside its own call. Unsubscribing
// is a barrier, as std::stop_callback's destructor is: once it returns, the
// listener is not running on another thread and will never be called again,
// so a listener may use what its subscription's owner destroys next. A
// listener that unsubscribes itself, on its own thread, does not wait for
// itself.

#include <errand/subscription.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace errand::detail {

template <class Notification>
class listener_set {
 public:
  using listener = std::function<void(const Notification&)>;

  subscription add(listener on_commit) {
    const auto added = std::make_shared<entry>(std::move(on_commit));
    {
      std::scoped_lock lock(state_->mutex);
      auto next = std::make_shared<entries>(*state_->current);
      next->push_back(added);
      state_->current = std::move(next);
    }
    // Both weak: a listener may hold its own subscription without a cycle, and
    // an entry no list or snapshot holds has no call to wait for.
    return subscription([weak_state = std::weak_ptr<shared>(state_), weak_entry = std::weak_ptr<entry>(added)] {
      const auto removed = weak_entry.lock();
      if (!removed) return;
      if (const auto state = weak_state.lock()) {
        std::scoped_lock lock(state->mutex);
        auto next = std::make_shared<entries>(*state->current);
        std::erase(*next, removed);
        state->current = std::move(next);
      }
      removed->stop();
    });
  }

  // Lets a store skip building a notification nobody will read.
  bool empty() const {
    std::scoped_lock lock(state_->mutex);
    return state_->current->empty();
  }

  // Every transition calls it: it takes the current list, a pointer copy,
  // and only subscribing or unsubscribing copies the list itself.
  void notify(const Notification& n) const {
    std::shared_ptr<const entries> snapshot;
    {
      std::scoped_lock lock(state_->mutex);
      snapshot = state_->current;
    }
    for (const auto& each : *snapshot) each->call(n);
  }

 private:
  // One subscribed listener and the calls under way into it. The counter and
  // the flag are sequentially consistent: a call either sees the flag and
  // skips, or stop() sees the call and waits for it.
  class entry {
   public:
    explicit entry(listener on_commit) : on_commit_(std::move(on_commit)) {}

    void call(const Notification& n) {
      const under_way this_call(*this);
      if (this_call.entered) on_commit_(n);
    }

    // Returns once every call under way on another thread has ended.
    void stop() {
      stopped_.store(true);
      const auto& mine = calling();
      const auto own = static_cast<std::uint32_t>(std::count(mine.begin(), mine.end(), this));
      for (auto now = running_.load(); now > own; now = running_.load()) running_.wait(now);
    }

   private:
    // Counts a call from before it looks at the flag until it has ended.
    struct under_way {
      explicit under_way(entry& e) : self(e) {
        self.running_.fetch_add(1);
        entered = !self.stopped_.load();
        if (entered) calling().push_back(&self);
      }
      under_way(const under_way&) = delete;
      under_way& operator=(const under_way&) = delete;
      ~under_way() {
        if (entered) calling().pop_back();
        self.running_.fetch_sub(1);
        if (self.stopped_.load()) self.running_.notify_all();
      }
      entry& self;
      bool entered = false;
    };

    // The entries this thread is inside, innermost last: a listener that
    // unsubscribes itself, or is re-entered by a nested notify(), must not
    // wait for its own calls.
    static std::vector<const entry*>& calling() {
      thread_local std::vector<const entry*> stack;
      return stack;
    }

    listener on_commit_;
    std::atomic<std::uint32_t> running_{0};
    std::atomic<bool> stopped_{false};
  };

  using entries = std::vector<std::shared_ptr<entry>>;
  struct shared {
    std::mutex mutex;
    std::shared_ptr<const entries> current = std::make_shared<const entries>();
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

using listeners = listener_set<notification>;

}  // namespace errand::detail
