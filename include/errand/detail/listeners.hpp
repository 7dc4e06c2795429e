#pragma once
// The in-process listener registry every backend uses for after-commit
// notifications. A listener may unsubscribe, or subscribe another, from inside
// its own call: notify() works on a snapshot.

#include <errand/subscription.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace errand::detail {

template <class Notification>
class listener_set {
 public:
  using listener = std::function<void(const Notification&)>;

  subscription add(listener on_commit) {
    std::scoped_lock lock(state_->mutex);
    const auto key = state_->next_key++;
    state_->entries.emplace(key, std::make_shared<listener>(std::move(on_commit)));
    return subscription([weak = std::weak_ptr<shared>(state_), key] {
      if (const auto state = weak.lock()) {
        std::scoped_lock lock(state->mutex);
        state->entries.erase(key);
      }
    });
  }

  // Lets a store skip building a notification nobody will read.
  bool empty() const {
    std::scoped_lock lock(state_->mutex);
    return state_->entries.empty();
  }

  void notify(const Notification& n) const {
    std::map<std::uint64_t, std::shared_ptr<listener>> snapshot;
    {
      std::scoped_lock lock(state_->mutex);
      if (state_->entries.empty()) return;
      snapshot = state_->entries;
    }
    for (const auto& [key, call] : snapshot) (*call)(n);
  }

 private:
  struct shared {
    std::mutex mutex;
    std::uint64_t next_key = 0;
    std::map<std::uint64_t, std::shared_ptr<listener>> entries;
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

using listeners = listener_set<notification>;

}  // namespace errand::detail
