// The errand command on a SQLite file: the file must exist (the command
// never creates one), its schema is read through a read-only connection
// before a store opens it, and transitions other processes commit are
// followed by polling the store's history feed.

#include "backends.hpp"
#include "database.hpp"
#include "store_database.hpp"
#include <errand/sqlite.hpp>

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace errand_tool {

namespace {

using namespace std::chrono_literals;

// How often a follower looks for new history; the feed answers an idle poll
// with one index lookup.
constexpr auto poll_interval = 200ms;
constexpr std::size_t poll_batch = 500;

std::string named(const database_options& options) { return "SQLite file '" + options.location + "'"; }

void require_file(const database_options& options) {
  std::error_code error;
  const auto status = std::filesystem::status(options.location, error);
  if (!std::filesystem::exists(status))
    throw tool_error(unusable_database, "no SQLite file at '" + options.location +
                                            "': --db takes the file your workers use (or a postgresql:// URL). "
                                            "Nothing was created.");
  if (std::filesystem::is_directory(status))
    throw tool_error(unusable_database, "'" + options.location + "' is a directory, not a SQLite file");
}

std::vector<std::string> text_column(errand::detail::sqlite::connection& db, const std::string& sql) {
  std::vector<std::string> out;
  auto c = db.use(sql);
  while (c.step()) out.emplace_back(c.text(0));
  return out;
}

class sqlite_follower final : public following {
 public:
  sqlite_follower(errand::sqlite_store& store, errand::listener on_transition)
      : store_(store), on_transition_(std::move(on_transition)), position_(store.history_position()) {
    thread_ = std::thread([this] { run(); });
  }

  ~sqlite_follower() override {
    {
      std::scoped_lock lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      poll();
      lock.lock();
      wake_.wait_for(lock, poll_interval, [&] { return stopping_; });
    }
  }

  void poll() {
    try {
      // prune deleted the newest records and their positions are handed out again
      position_ = std::min(position_, store_.history_position());
      for (;;) {
        const auto batch = store_.history_after(position_, poll_batch);
        for (const auto& entry : batch) {
          position_ = entry.position;
          if (const auto row = store_.get(entry.record.job_id))
            on_transition_(errand::notification{*row, entry.record});
        }
        if (batch.size() < poll_batch) break;
      }
      last_error_.clear();
    } catch (const std::exception& e) {
      // Said once, not on every poll; the next poll tries again.
      if (last_error_ != e.what())
        std::cerr << "errand: following " << store_.tables().jobs << ": " << e.what() << std::endl;
      last_error_ = e.what();
    }
  }

  errand::sqlite_store& store_;
  errand::listener on_transition_;
  std::int64_t position_;
  std::string last_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

class sqlite_database final : public store_database<errand::sqlite_store> {
 public:
  explicit sqlite_database(const database_options& options)
      : store_database(named(options), options.location, errand::sqlite_options{.table_prefix = options.table_prefix}) {
  }

  std::unique_ptr<following> follow(errand::listener on_transition) override {
    return std::make_unique<sqlite_follower>(store(), std::move(on_transition));
  }
};

}  // namespace

schema_state inspect_sqlite_schema(const database_options& options) {
  const auto tables = errand::sqlite_tables_for(options.table_prefix);
  require_file(options);
  schema_state schema;
  schema.database = named(options);
  schema.jobs_table = tables.jobs;
  schema.known = errand::sqlite_schema_version;
  try {
    errand::detail::sqlite::connection db(options.location, SQLITE_OPEN_READONLY);
    const std::string table_named = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ";
    schema.has_jobs_table = !text_column(db, table_named + "'" + tables.jobs + "'").empty();
    std::map<int, std::string> applied;
    if (!text_column(db, table_named + "'" + tables.schema_version + "'").empty()) {
      auto c = db.use("SELECT version, applied_at FROM " + tables.schema_version + " ORDER BY version");
      while (c.step()) applied[static_cast<int>(c.integer(0))] = std::string(c.text(1));
    }
    schema.found = applied.empty() ? 0 : applied.rbegin()->first;
    schema.steps = steps_of(errand::sqlite_migrations(tables), applied);
    for (const auto& name : text_column(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE "
                                        "'%schema_version' ORDER BY name"))
      if (name != tables.schema_version) schema.elsewhere.push_back("--prefix " + name.substr(0, name.size() - 14));
  } catch (const errand::store_error& e) {
    throw tool_error(unusable_database, "cannot read " + named(options) + " as an errand database: " + e.what());
  }
  return schema;
}

void migrate_sqlite_tables(const database_options& options) {
  errand::sqlite_store migrated(options.location, {.table_prefix = options.table_prefix});
}

std::unique_ptr<database> open_sqlite_database(const database_options& options) {
  require_current(inspect_sqlite_schema(options));
  return std::make_unique<sqlite_database>(options);
}

}  // namespace errand_tool
