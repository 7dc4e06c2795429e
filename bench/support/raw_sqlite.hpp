#pragma once
// The hand-written side of a SQLite benchmark: a connection opened as errand's
// stores open theirs by default (WAL, synchronous=NORMAL, a 5 s busy
// timeout), statements prepared once and finalized with it, and the binding a
// hand-written program does.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace errand_bench {

inline void check(int code, sqlite3* db) {
  if (code != SQLITE_OK && code != SQLITE_ROW && code != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

class raw_sqlite {
 public:
  explicit raw_sqlite(const std::string& path) {
    check(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr), db_);
    sqlite3_busy_timeout(db_, 5000);
    check(sqlite3_exec(db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr), db_);
  }
  raw_sqlite(const raw_sqlite&) = delete;
  raw_sqlite& operator=(const raw_sqlite&) = delete;
  ~raw_sqlite() {
    for (auto* s : statements_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    check(sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), db_);
    statements_.push_back(s);
    return s;
  }

  // Steps a statement that returns nothing to read, and resets it.
  void run(sqlite3_stmt* s) {
    check(sqlite3_step(s), db_);
    sqlite3_reset(s);
  }

  // Steps a statement that returns one integer, and resets it.
  std::int64_t integer(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_ROW) throw std::runtime_error(sqlite3_errmsg(db_));
    const std::int64_t value = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

// The text must outlive the statement's next step.
inline void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
}

inline void bind_text(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v)
    bind_text(s, i, *v);
  else
    sqlite3_bind_null(s, i);
}

}  // namespace errand_bench
