#pragma once
// The in-process listener registry every backend uses for after-commit
// notifications. A listener may unsubscribe, or subscribe another, from inside
// its own call: notify() works on a snapshot.

#include <errand/subscription.hpp>

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
    std::scoped_lock lock(state_->mutex);
    const auto key = state_->next_key++;
    auto next = std::make_shared<entries>(*state_->current);
    next->emplace_back(key, std::make_shared<listener>(std::move(on_commit)));
    state_->current = std::move(next);
    return subscription([weak = std::weak_ptr<shared>(state_), key] {
      if (const auto state = weak.lock()) {
        std::scoped_lock lock(state->mutex);
        auto next = std::make_shared<entries>(*state->current);
        std::erase_if(*next, [&](const auto& entry) { return entry.first == key; });
        state->current = std::move(next);
      }
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
    for (const auto& [key, call] : *snapshot) (*call)(n);
  }

 private:
  using entries = std::vector<std::pair<std::uint64_t, std::shared_ptr<listener>>>;
  struct shared {
    std::mutex mutex;
    std::uint64_t next_key = 0;
    std::shared_ptr<const entries> current = std::make_shared<const entries>();
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

using listeners = listener_set<notification>;

}  // namespace errand::detail
