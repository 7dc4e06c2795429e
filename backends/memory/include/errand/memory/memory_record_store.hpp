#pragma once
// The in-memory record store: any record definition (errand/record.hpp), with
// the semantics of the database backends and no I/O, for unit tests. One
// mutex; listeners are called after the write, outside it.

#include <errand/detail/listeners.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
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
      if (rows_.contains(id))
        throw store_error("errand: " + std::string(record_traits<D>::table) + " record " + std::to_string(id) +
                          " exists already; nothing was written");
      next_id_ = std::max(next_id_, id + 1);
      rows_.emplace(id, fresh);
      committed = {fresh, append(creation_entry<D>(fresh, now))};
    }
    listeners_.notify(committed);
    return fresh;
  }

  std::optional<row_type> get(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto found = rows_.find(id);
    if (found == rows_.end()) return std::nullopt;
    return found->second;
  }

  template <class Event>
  fire_result<D> fire(std::int64_t id, const Event& event, time_point now, const fire_options& options = {}) {
    validate(options);
    fire_result<D> result;
    {
      std::scoped_lock lock(mutex_);
      const auto found = rows_.find(id);
      if (found == rows_.end()) return record_not_found<D>(id);
      row_type& current = found->second;
      if (options.idempotency_key)
        for (const auto& earlier : history_[id])
          if (earlier.idempotency_key == options.idempotency_key)
            return {fire_status::duplicate, current, earlier, {}};
      if (options.expected_version && *options.expected_version != record_traits<D>::version(current))
        return version_conflict<D>(current, *options.expected_version);
      auto written = step<D>(current, event, now, options);
      if (!written.applied()) return rejected<D>(current, written);
      current = written.next;
      result = {fire_status::applied, current, append(std::move(written.entry)), {}};
    }
    listeners_.notify({*result.row, *result.entry});
    return result;
  }

  std::vector<row_type> query(const record_query<D>& query) const {
    validate(query);
    std::vector<row_type> page;
    std::scoped_lock lock(mutex_);
    for (auto it = rows_.upper_bound(query.after_id); it != rows_.end() && page.size() < query.limit; ++it)
      if (matches(it->second, query)) page.push_back(it->second);
    return page;
  }

  std::vector<entry_type> history(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    const auto found = history_.find(id);
    return found == history_.end() ? std::vector<entry_type>{} : found->second;
  }

  record_prune_result prune(const record_prune<D>& request) {
    validate(request);
    record_prune_result result;
    std::scoped_lock lock(mutex_);
    if (request.unchanged_since)
      for (auto it = rows_.begin(); it != rows_.end();) {
        auto& entries = history_[it->first];
        const bool old = entries.empty() || entries.back().at < *request.unchanged_since;
        if (old && prunable(record_traits<D>::state(it->second), request)) {
          result.history_deleted += static_cast<std::int64_t>(entries.size());
          ++result.records_deleted;
          history_.erase(it->first);
          it = rows_.erase(it);
        } else
          ++it;
      }
    if (request.keep_history)
      for (auto& [id, entries] : history_)
        if (entries.size() > *request.keep_history) {
          const auto excess = entries.size() - *request.keep_history;
          result.history_deleted += static_cast<std::int64_t>(excess);
          entries.erase(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(excess));
        }
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

  entry_type append(entry_type entry) {
    auto& entries = history_[entry.record_id];
    entry.seq = entries.empty() ? 1 : entries.back().seq + 1;
    entries.push_back(entry);
    return entry;
  }

  mutable std::mutex mutex_;
  std::map<std::int64_t, row_type> rows_;
  std::map<std::int64_t, std::vector<entry_type>> history_;
  std::int64_t next_id_ = 1;
  detail::listener_set<record_notification<D>> listeners_;
};

}  // namespace errand
