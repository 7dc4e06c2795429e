#pragma once
// The in-memory record store: any record definition (errand/record.hpp), with
// the semantics of the database backends and no I/O, for unit tests. One
// mutex; listeners are called after the write, outside it. Its rows and their
// history are a record_table, as the job queue's memory_store keeps its jobs.

#include <errand/detail/listeners.hpp>
#include <errand/memory/detail/record_table.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace errand {

template <record_definition D>
class memory_record_store {
 public:
  using definition = D;
  using row_type = typename D::row;
  using state_type = typename D::machine::state_type;
  using entry_type = history_entry<state_type>;

  row_type create(const row_type& row, time_point now) {
    auto fresh = new_record<D>(row);
    record_notification<D> committed;
    {
      std::scoped_lock lock(mutex_);
      auto& id = fresh.*(D::id);
      if (id == 0) id = next_id_;
      if (table_.find(id))
        throw store_error("errand: " + std::string(record_traits<D>::table) + " record " + std::to_string(id) +
                          " exists already; nothing was written");
      next_id_ = std::max(next_id_, id + 1);
      committed = {fresh, table_.append(table_.insert(fresh), creation_entry<D>(fresh, now))};
    }
    listeners_.notify(committed);
    return fresh;
  }

  std::optional<row_type> get(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto* found = table_.find(id);
    if (!found) return std::nullopt;
    return found->row;
  }

  template <class Event>
  fire_result<D> fire(std::int64_t id, const Event& event, time_point now, const fire_options& options = {}) {
    validate(options);
    fire_result<D> result;
    {
      std::scoped_lock lock(mutex_);
      const auto* found = table_.find(id);
      if (!found) return record_not_found<D>(id);
      const row_type& current = found->row;
      if (options.idempotency_key)
        for (const auto& earlier : found->history)
          if (earlier.idempotency_key == options.idempotency_key)
            return {fire_status::duplicate, current, earlier, {}};
      if (options.expected_version && *options.expected_version != record_traits<D>::version(current))
        return version_conflict<D>(current, *options.expected_version);
      auto taken = step<D>(current, event, now, options);
      if (!taken.applied()) return rejected<D>(current, taken);
      auto written = table_.compare_and_set(id, record_traits<D>::version(current), taken.next, std::move(taken.entry));
      result = {fire_status::applied, std::move(taken.next), *written.entry, {}};
    }
    listeners_.notify({*result.row, *result.entry});
    return result;
  }

  std::vector<row_type> query(const record_query<D>& query) const {
    validate(query);
    std::vector<row_type> page;
    std::scoped_lock lock(mutex_);
    const auto& rows = table_.rows();
    for (auto it = rows.upper_bound(query.after_id); it != rows.end() && page.size() < query.limit; ++it)
      if (matches(it->second.row, query)) page.push_back(it->second.row);
    return page;
  }

  std::vector<entry_type> history(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto* found = table_.find(id);
    return found ? found->history : std::vector<entry_type>{};
  }

  record_prune_result prune(const record_prune<D>& request) {
    validate(request);
    record_prune_result result;
    std::scoped_lock lock(mutex_);
    auto& rows = table_.rows();
    if (request.unchanged_since)
      for (auto it = rows.begin(); it != rows.end();) {
        const auto& entries = it->second.history;
        const bool old = entries.empty() || entries.back().at < *request.unchanged_since;
        if (old && prunable(record_traits<D>::state(it->second.row), request)) {
          result.history_deleted += static_cast<std::int64_t>(entries.size());
          ++result.records_deleted;
          it = rows.erase(it);
        } else
          ++it;
      }
    if (request.keep_history) result.history_deleted += table_.trim_history(*request.keep_history);
    return result;
  }

  subscription subscribe(record_listener<D> on_commit) { return listeners_.add(std::move(on_commit)); }

 private:
  static bool prunable(state_type state, const record_prune<D>& request) {
    if (request.states.empty()) return D::machine::is_terminal(state);
    return std::find(request.states.begin(), request.states.end(), state) != request.states.end();
  }

  static bool matches(const row_type& row, const record_query<D>& query) {
    if (query.state && record_traits<D>::state(row) != *query.state) return false;
    return std::all_of(query.filters.begin(), query.filters.end(), [&](const record_filter& filter) {
      bool equal = false;
      boost::mp11::mp_for_each<detail::public_members<row_type>>([&](auto member) {
        if (member.name == filter.field) equal = to_column_value(row.*member.pointer) == filter.value;
      });
      return equal;
    });
  }

  mutable std::mutex mutex_;
  detail::memory::record_table<D, entry_type> table_;
  std::int64_t next_id_ = 1;
  detail::listener_set<record_notification<D>> listeners_;
};

}  // namespace errand
