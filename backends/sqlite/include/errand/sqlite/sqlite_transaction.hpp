#pragma once
// A transaction of the application's own, on the application's own
// connection, that errand's record stores write into and that tells their
// subscribers what was written once, and only once, it has committed.
//
//   errand::sqlite_transaction tx(app_db);                 // BEGIN IMMEDIATE
//   insert_order(tx.handle(), order);                      // the application's writes
//   chats.fire(tx, chat_id, chat_events::acquire{"w1"}, now);
//   jobs.enqueue(tx.handle(), spec, now);
//   tx.commit();   // COMMIT, then chats' subscribers hear of the transition
//
// Leaving the scope without commit() rolls everything back, and subscribers
// hear nothing. A record store's create() and fire() that take a plain
// sqlite3* write the same way inside whatever transaction the application has
// open, but cannot know whether it commits, so they tell no subscriber.

#include <errand/sqlite/detail/connection.hpp>

#include <sqlite3.h>

#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace errand {

class sqlite_transaction {
 public:
  // Begins an IMMEDIATE transaction on `db`, which stays the application's:
  // it is neither configured nor closed here. IMMEDIATE takes the write lock
  // at once, so errand's read-decide-write inside it can never be refused
  // halfway by another writer; a lock another connection holds beyond the
  // connection's busy timeout is a store_error here, before anything is written.
  explicit sqlite_transaction(sqlite3* db) : db_(db) {
    if (!db_) throw std::invalid_argument("errand sqlite: sqlite_transaction needs an open sqlite3*, got nullptr");
    if (!sqlite3_get_autocommit(db_))
      throw std::invalid_argument(
          "errand sqlite: sqlite_transaction cannot begin: a transaction is open on that connection already");
    execute("BEGIN IMMEDIATE");
  }

  sqlite_transaction(const sqlite_transaction&) = delete;
  sqlite_transaction& operator=(const sqlite_transaction&) = delete;

  ~sqlite_transaction() { rollback(); }

  sqlite3* handle() const noexcept { return db_; }

  // COMMIT, then what the stores asked to be done after it (telling their
  // subscribers), in the order they asked. A COMMIT that fails throws
  // store_error and tells nobody; the destructor then rolls back.
  void commit() {
    execute("COMMIT");
    open_ = false;
    auto committed = std::exchange(after_commit_, {});
    for (const auto& work : committed) work();
  }

  // Rolls back what was written since the BEGIN, and forgets what was to be
  // done after a commit. Nothing happens once it has committed or rolled back.
  void rollback() noexcept {
    after_commit_.clear();
    if (open_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    open_ = false;
  }

  // For stores: `work` runs after a successful commit(), and never otherwise.
  void after_commit(std::function<void()> work) { after_commit_.push_back(std::move(work)); }

 private:
  void execute(const char* sql) {
    const int code = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) detail::sqlite::raise(db_, code, sql);
  }

  sqlite3* db_;
  bool open_ = true;
  std::vector<std::function<void()>> after_commit_;
};

}  // namespace errand
