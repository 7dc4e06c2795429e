// subscription.hpp over the registry every store uses (detail/listeners.hpp):
// once a subscription is reset, its listener is not running on another thread
// and is never called again, so a listener may use what its owner destroys
// next. Threads meet at latches; no test depends on how fast a thread runs.
#include "errand_catch.hpp"
#include <errand/detail/listeners.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace {

using listeners = errand::detail::listener_set<int>;

}  // namespace

TEST_CASE("subscription: a listener is not called once reset, even by a notify already under way",
          "[subscription]") {
  listeners set;
  std::latch inside(1);
  std::latch release(1);
  auto blocking = set.add([&](int) {
    inside.count_down();
    release.wait();
  });
  std::atomic<int> later_calls = 0;
  auto later = set.add([&](int) { ++later_calls; });

  std::thread writer([&] { set.notify(1); });  // its snapshot holds both listeners
  inside.wait();
  later.reset();
  release.count_down();
  writer.join();

  CHECK(later_calls == 0);
  set.notify(2);
  CHECK(later_calls == 0);
}

TEST_CASE("subscription: resetting waits for the listener's call on another thread to end", "[subscription]") {
  listeners set;
  std::latch inside(1);
  std::latch release(1);
  std::atomic<bool> reset_returned = false;
  std::atomic<bool> call_ended_before_reset = false;
  auto subscription = set.add([&](int) {
    inside.count_down();
    release.wait();
    call_ended_before_reset = !reset_returned;
  });

  std::thread writer([&] { set.notify(1); });
  inside.wait();
  auto resetting = std::async(std::launch::async, [&] {
    subscription.reset();
    reset_returned = true;
  });
  // A reset that did not wait would return while the listener is held here.
  static_cast<void>(resetting.wait_for(50ms));
  release.count_down();
  writer.join();
  resetting.get();

  CHECK(call_ended_before_reset);
  CHECK(reset_returned);
}

TEST_CASE("subscription: a listener may reset its own subscription from inside its call", "[subscription]") {
  listeners set;
  int calls = 0;
  errand::subscription subscription;
  subscription = set.add([&](int) {
    ++calls;
    subscription.reset();
  });
  set.notify(1);
  set.notify(2);
  CHECK(calls == 1);
  CHECK(set.empty());
}

TEST_CASE("subscription: a listener re-entered by a nested notify may reset itself", "[subscription]") {
  listeners set;
  int calls = 0;
  errand::subscription subscription;
  subscription = set.add([&](int depth) {
    ++calls;
    if (depth == 0) set.notify(1);
    else subscription.reset();
  });
  set.notify(0);
  set.notify(0);
  CHECK(calls == 2);
}

TEST_CASE("subscription: a listener that throws can still be reset", "[subscription]") {
  listeners set;
  int calls = 0;
  auto subscription = set.add([&](int) {
    ++calls;
    throw std::runtime_error("listener failed");
  });
  CHECK_THROWS_WITH(set.notify(1), "listener failed");
  subscription.reset();
  set.notify(2);
  CHECK(calls == 1);
}

TEST_CASE("subscription: a subscription may outlive the set it came from", "[subscription]") {
  errand::subscription subscription;
  {
    listeners set;
    subscription = set.add([](int) { FAIL("nothing notifies a set that is gone"); });
  }
  subscription.reset();
  SUCCEED("reset after the set was destroyed returns");
}

TEST_CASE("subscription: a listener holding its own subscription goes with its set", "[subscription]") {
  auto kept_by_listener = std::make_shared<int>(0);
  const std::weak_ptr<int> watched = kept_by_listener;
  {
    listeners set;
    auto own = std::make_shared<errand::subscription>();
    *own = set.add([own, kept_by_listener](int) {});
    kept_by_listener.reset();
    own.reset();
    CHECK_FALSE(watched.expired());  // the set holds the listener
  }
  CHECK(watched.expired());
}
