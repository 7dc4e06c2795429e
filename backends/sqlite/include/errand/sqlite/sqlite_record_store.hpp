#pragma once
// errand::sqlite_record_store<D>: any record definition (errand/record.hpp)
// on a table of the application's SQLite database, with a history table
// beside it. The table is created from the row type, or adopted when it
// exists (record_schema.hpp).
//
//   errand::sqlite_record_store<chats> store("app.db");   // creates or adopts "chats", migrates
//   auto chat = store.create({.title = "hello"}, clock.now());
//   store.fire(chat.id, chat_events::acquire{"w1"}, clock.now());
//
// Every create() and fire() is one BEGIN IMMEDIATE transaction on the store's
// own connection: fire reads the row (and the idempotency key in the
// history), lets step() dispatch, writes every column with the compare-and-set
// UPDATE … WHERE id = ? AND version = ?, appends the history entry with
// seq = the record's last + 1, commits, and only then tells subscribers. The
// write is the one every SQLite store makes, the job queue's included
// (detail/transitions.hpp).
//
// In the application's own transaction: create(app_db, row, now) and
// fire(app_db, id, event, now) run the same statements on the application's
// connection, inside the transaction it holds open there (else
// std::invalid_argument, nothing written), in a SAVEPOINT, so that a refused
// or failed write leaves the application's transaction as it was. What they
// write commits or rolls back with the application's transaction; errand
// cannot know which, so subscribers hear nothing of it. Through an
// errand::sqlite_transaction instead (sqlite_transaction.hpp), subscribers
// hear of it after that transaction's commit(), and never after a rollback.
//
// Threads: one connection per store, used under a mutex. Processes: each opens
// its own store on the file; SQLite's locks order the writers, and a write
// that still finds the database busy after busy_timeout is rolled back and run
// again, up to max_busy_retries times. Rows errand cannot read throw
// corrupt_record naming the table, the record and the column.

#include <errand/detail/text.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/migrate.hpp>
#include <errand/sqlite/detail/record_rows.hpp>
#include <errand/sqlite/detail/record_statements.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/detail/transitions.hpp>
#include <errand/sqlite/record_schema.hpp>
#include <errand/sqlite/sqlite_options.hpp>
#include <errand/sqlite/sqlite_transaction.hpp>

#include <boost/mp11/algorithm.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace errand {

template <record_definition D>
class sqlite_record_store {
  using traits = record_traits<D>;
  using connection = detail::sqlite::connection;

 public:
  using definition = D;
  using row_type = typename D::row;
  using state_type = typename D::machine::state_type;
  using entry_type = history_entry<state_type>;

  // Opens (creating it if needed) the database at `path` as sqlite_store
  // does (WAL, synchronous, busy timeout from `options`), then creates or
  // adopts D's table and migrates the history table. A table it cannot adopt
  // fails here, naming the column, with nothing changed.
  explicit sqlite_record_store(const std::string& path, sqlite_options options = {})
      : options_(std::move(options)),
        tables_(sqlite_record_tables_for<D>(options_.table_prefix)),
        db_(path, options_, migrate_tables()) {}

  // Uses `db` without owning it or setting any PRAGMA on it, as sqlite_store
  // does; the application must not hold a transaction of its own on it while
  // a store call is running.
  sqlite_record_store(adopt_connection_t, sqlite3* db, sqlite_options options = {})
      : options_(std::move(options)),
        tables_(sqlite_record_tables_for<D>(options_.table_prefix)),
        db_(db, options_, migrate_tables()) {}

  sqlite_record_store(const sqlite_record_store&) = delete;
  sqlite_record_store& operator=(const sqlite_record_store&) = delete;

  const sqlite_record_tables& tables() const noexcept { return tables_; }
  const sqlite_options& options() const noexcept { return options_; }

  // Writes the row in the machine's initial state with version 1 and its
  // "create" history entry; SQLite assigns the id when the row's is 0. An id
  // that exists already is a store_error, and nothing is written.
  row_type create(const row_type& row, time_point now) {
    auto fresh = new_record<D>(row);
    auto done = db_.write([&] { return create_on(*db_, fresh, now); });
    transitions_.notify(done);
    return std::move(done.row);
  }

  // The same inside the application's open transaction on `app_connection`;
  // subscribers are not told.
  row_type create(sqlite3* app_connection, const row_type& row, time_point now) {
    return create_in(app_connection, row, now).row;
  }

  // The same inside `transaction`; subscribers are told after its commit().
  row_type create(sqlite_transaction& transaction, const row_type& row, time_point now) {
    auto done = create_in(transaction.handle(), row, now);
    transitions_.notify_after(transaction, done);
    return std::move(done.row);
  }

  std::optional<row_type> get(std::int64_t id) const {
    return db_.read([&] { return read_one(*db_, id); });
  }

  template <class Event>
  fire_result<D> fire(std::int64_t id, const Event& event, time_point now, const fire_options& options = {}) {
    validate(options);
    auto result = db_.write([&] { return fire_on(*db_, id, event, now, options); });
    if (result.status == fire_status::applied)
      if (auto note = transitions_.note(*result.row, *result.entry)) transitions_.notify(*note);
    return result;
  }

  // The same inside the application's open transaction on `app_connection`;
  // subscribers are not told.
  template <class Event>
  fire_result<D> fire(sqlite3* app_connection, std::int64_t id, const Event& event, time_point now,
                      const fire_options& options = {}) {
    validate(options);
    return detail::sqlite::in_application_transaction(
        app_connection, "fire", [&](connection& app) { return fire_on(app, id, event, now, options); });
  }

  // The same inside `transaction`; subscribers are told after its commit().
  template <class Event>
  fire_result<D> fire(sqlite_transaction& transaction, std::int64_t id, const Event& event, time_point now,
                      const fire_options& options = {}) {
    auto result = fire(transaction.handle(), id, event, now, options);
    if (result.status == fire_status::applied) transitions_.notify_after(transaction, {*result.row, *result.entry});
    return result;
  }

  // A page by id ascending. A filter naming no field of the row is refused by validate().
  std::vector<row_type> query(const record_query<D>& query) const {
    validate(query);
    std::string sql = detail::concat(sql_.select, " WHERE ", sql_.id, " > ?1");
    if (query.state) sql += detail::concat(" AND ", sql_.state, " = ?2");
    int parameter = 3;
    std::vector<const column_value*> bound;
    for (const auto& filter : query.filters) {
      const auto column = std::find_if(columns_.begin(), columns_.end(),
                                       [&](const record_column& c) { return c.field == filter.field; });
      if (column == columns_.end()) return {};
      const std::string name = sqlite_identifier(column->name);
      if (std::holds_alternative<std::monostate>(filter.value)) {
        sql += detail::concat(" AND ", name, " IS NULL");
      } else {
        sql += detail::concat(" AND ", name, " = ?", std::to_string(parameter++));
        bound.push_back(&filter.value);
      }
    }
    sql += detail::concat(" ORDER BY ", sql_.id, " LIMIT ?", std::to_string(parameter));
    return db_.read([&] {
      std::vector<row_type> page;
      auto c = db_->use(sql);
      c.bind(1, query.after_id);
      if (query.state) c.bind(2, *name_of(*query.state));
      for (std::size_t i = 0; i < bound.size(); ++i) detail::sqlite::bind_value(c, 3 + static_cast<int>(i), *bound[i]);
      c.bind(parameter, detail::sqlite::as_sql_count(query.limit));
      while (c.step()) page.push_back(detail::sqlite::read_record<D>(c, columns_, id_index_));
      return page;
    });
  }

  std::vector<entry_type> history(std::int64_t id) const {
    return db_.read([&] {
      std::vector<entry_type> entries;
      auto c = db_->use(sql_.history);
      c.bind(1, id);
      while (c.step()) entries.push_back(detail::sqlite::read_entry<state_type>(c, tables_.history));
      return entries;
    });
  }

  // One transaction: the records in the requested states (the machine's
  // terminal states when none are named) whose latest history entry is older
  // than unchanged_since go with their history; then every record keeps only
  // its last keep_history entries.
  record_prune_result prune(const record_prune<D>& request) {
    validate(request);
    std::vector<state_type> states = request.states;
    if (states.empty())
      for (const auto state : enumerators<state_type>())
        if (D::machine::is_terminal(state)) states.push_back(state);
    return db_.write([&] {
      record_prune_result result;
      if (request.unchanged_since && !states.empty()) {
        std::string listed;
        for (std::size_t i = 0; i < states.size(); ++i)
          listed += detail::concat(i ? ", ?" : "?", std::to_string(i + 2));
        std::vector<std::int64_t> ids;
        {
          auto c = db_->use(detail::concat(sql_.prunable, " IN (", listed, ")"));
          c.bind(1, *request.unchanged_since);
          for (std::size_t i = 0; i < states.size(); ++i) c.bind(static_cast<int>(i + 2), *name_of(states[i]));
          while (c.step()) ids.push_back(c.integer(0));
        }
        for (const auto id : ids) {
          result.history_deleted += run(sql_.delete_history, id);
          result.records_deleted += run(sql_.delete_record, id);
        }
      }
      if (request.keep_history) result.history_deleted += transitions_.trim_history(*db_, *request.keep_history);
      return result;
    });
  }

  // Called after each commit of this store's own create() and fire(), and
  // after the commit() of an sqlite_transaction they wrote in, outside the
  // store's lock.
  subscription subscribe(record_listener<D> on_commit) { return transitions_.subscribe(std::move(on_commit)); }

 private:
  using fixed = detail::sqlite::fixed_statement;

  // A transition as written: what subscribers hear of it once it has committed.
  using written = record_notification<D>;

  static int index_of(const std::vector<record_column>& columns, std::string_view field) {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i].field == field) return static_cast<int>(i);
    return -1;
  }

  detail::sqlite::cursor use(connection& db, fixed& statement) const {
    return detail::sqlite::use_on(db, *db_, statement);
  }

  // Runs a statement with one integer parameter; the rows it changed.
  std::int64_t run(fixed& statement, std::int64_t parameter) {
    auto c = db_->use(statement);
    c.bind(1, parameter);
    c.step();
    return c.changes();
  }

  // What opening the store runs first: D's tables created or adopted, and upgraded.
  std::function<void(connection&)> migrate_tables() {
    return [this](connection& db) { detail::sqlite::migrate_record_tables<D>(db, tables_); };
  }

  std::optional<row_type> read_one(connection& db, std::int64_t id) const {
    auto c = use(db, sql_.get);
    c.bind(1, id);
    if (!c.step()) return std::nullopt;
    return detail::sqlite::read_record<D>(c, columns_, id_index_);
  }

  // On `db`, inside a transaction the caller holds.
  written create_on(connection& db, row_type fresh, time_point now) {
    const std::int64_t requested = traits::id(fresh);
    if (requested != 0) {
      auto c = use(db, sql_.exists);
      c.bind(1, requested);
      if (c.step())
        throw store_error(detail::concat("errand: ", traits::table, " record ", std::to_string(requested),
                                         " exists already; nothing was written"));
    }
    {
      auto c = use(db, sql_.insert);
      int column = 0;
      boost::mp11::mp_for_each<detail::public_members<row_type>>([&](auto member) {
        if (column == id_index_ && requested == 0)
          c.bind(column + 1, std::nullopt);
        else
          detail::sqlite::bind_field(c, column + 1, fresh.*member.pointer);
        ++column;
      });
      c.step();
      fresh.*(D::id) = c.integer(0);
    }
    auto entry = creation_entry<D>(fresh, now);
    transitions_.append(db, *db_, entry);
    return {std::move(fresh), std::move(entry)};
  }

  written create_in(sqlite3* app_connection, const row_type& row, time_point now) {
    auto fresh = new_record<D>(row);
    return detail::sqlite::in_application_transaction(app_connection, "create",
                                                      [&](connection& app) { return create_on(app, fresh, now); });
  }

  // On `db`, inside a transaction the caller holds. No other connection can
  // move the version between the read and the compare-and-set: a BEGIN
  // IMMEDIATE transaction holds the write lock from the start, and SQLite
  // refuses the UPDATE of a transaction whose reads another writer has
  // overtaken (SQLITE_BUSY, before anything is written). So a compare-and-set
  // that changes no row was refused on this connection, by a trigger.
  template <class Event>
  fire_result<D> fire_on(connection& db, std::int64_t id, const Event& event, time_point now,
                         const fire_options& options) {
    const auto current = read_one(db, id);
    if (!current) return record_not_found<D>(id);
    if (options.idempotency_key) {
      auto c = use(db, sql_.entry_with_key);
      c.bind(1, id);
      c.bind(2, *options.idempotency_key);
      if (c.step())
        return {fire_status::duplicate, *current, detail::sqlite::read_entry<state_type>(c, tables_.history), {}};
    }
    if (options.expected_version && *options.expected_version != traits::version(*current))
      return version_conflict<D>(*current, *options.expected_version);
    auto step_taken = step<D>(*current, event, now, options);
    if (!step_taken.applied()) return rejected<D>(*current, step_taken);
    if (!transitions_.write(db, *db_, step_taken.next, traits::version(*current), &step_taken.entry))
      throw store_error(detail::concat("errand sqlite: the UPDATE of ", traits::table, " record ", std::to_string(id),
                                       " at version ", std::to_string(traits::version(*current)),
                                       " changed no row: a trigger on the table refused it; nothing was written"));
    return {fire_status::applied, std::move(step_taken.next), std::move(step_taken.entry), {}};
  }

  sqlite_options options_;
  sqlite_record_tables tables_;
  std::vector<record_column> columns_ = record_columns<D>();
  int id_index_ = index_of(columns_, traits::id_field);
  mutable detail::sqlite::record_statements<D> sql_{tables_, columns_};
  detail::sqlite::transition_writer<D, entry_type, record_notification<D>> transitions_{tables_.records,
                                                                                        tables_.history};
  detail::sqlite::store_connection db_;
};

}  // namespace errand
