#pragma once
// The rows of one record definition with their history, as both memory
// stores keep them: memory_record_store<D> for any machine and memory_store
// for the job queue (D = job_records). The compare-and-set and the history
// append live here once; the stores hold the lock and tell their listeners.

#include <errand/record.hpp>
#include <errand/store.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace errand::detail::memory {

template <record_definition D, class Entry>
class record_table {
 public:
  using row_type = typename D::row;

  struct stored {
    row_type row;
    std::vector<Entry> history;
    std::int64_t last_seq = 0;  // survives trimming, so a seq is never handed out twice
  };
  using rows_type = std::map<std::int64_t, stored>;

  struct written {
    write_result result = write_result::not_found;
    const Entry* entry = nullptr;  // as appended, with its seq; valid until the table changes again
  };

  // What a store that keeps indexes beside the rows does around a write: nothing.
  struct no_indexes {
    void operator()(const row_type&, const row_type&) const noexcept {}
  };

  stored* find(std::int64_t id) {
    const auto it = rows_.find(id);
    return it == rows_.end() ? nullptr : &it->second;
  }
  const stored* find(std::int64_t id) const {
    const auto it = rows_.find(id);
    return it == rows_.end() ? nullptr : &it->second;
  }

  // A new row under its own id, which must be free.
  stored& insert(row_type row) {
    const auto id = record_traits<D>::id(row);
    return rows_.emplace(id, stored{std::move(row), {}, 0}).first->second;
  }

  // Appends `entry` as the record's next seq.
  static const Entry& append(stored& record, Entry entry) {
    entry.seq = ++record.last_seq;
    return record.history.emplace_back(std::move(entry));
  }

  // Writes `next` over record `id` if it is still at version `expected`, and
  // appends `entry` when there is one. `reindex(before, after)` runs just
  // before the row changes.
  template <class Reindex = no_indexes>
  written compare_and_set(std::int64_t id, std::int64_t expected, const row_type& next, std::optional<Entry> entry,
                          Reindex&& reindex = {}) {
    stored* record = find(id);
    if (!record) return {write_result::not_found};
    if (record_traits<D>::version(record->row) != expected) return {write_result::conflict};
    reindex(record->row, next);
    record->row = next;
    if (!entry) return {write_result::applied};
    return {write_result::applied, &append(*record, std::move(*entry))};
  }

  // Keeps only each record's last `keep` entries; how many went.
  std::int64_t trim_history(std::size_t keep) {
    std::int64_t removed = 0;
    for (auto& [id, record] : rows_)
      if (record.history.size() > keep) {
        const auto excess = record.history.size() - keep;
        record.history.erase(record.history.begin(), record.history.begin() + static_cast<std::ptrdiff_t>(excess));
        removed += static_cast<std::int64_t>(excess);
      }
    return removed;
  }

  rows_type& rows() noexcept { return rows_; }
  const rows_type& rows() const noexcept { return rows_; }

 private:
  rows_type rows_;
};

}  // namespace errand::detail::memory
