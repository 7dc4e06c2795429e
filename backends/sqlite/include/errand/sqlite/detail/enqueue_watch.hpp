#pragma once
// Jobs enqueued by other processes on a database file, noticed cheaply: on a
// connection of its own, PRAGMA data_version moves whenever another
// connection commits (a read of the WAL index, no I/O), and only then is the
// largest job id read, which grows with every enqueue and with nothing else.

#include <errand/sqlite/detail/connection.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace errand::detail::sqlite {

class enqueue_watch {
 public:
  // Nothing to watch for an in-memory database: no other process can reach it.
  static std::unique_ptr<enqueue_watch> of(sqlite3* db, const std::string& jobs_table) {
    const char* file = sqlite3_db_filename(db, "main");
    if (!file || !*file) return nullptr;
    return std::make_unique<enqueue_watch>(file, jobs_table);
  }

  enqueue_watch(const std::string& file, const std::string& jobs_table)
      : db_(file, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX),
        largest_id_sql_("SELECT coalesce(max(id), 0) FROM " + jobs_table) {
    changed();
  }

  // Whether a job was enqueued since the last call, by any connection. A
  // database busy or locked now says no; the next call looks again.
  bool enqueued() {
    std::scoped_lock lock(mutex_);
    try {
      return changed();
    } catch (const failure&) {
      return false;
    }
  }

 private:
  bool changed() {
    const auto version = read("PRAGMA data_version");
    if (version == version_) return false;
    version_ = version;
    const auto largest = read(largest_id_sql_);
    const bool grew = largest > largest_id_;
    largest_id_ = largest;
    return grew;
  }

  std::int64_t read(const std::string& sql) {
    auto c = db_.use(sql);
    return c.step() ? c.integer(0) : 0;
  }

  std::mutex mutex_;
  connection db_;
  std::string largest_id_sql_;
  std::int64_t version_ = -1;
  std::int64_t largest_id_ = 0;
};

}  // namespace errand::detail::sqlite
