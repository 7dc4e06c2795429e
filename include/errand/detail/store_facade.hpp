#pragma once
// The public face of a backend's store. A backend writes its store as an
// engine class (the SQL, the connection, the locking) and derives the public
// class from store_facade<engine>, which holds the engine behind a pointer
// and forwards the operations of store, operator_store (store.hpp) and
// queue_controls (queue_settings.hpp) to it.
// A translation unit that only calls a store thus needs the engine's name,
// not its code: with ERRAND_SEPARATE_COMPILATION (config.hpp) the backend's
// header declares store_facade<engine> extern and its src.hpp instantiates it
// once, beside the engine. Without it, the engine follows in the same header
// and every translation unit instantiates what it calls, as for any template.

#include <errand/queue_settings.hpp>
#include <errand/store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace errand::detail {

template <class Engine>
class store_facade {
 public:
  store_facade(const store_facade&) = delete;
  store_facade& operator=(const store_facade&) = delete;

  enqueued enqueue(const job_spec& spec, time_point now);
  std::vector<enqueued> enqueue_batch(std::span<const job_spec> specs, time_point now);
  std::optional<job> get(std::int64_t id) const;
  write_result apply(const decision& d);
  std::vector<write_result> apply_batch(std::span<const decision> decisions);
  std::optional<job> claim(const claim_request& request);
  std::vector<job> claim_batch(const claim_request& request, std::size_t limit);
  std::vector<job> expired_leases(time_point now, std::size_t limit) const;
  std::vector<job> query(const job_query& q) const;
  std::vector<history_record> history(std::int64_t id) const;
  std::optional<outcome> latest_outcome(std::int64_t id) const;
  state_counts count_by_state() const;
  prune_result prune(const prune_request& request);
  subscription subscribe(listener on_commit);

  // What an operator asks (operator_store).
  std::vector<queue_summary> summarize(const summary_request& request) const;
  std::vector<error_group> error_groups(const error_group_query& q) const;

  // Pausing and limiting queues (queue_controls).
  queue_setting pause_queue(const std::string& queue, time_point now);
  queue_setting resume_queue(const std::string& queue, time_point now);
  queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running, time_point now);
  std::vector<queue_setting> queue_settings() const;

  // Waking idle workers (announces_work_stoppably, knows_next_due): take an
  // epoch before claiming, and when the claim comes back empty,
  // wait_for_work(epoch, timeout) returns true as soon as work may have
  // arrived since, false after `timeout` or once `stop` is requested; which
  // writes count, and from which processes, is the backend's to say (its
  // header). next_run_at(after) is the earliest run_at after `after` of a job
  // waiting to be claimed.
  std::uint64_t work_epoch();
  bool wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop = {});
  std::optional<time_point> next_run_at(time_point after) const;

 protected:
  explicit store_facade(std::unique_ptr<Engine> engine);
  ~store_facade();

  Engine& engine() const noexcept { return *engine_; }

 private:
  std::unique_ptr<Engine> engine_;
};

// Out of the class, so that an extern declaration of store_facade<Engine>
// keeps them out of every translation unit but the one instantiating it.

template <class Engine>
store_facade<Engine>::store_facade(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}

template <class Engine>
store_facade<Engine>::~store_facade() = default;

template <class Engine>
enqueued store_facade<Engine>::enqueue(const job_spec& spec, time_point now) {
  return engine_->enqueue(spec, now);
}

template <class Engine>
std::vector<enqueued> store_facade<Engine>::enqueue_batch(std::span<const job_spec> specs, time_point now) {
  return engine_->enqueue_batch(specs, now);
}

template <class Engine>
std::optional<job> store_facade<Engine>::get(std::int64_t id) const {
  return engine_->get(id);
}

template <class Engine>
write_result store_facade<Engine>::apply(const decision& d) {
  return engine_->apply(d);
}

template <class Engine>
std::vector<write_result> store_facade<Engine>::apply_batch(std::span<const decision> decisions) {
  return engine_->apply_batch(decisions);
}

template <class Engine>
std::optional<job> store_facade<Engine>::claim(const claim_request& request) {
  return engine_->claim(request);
}

template <class Engine>
std::vector<job> store_facade<Engine>::claim_batch(const claim_request& request, std::size_t limit) {
  return engine_->claim_batch(request, limit);
}

template <class Engine>
std::vector<job> store_facade<Engine>::expired_leases(time_point now, std::size_t limit) const {
  return engine_->expired_leases(now, limit);
}

template <class Engine>
std::vector<job> store_facade<Engine>::query(const job_query& q) const {
  return engine_->query(q);
}

template <class Engine>
std::vector<history_record> store_facade<Engine>::history(std::int64_t id) const {
  return engine_->history(id);
}

template <class Engine>
std::optional<outcome> store_facade<Engine>::latest_outcome(std::int64_t id) const {
  return engine_->latest_outcome(id);
}

template <class Engine>
state_counts store_facade<Engine>::count_by_state() const {
  return engine_->count_by_state();
}

template <class Engine>
prune_result store_facade<Engine>::prune(const prune_request& request) {
  return engine_->prune(request);
}

template <class Engine>
subscription store_facade<Engine>::subscribe(listener on_commit) {
  return engine_->subscribe(std::move(on_commit));
}

template <class Engine>
std::vector<queue_summary> store_facade<Engine>::summarize(const summary_request& request) const {
  return engine_->summarize(request);
}

template <class Engine>
std::vector<error_group> store_facade<Engine>::error_groups(const error_group_query& q) const {
  return engine_->error_groups(q);
}

template <class Engine>
queue_setting store_facade<Engine>::pause_queue(const std::string& queue, time_point now) {
  return engine_->pause_queue(queue, now);
}

template <class Engine>
queue_setting store_facade<Engine>::resume_queue(const std::string& queue, time_point now) {
  return engine_->resume_queue(queue, now);
}

template <class Engine>
queue_setting store_facade<Engine>::set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running,
                                                    time_point now) {
  return engine_->set_queue_limit(queue, max_running, now);
}

template <class Engine>
std::vector<queue_setting> store_facade<Engine>::queue_settings() const {
  return engine_->queue_settings();
}

template <class Engine>
std::uint64_t store_facade<Engine>::work_epoch() {
  return engine_->work_epoch();
}

template <class Engine>
bool store_facade<Engine>::wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout,
                                         std::stop_token stop) {
  return engine_->wait_for_work(since, timeout, std::move(stop));
}

template <class Engine>
std::optional<time_point> store_facade<Engine>::next_run_at(time_point after) const {
  return engine_->next_run_at(after);
}

}  // namespace errand::detail
