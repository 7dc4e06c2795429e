#pragma once
// A thread that LISTENs on a store's channel and hands every payload to a
// callback. It has its own connection (a LISTENing session must not sit
// inside a transaction), reconnects with a doubling pause when that
// connection breaks, and stops promptly: the store NOTIFYs a channel only
// this thread listens on.
//
// LISTEN/NOTIFY is not durable: what is announced while the connection is
// being re-established is not heard. History is the record; notifications
// only say "look now".

#include <errand/detail/listeners.hpp>
#include <errand/postgres/detail/connection.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/subscription.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// A token telling one store's announcements from every other's.
inline std::string random_token() {
  std::random_device entropy;
  const std::uint64_t value = (std::uint64_t{entropy()} << 32) ^ entropy();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

class notification_thread {
 public:
  using handler = std::function<void(const std::string& payload)>;

  struct settings {
    std::string url;
    std::string channel;
    std::string wake_channel;  // NOTIFYing it makes the thread look at its stop flag
    int attempts = 3;
    std::chrono::milliseconds backoff{100};
  };

  notification_thread(settings s, handler on_payload) : settings_(std::move(s)), on_payload_(std::move(on_payload)) {}

  notification_thread(const notification_thread&) = delete;
  notification_thread& operator=(const notification_thread&) = delete;

  // Stops the thread; `wake` NOTIFYs the wake channel on another connection.
  void stop(const std::function<void()>& wake) {
    {
      std::scoped_lock lock(mutex_);
      if (!thread_.joinable()) return;
      stopping_ = true;
    }
    changed_.notify_all();
    try {
      wake();
    } catch (const std::exception&) {
      // The thread also wakes on its own every second.
    }
    thread_.join();
  }

  ~notification_thread() {
    if (thread_.joinable()) stop([] {});
  }

  // Returns once LISTEN is in effect, so nothing committed after this call
  // goes unheard. Throws store_error when the server cannot be reached.
  void start() {
    std::scoped_lock starting(start_mutex_);
    std::unique_lock lock(mutex_);
    if (state_ == state::listening) return;
    if (!thread_.joinable()) {
      state_ = state::starting;
      thread_ = std::thread([this] { run(); });
    }
    changed_.wait(lock, [&] { return state_ != state::starting; });
    if (state_ == state::failed) {
      const std::string why = failure_;
      lock.unlock();
      thread_.join();
      throw store_error(why);
    }
  }

  bool listening() const {
    std::scoped_lock lock(mutex_);
    return state_ == state::listening;
  }

 private:
  enum class state { idle, starting, listening, failed };

  std::unique_ptr<listening_connection> connect(std::vector<std::string>& received) {
    return std::make_unique<listening_connection>(
        settings_.url, std::vector<std::string>{settings_.channel, settings_.wake_channel},
        [&received, this](const std::string& channel, const std::string& payload) {
          if (channel == settings_.channel) received.push_back(payload);
        });
  }

  bool stopping() {
    std::scoped_lock lock(mutex_);
    return stopping_;
  }

  // Sleeps for `pause` unless asked to stop; says whether to go on.
  bool pause_for(std::chrono::milliseconds pause) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_for(lock, pause, [&] { return stopping_; });
  }

  void run() {
    std::vector<std::string> received;
    std::unique_ptr<listening_connection> connection;
    auto pause = settings_.backoff;
    for (int attempt = 1; !connection; ++attempt) {
      try {
        connection = connect(received);
      } catch (const store_error& e) {
        if (attempt >= std::max(1, settings_.attempts)) {
          std::scoped_lock lock(mutex_);
          state_ = state::failed;
          failure_ = std::string("errand: cannot LISTEN at '") + redacted(settings_.url) + "': " + e.what();
          changed_.notify_all();
          return;
        }
        if (!pause_for(pause)) {
          std::scoped_lock lock(mutex_);
          state_ = state::failed;
          failure_ = "errand: stopped before LISTEN took effect";
          changed_.notify_all();
          return;
        }
        pause *= 2;
      }
    }
    {
      std::scoped_lock lock(mutex_);
      state_ = state::listening;
    }
    changed_.notify_all();

    pause = settings_.backoff;
    while (!stopping()) {
      if (!connection) {
        try {
          connection = connect(received);
          pause = settings_.backoff;
        } catch (const store_error&) {
          if (!pause_for(pause)) return;
          pause = std::min(pause * 2, std::chrono::milliseconds{5000});
          continue;
        }
      }
      try {
        connection->wait(std::chrono::seconds{1});
      } catch (const store_error&) {
        connection.reset();
      }
      for (const auto& payload : received) {
        try {
          on_payload_(payload);
        } catch (...) {
          // A subscriber's exception has nowhere to go on this thread; the
          // next notification is still delivered.
        }
      }
      received.clear();
    }
  }

  settings settings_;
  handler on_payload_;
  std::mutex start_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  state state_ = state::idle;
  bool stopping_ = false;
  std::string failure_;
  std::thread thread_;
};

// How a store hears of commits. Its own reach its listeners on the
// committing thread, right after commit (the store calls notify()); those of
// other stores, other processes and application transactions arrive through
// a LISTEN thread on the store's channel, started by the first caller that
// needs it and stopped (woken on a channel only it listens on) before the
// store's connection pool goes. Every announcement a store sends carries its
// origin, a random token, so that the thread passes over the store's own.
template <class Notification>
class store_listeners {
 public:
  struct settings {
    std::string url;
    std::string channel;
    int attempts = 3;
    std::chrono::milliseconds backoff{100};
  };

  // `on_payload` is called on the LISTEN thread with every announcement.
  store_listeners(settings s, notification_thread::handler on_payload)
      : settings_(std::move(s)), on_payload_(std::move(on_payload)) {}

  const std::string& origin() const noexcept { return origin_; }

  // Starts the LISTEN thread unless it runs; returns once LISTEN is in effect.
  void listen() {
    {
      std::scoped_lock lock(mutex_);
      if (!thread_)
        thread_ = std::make_unique<notification_thread>(
            notification_thread::settings{settings_.url, settings_.channel, wake_channel(), settings_.attempts,
                                          settings_.backoff},
            on_payload_);
    }
    thread_->start();
  }

  // Listeners hear the store's commits on the committing thread, and every
  // other writer's on the LISTEN thread once they committed.
  subscription subscribe(typename listener_set<Notification>::listener on_commit) {
    listen();
    return listeners_.add(std::move(on_commit));
  }

  // Whether anyone listens: the LISTEN thread reads nothing for nobody.
  bool subscribed() const { return !listeners_.empty(); }

  void notify(const Notification& n) const { listeners_.notify(n); }

  // Wakes the thread through a connection of the store's pool.
  void stop(connection_pool& pool) {
    std::scoped_lock lock(mutex_);
    if (!thread_) return;
    thread_->stop([&] {
      const cell wake[] = {wake_channel(), ""};
      pool.run([&](connection& c) {
        c.autocommit([&](transaction& tx) { tx.exec_params("SELECT pg_notify($1::text, $2::text)", wake); });
      });
    });
  }

 private:
  std::string wake_channel() const { return "errand_wake_" + origin_; }

  settings settings_;
  notification_thread::handler on_payload_;
  std::string origin_ = random_token();
  listener_set<Notification> listeners_;
  std::mutex mutex_;
  std::unique_ptr<notification_thread> thread_;
};

}  // namespace errand::detail::pg
