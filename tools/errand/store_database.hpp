#pragma once
// database over any errand store: every read is the store's, every write a
// report() with the job lifecycle's decide(). A backend adds how it opens
// and how it follows other processes' transitions.

#include "database.hpp"
#include <errand/report.hpp>
#include <errand/retry_policy.hpp>
#include <errand/queue_settings.hpp>
#include <errand/store.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace errand_tool {

template <class Store>
  requires errand::operator_store<Store> && errand::queue_controls<Store>
class store_database : public database {
 public:
  template <class... Args>
  explicit store_database(std::string name, Args&&... args)
      : database(std::move(name)), store_(std::forward<Args>(args)...) {}

  std::optional<errand::job> get(std::int64_t id) override { return store_.get(id); }
  std::vector<errand::job> query(const errand::job_query& q) override { return store_.query(q); }
  std::vector<errand::history_record> history(std::int64_t id) override { return store_.history(id); }
  std::vector<errand::error_group> error_groups(const errand::error_group_query& q) override {
    return store_.error_groups(q);
  }
  std::vector<errand::queue_summary> summarize(const errand::summary_request& r) override {
    return store_.summarize(r);
  }
  errand::prune_result prune(const errand::prune_request& r) override { return store_.prune(r); }

  // Requeue and cancel do not read the retry policy: only failures schedule retries.
  errand::report_result report(std::int64_t id, const errand::requeue& e, errand::time_point now) override {
    return errand::report(store_, id, e, errand::retry_policy{}, now);
  }
  errand::report_result report(std::int64_t id, const errand::cancel& e, errand::time_point now) override {
    return errand::report(store_, id, e, errand::retry_policy{}, now);
  }

  std::vector<errand::queue_setting> queue_settings() override { return store_.queue_settings(); }
  errand::queue_setting pause_queue(const std::string& queue, errand::time_point now) override {
    return store_.pause_queue(queue, now);
  }
  errand::queue_setting resume_queue(const std::string& queue, errand::time_point now) override {
    return store_.resume_queue(queue, now);
  }
  errand::queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running,
                                        errand::time_point now) override {
    return store_.set_queue_limit(queue, max_running, now);
  }

 protected:
  Store& store() { return store_; }

 private:
  Store store_;
};

}  // namespace errand_tool
