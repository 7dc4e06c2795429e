#pragma once
// The slice of the sqlite3 C API the store is written against. Every failure
// becomes a store_error carrying SQLite's own message; busy and locked become
// sqlite_busy, so that the caller can roll back and try the whole unit again.
// Nothing here locks: the store serialises all use of a connection.

#include <errand/detail/text.hpp>
#include <errand/sqlite/sqlite_options.hpp>
#include <errand/store.hpp>
#include <errand/time.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

namespace errand::detail::sqlite {

// A failed SQLite call (or a database errand refuses), with the parts a
// caller may word differently: "errand sqlite: <reason>" is the message.
struct failure : store_error {
  failure(std::string why, int extended_code, std::string sqlite_says)
      : store_error(concat("errand sqlite: ", why)),
        reason(std::move(why)),
        code(extended_code),
        sqlite_message(std::move(sqlite_says)) {}
  std::string reason;
  int code;                    // SQLite's extended result code; 0 when errand refused
  std::string sqlite_message;  // sqlite3_errmsg(), without the statement it came from
};

// SQLite gave up waiting for another connection (SQLITE_BUSY or SQLITE_LOCKED).
struct busy : failure {
  using failure::failure;
};

inline bool is_busy(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

[[noreturn]] inline void raise(sqlite3* db, int code, std::string_view doing) {
  const int extended = db ? sqlite3_extended_errcode(db) : code;
  std::string says = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  std::string reason = concat(doing, ": ", says, " (SQLite code ", std::to_string(extended), ")");
  if (is_busy(code)) throw busy(std::move(reason), extended, std::move(says));
  throw failure(std::move(reason), extended, std::move(says));
}

// Why the database at `path` cannot be opened for writing, in one sentence.
// SQLite says "unable to open database file" whether the directory is
// missing or not writable; the file system tells them apart. A "file:" URI
// or ":memory:" keeps SQLite's words.
inline std::string why_cannot_open(const std::string& path, const failure& f) {
  const int primary = f.code & 0xff;
  if (f.code == 0) return f.reason;
  const bool file_system = primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_PERM;
  if (!file_system || path.empty() || path == ":memory:" || path.starts_with("file:")) return f.sqlite_message;
  namespace fs = std::filesystem;
  const fs::path file(path);
  const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ignored;
  if (!fs::exists(directory, ignored)) return concat("directory '", directory.string(), "' does not exist");
  if (!fs::is_directory(directory, ignored)) return concat("'", directory.string(), "' is not a directory");
#if __has_include(<unistd.h>)
  if (fs::exists(file, ignored) && ::access(path.c_str(), W_OK) != 0)
    return "the file is read-only, and errand writes every change to it";
  if (::access(directory.c_str(), W_OK | X_OK) != 0)
    return concat("directory '", directory.string(),
                  "' is not writable, and SQLite creates the database and its journal files there");
#endif
  return f.sqlite_message;
}

// A count as SQLite takes it (LIMIT, a number to keep): std::size_t's largest
// values are more than it can hold, and mean "all" anyway.
inline std::int64_t as_sql_count(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

// One use of a prepared statement: bind, step, read; the statement is reset
// however the use ends, so the cached statement is ready for the next one.
class cursor {
 public:
  cursor(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  ~cursor() { sqlite3_reset(statement_); }

  void bind(int index, std::int64_t value) { check(sqlite3_bind_int64(statement_, index, value)); }
  void bind(int index, std::int32_t value) { check(sqlite3_bind_int(statement_, index, value)); }
  void bind(int index, double value) { check(sqlite3_bind_double(statement_, index, value)); }
  // The text must outlive the cursor's last step(): it is not copied.
  void bind(int index, std::string_view text) {
    check(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  void bind(int index, const std::string& text) { bind(index, std::string_view(text)); }
  // For text that will be gone before the step: SQLite keeps a copy.
  void bind_copy(int index, std::string_view text) {
    check(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind(int index, time_point t) { bind_copy(index, to_iso8601(t)); }
  void bind(int index, std::nullopt_t) { check(sqlite3_bind_null(statement_, index)); }
  template <class T>
  void bind(int index, const std::optional<T>& value) {
    if (value)
      bind(index, *value);
    else
      bind(index, std::nullopt);
  }

  // True while there is a row to read.
  bool step() {
    const int code = sqlite3_step(statement_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    raise(db_, code, sqlite3_sql(statement_));
  }

  int type(int column) const { return sqlite3_column_type(statement_, column); }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  double real(int column) const { return sqlite3_column_double(statement_, column); }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return {data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
  }
  std::int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  void check(int code) {
    if (code != SQLITE_OK) raise(db_, code, "binding a parameter");
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
};

// A statement the store runs on every call: its text and, once the
// connection has prepared it, the connection's statement (which the
// connection finalizes).
struct fixed_statement {
  std::string sql;
  sqlite3_stmt* prepared = nullptr;
};

struct statement_deleter {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

// A connection, opened by path (and then owned) or adopted (and then left
// open), with its prepared statements cached by their SQL text.
class connection {
 public:
  connection(const std::string& path, int flags) {
    sqlite3* db = nullptr;
    const int code = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (code != SQLITE_OK) {
      failure refused("opening the database", db ? sqlite3_extended_errcode(db) : code,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(code));
      sqlite3_close_v2(db);
      throw refused;
    }
    db_ = db;
    owned_ = true;
    sqlite3_extended_result_codes(db_, 1);
    // Asked to write, SQLite opens a file it may not write read-only, and says
    // so only at the first write; a connection opened to read is what it asked for.
    if ((flags & SQLITE_OPEN_READWRITE) && sqlite3_db_readonly(db_, "main") == 1) {
      sqlite3_close_v2(db_);
      throw failure("the database is read-only", SQLITE_READONLY, "attempt to write a readonly database");
    }
  }

  explicit connection(sqlite3* adopted) : db_(adopted), owned_(false) {}

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    statements_.clear();
    if (owned_) sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }

  // For statements without parameters or results: PRAGMA, BEGIN, DDL.
  void execute(const std::string& sql) {
    char* error = nullptr;
    const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    sqlite3_free(error);
    if (code != SQLITE_OK) raise(db_, code, sql);
  }

  // The prepared statement for `sql`, prepared on first use.
  cursor use(const std::string& sql) { return cursor(db_, prepared(sql)); }

  // The same for a statement used on every call: after the first use, no lookup.
  cursor use(fixed_statement& statement) {
    if (!statement.prepared) statement.prepared = prepared(statement.sql);
    return cursor(db_, statement.prepared);
  }

  void rollback_if_open() noexcept {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // Runs `work` in a BEGIN IMMEDIATE transaction and commits it when
  // `keep(result)` says so; rolls back otherwise and on any exception.
  template <class Work, class Keep>
  std::invoke_result_t<Work&> transaction(Work&& work, Keep&& keep) {
    use(begin_).step();
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<Work&>>) {
        work();
        use(commit_).step();
      } else {
        auto result = work();
        if (keep(result))
          use(commit_).step();
        else
          rollback_if_open();
        return result;
      }
    } catch (...) {
      rollback_if_open();
      throw;
    }
  }

  bool has_column(const std::string& table, const std::string& column) {
    auto c = use("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
    c.bind(1, table);
    c.bind(2, column);
    return c.step();
  }

 private:
  sqlite3_stmt* prepared(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* statement = nullptr;
      const int code = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1), SQLITE_PREPARE_PERSISTENT,
                                          &statement, nullptr);
      if (code != SQLITE_OK) raise(db_, code, "preparing " + sql);
      it = statements_.emplace(sql, std::unique_ptr<sqlite3_stmt, statement_deleter>(statement)).first;
    }
    return it->second.get();
  }

  sqlite3* db_ = nullptr;
  bool owned_ = false;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, statement_deleter>> statements_;
  fixed_statement begin_{"BEGIN IMMEDIATE"}, commit_{"COMMIT"};
};

// A store's statement on `db`: through its cached handle on the store's own
// connection `home`, prepared from its text on any other (an application's
// connection, for the length of one call).
inline cursor use_on(connection& db, const connection& home, fixed_statement& statement) {
  return &db == &home ? db.use(statement) : db.use(statement.sql);
}

// Runs `work`; when SQLite gave up waiting for another connection's lock (the
// work's transaction has rolled back), runs it again, up to
// `max_busy_retries` times with a short growing pause; then store_error.
template <class Work>
std::invoke_result_t<Work&> retrying_busy(int max_busy_retries, Work&& work) {
  for (int tries = 0;; ++tries) {
    try {
      return work();
    } catch (const busy& e) {
      if (tries >= max_busy_retries)
        throw store_error(std::string(e.what()) + "; still busy after " + std::to_string(tries + 1) +
                          " tries, nothing was written");
      // Another connection holds the lock beyond busy_timeout: give it a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds{1 << std::min(tries, 6)});
    }
  }
}

// Opens `path` (creating it) and sets the busy timeout, the journal mode and
// synchronous as `options` say. A store catches the failure of this and of
// its migrations and reports it with cannot_open().
inline std::unique_ptr<connection> open_configured(const std::string& path, const sqlite_options& options) {
  auto db = std::make_unique<connection>(
      path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
  retrying_busy(options.max_busy_retries, [&] {
    sqlite3_busy_timeout(db->handle(), static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(
                                           options.busy_timeout.count(), 0, std::numeric_limits<int>::max())));
    if (options.write_ahead_log) {
      auto c = db->use("PRAGMA journal_mode = WAL");
      const std::string mode = c.step() ? std::string(c.text(0)) : std::string();
      const char* file = sqlite3_db_filename(db->handle(), "main");
      const bool in_memory = !file || !*file;
      if (mode != "wal" && !in_memory)
        throw failure(concat("cannot switch the database to WAL (journal mode is '", mode,
                             "'); set sqlite_options::write_ahead_log = false where WAL cannot work"),
                      0, {});
    }
    db->execute(options.synchronous == sqlite_synchronous::full ? "PRAGMA synchronous = FULL"
                                                                : "PRAGMA synchronous = NORMAL");
  });
  return db;
}

// The application's connection, for a store to use without owning it.
inline std::unique_ptr<connection> adopt(sqlite3* db) {
  if (!db) throw std::invalid_argument("errand sqlite: adopt_connection needs an open sqlite3*, got nullptr");
  return std::make_unique<connection>(db);
}

// "errand sqlite: cannot open 'db/jobs.db': directory 'db' does not exist".
inline store_error cannot_open(const std::string& path, const failure& f) {
  return store_error(concat("errand sqlite: cannot open '", path, "': ", why_cannot_open(path, f)));
}

// A store's own connection, as every SQLite store keeps it: opened from a
// path and configured as sqlite_options say, or the application's, adopted;
// used by one call at a time, under a mutex; every write one BEGIN IMMEDIATE
// transaction; and a unit of work that finds the database busy or locked
// rolled back and run again, up to max_busy_retries times.
class store_connection {
 public:
  // Opens `path` and runs `setup(connection&)` (the store's migrations) in a
  // write; a failure of either is one sentence naming the path.
  template <class Setup>
  store_connection(const std::string& path, const sqlite_options& options, Setup&& setup)
      : max_busy_retries_(options.max_busy_retries) {
    try {
      db_ = open_configured(path, options);
      write([&] { setup(*db_); });
    } catch (const failure& e) {
      throw cannot_open(path, e);
    }
  }

  // Uses the application's `db`, which it neither configures nor closes.
  template <class Setup>
  store_connection(sqlite3* db, const sqlite_options& options, Setup&& setup)
      : max_busy_retries_(options.max_busy_retries), db_(adopt(db)) {
    write([&] { setup(*db_); });
  }

  store_connection(const store_connection&) = delete;
  store_connection& operator=(const store_connection&) = delete;

  // The connection, for the work a read or a write runs.
  connection& operator*() const { return *db_; }
  connection* operator->() const { return db_.get(); }

  // Runs `work` in a BEGIN IMMEDIATE transaction and commits it when
  // `keep(result)` says so; rolls back otherwise and on any exception.
  template <class Work, class Keep>
  std::invoke_result_t<Work&> write(Work&& work, Keep&& keep) {
    return read([&] { return db_->transaction(work, keep); });
  }

  template <class Work>
  std::invoke_result_t<Work&> write(Work&& work) {
    return write(std::forward<Work>(work), [](const auto&) { return true; });
  }

  // Runs `work`, whose statements each run in a transaction of their own.
  template <class Work>
  std::invoke_result_t<Work&> read(Work&& work) const {
    std::scoped_lock lock(mutex_);
    return retrying_busy(max_busy_retries_, std::forward<Work>(work));
  }

 private:
  int max_busy_retries_;
  std::unique_ptr<connection> db_;
  mutable std::mutex mutex_;
};

// Runs `work` on the application's connection `app`, inside the transaction
// the application holds open there, in a SAVEPOINT of errand's own: what
// `work` writes commits or rolls back with the application's transaction, and
// a `work` that throws leaves that transaction as it found it, still open.
// `operation` names the call in the error when no transaction is open.
template <class Work>
std::invoke_result_t<Work&, connection&> in_application_transaction(sqlite3* app, std::string_view operation,
                                                                    Work&& work) {
  if (!app)
    throw std::invalid_argument(concat("errand sqlite: ", operation,
                                       " needs the application's open sqlite3*, got nullptr; nothing was written"));
  if (sqlite3_get_autocommit(app))
    throw std::invalid_argument(concat("errand sqlite: ", operation,
                                       " on the application's connection runs inside the application's own "
                                       "transaction, and none is open there (BEGIN first); nothing was written"));
  connection db(app);
  db.execute("SAVEPOINT errand");
  try {
    auto result = work(db);
    db.execute("RELEASE errand");
    return result;
  } catch (...) {
    // Fails only where SQLite has already rolled the whole transaction back (a full disk, say).
    sqlite3_exec(app, "ROLLBACK TO errand; RELEASE errand", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace errand::detail::sqlite
