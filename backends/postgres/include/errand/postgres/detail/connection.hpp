#pragma once
// The connections of one store (a postgres_store, a postgres_record_store),
// as SQLite's detail/connection.hpp is its connection; every libpqxx call
// they make is in pqxx.hpp, the one place that knows libpqxx's versions.
//
// A thread borrows a connection for the length of an operation; at most
// `max` are open, and a thread that finds them all busy waits. A connection
// that broke is never handed out again, and since a broken connection
// usually means the server restarted or a network path failed, the idle ones
// are dropped with it: the next operations open fresh connections, trying
// `attempts` times with a doubling pause.

#include <errand/postgres/detail/pqxx.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// What a broken connection means for the operation that found it: a write
// fails (nothing of it was written, and it is not repeated behind the
// caller's back); a read, which cannot have changed anything, is run once
// more on a fresh connection.
enum class on_broken { fail, retry_once };

// "postgresql://user:secret@host/db" and "password=secret" with the secret
// replaced, for error messages.
inline std::string redacted(std::string url) {
  if (const auto scheme = url.find("://"); scheme != std::string::npos) {
    const auto at = url.find('@', scheme);
    const auto colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      url.replace(colon + 1, at - colon - 1, "***");
  }
  for (auto at = url.find("password="); at != std::string::npos; at = url.find("password=", at + 1)) {
    const auto start = at + 9;
    auto end = url.find_first_of(" &", start);
    if (end == std::string::npos) end = url.size();
    url.replace(start, end - start, "***");
  }
  return url;
}

class connection_pool {
 public:
  struct settings {
    std::string url;
    std::size_t max = 8;
    int attempts = 3;
    std::chrono::milliseconds backoff{100};
    std::function<void(connection&)> on_open;  // prepares the statements
  };

  explicit connection_pool(settings s) : settings_(std::move(s)) {
    settings_.max = std::max<std::size_t>(1, settings_.max);
    settings_.attempts = std::max(1, settings_.attempts);
  }

  // A borrowed connection, returned to the pool when it goes out of scope
  // unless it was found broken.
  class lease {
   public:
    lease(connection_pool& pool, std::unique_ptr<connection> c) : pool_(&pool), connection_(std::move(c)) {}
    lease(lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    lease& operator=(lease&&) = delete;
    ~lease() {
      if (pool_) pool_->give_back(std::move(connection_));
    }
    connection& operator*() const { return *connection_; }
    connection* operator->() const { return connection_.get(); }

    // The connection broke (or its last commit is in doubt): close it
    // instead of returning it.
    void discard() { connection_.reset(); }

   private:
    connection_pool* pool_;
    std::unique_ptr<connection> connection_;
  };

  lease acquire() {
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [&] { return !idle_.empty() || open_ < settings_.max; });
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return lease(*this, std::move(c));
      }
      ++open_;  // reserved while connecting, outside the lock
    }
    try {
      return lease(*this, open_connection());
    } catch (...) {
      std::scoped_lock lock(mutex_);
      --open_;
      available_.notify_one();
      throw;
    }
  }

  // Opens a connection outside the pool (for a listener or a migration),
  // with the same retries. A refusal that no retry can change (a wrong
  // role, password or database) fails at once, as postgres_login_error.
  std::unique_ptr<connection> open_connection(bool prepare = true) const {
    auto pause = settings_.backoff;
    for (int attempt = 1;; ++attempt) {
      std::string why;
      try {
        auto c = std::make_unique<connection>(settings_.url);
        if (prepare && settings_.on_open) settings_.on_open(*c);
        return c;
      } catch (const connect_failure& e) {
        if (e.for_good)
          throw postgres_login_error(concat("errand: PostgreSQL at '", redacted(settings_.url),
                                            "' refused the connection (trying again will not help): ", e.server_says));
        why = e.server_says;
      } catch (const connection_lost& e) {
        why = e.what();
      }
      if (attempt >= settings_.attempts)
        throw connection_lost(concat("errand: cannot reach PostgreSQL at '", redacted(settings_.url), "' after ",
                                     std::to_string(attempt), attempt == 1 ? " attempt: " : " attempts: ", why));
      std::this_thread::sleep_for(pause);
      pause *= 2;
    }
  }

  const std::string& url() const { return settings_.url; }

  // Runs body(connection&) on a pooled connection. A connection that broke is
  // dropped and the error reaches the caller unless `broken` says otherwise.
  // A transaction the server rolled back to break a deadlock is run again.
  template <class Body>
  std::invoke_result_t<Body, connection&> run(Body&& body, on_broken broken = on_broken::fail) {
    constexpr int rollback_retries = 5;
    int rolled_back = 0;
    bool reconnected = false;
    for (;;) {
      auto c = acquire();
      try {
        return body(*c);
      } catch (const connection_lost&) {
        c.discard();
        if (broken == on_broken::fail || reconnected) throw;
        reconnected = true;
      } catch (const transaction_aborted& e) {
        if (++rolled_back >= rollback_retries) throw postgres_statement_error(e.what(), e.sqlstate);
      }
    }
  }

 private:
  void give_back(std::unique_ptr<connection> c) {
    std::scoped_lock lock(mutex_);
    if (c && c->is_open()) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
      open_ -= idle_.size();  // the server is likely gone for them too
      idle_.clear();
    }
    available_.notify_all();
  }

  settings settings_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<connection>> idle_;
  std::size_t open_ = 0;  // idle + lent + being opened
};

}  // namespace errand::detail::pg
