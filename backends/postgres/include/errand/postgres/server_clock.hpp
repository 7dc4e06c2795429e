#pragma once
// Time as the PostgreSQL server tells it, for workers on many machines.
//
// Every time a worker writes or compares (a job's run_at after a retry, a
// lease's end, a heartbeat, the reaper's "now") comes from the clock its
// runner is given. Workers whose clocks disagree would reap each other's live
// jobs (a clock ahead sees leases end early) or run jobs before their time.
// Give every runner on a PostgreSQL database this clock instead of the
// system's: all of them then measure against one clock, the server's.
//
// It does not ask the server on every call: it reads the server's
// clock_timestamp() every `refresh` (10 s by default), keeps the offset from
// the local clock, and adds that offset to the local clock in between. Its
// error is at most half the round trip of the last reading plus what the
// local clock drifted since, milliseconds on any network errand is run on:
// that is the tolerance, against leases and backoffs of seconds. When the
// server cannot be reached, the last offset stays in use.

#include <errand/clock.hpp>
#include <errand/postgres/postgres_store.hpp>

#include <chrono>
#include <mutex>
#include <optional>

namespace errand {

class postgres_server_clock final : public clock {
 public:
  explicit postgres_server_clock(const postgres_store& server, const clock& local = system_time(),
                                 duration refresh = std::chrono::seconds{10})
      : server_(server), local_(local), refresh_(refresh) {
    measure();
  }

  time_point now() const override {
    const time_point local = local_.now();
    std::scoped_lock lock(mutex_);
    if (local - measured_at_ >= refresh_ || local < measured_at_) measure_locked();
    return local_.now() + offset_;
  }

  // The server's clock minus the local clock, as last measured.
  duration offset() const {
    std::scoped_lock lock(mutex_);
    return offset_;
  }

 private:
  static const clock& system_time() {
    static const system_clock instance;
    return instance;
  }

  void measure() {
    std::scoped_lock lock(mutex_);
    measure_locked();
  }

  void measure_locked() const {
    const time_point sent = local_.now();
    std::optional<time_point> server;
    try {
      server = server_.server_time();
    } catch (const store_error&) {
      if (!measured_) throw;  // no offset yet: the caller must know
      measured_at_ = sent;    // keep the last offset; try again after `refresh`
      return;
    }
    const time_point received = local_.now();
    offset_ = *server - (sent + (received - sent) / 2);
    measured_at_ = received;
    measured_ = true;
  }

  const postgres_store& server_;
  const clock& local_;
  duration refresh_;
  mutable std::mutex mutex_;
  mutable duration offset_{};
  mutable time_point measured_at_{};
  mutable bool measured_ = false;
};

}  // namespace errand
