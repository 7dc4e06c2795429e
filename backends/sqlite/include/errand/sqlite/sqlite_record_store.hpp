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
// seq = the record's last + 1, commits, and only then tells subscribers.
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

#include <errand/detail/listeners.hpp>
#include <errand/detail/text.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/record_rows.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/record_schema.hpp>
#include <errand/sqlite/sqlite_options.hpp>
#include <errand/sqlite/sqlite_transaction.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
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
      : options_(std::move(options)), tables_(sqlite_record_tables_for<D>(options_.table_prefix)) {
    try {
      db_ = detail::sqlite::open_configured(path, options_);
      migrate();
    } catch (const detail::sqlite::failure& e) {
      throw detail::sqlite::cannot_open(path, e);
    }
  }

  // Uses `db` without owning it or setting any PRAGMA on it, as sqlite_store
  // does; the application must not hold a transaction of its own on it while
  // a store call is running.
  sqlite_record_store(adopt_connection_t, sqlite3* db, sqlite_options options = {})
      : options_(std::move(options)), tables_(sqlite_record_tables_for<D>(options_.table_prefix)) {
    db_ = detail::sqlite::adopt(db);
    migrate();
  }

  sqlite_record_store(const sqlite_record_store&) = delete;
  sqlite_record_store& operator=(const sqlite_record_store&) = delete;

  const sqlite_record_tables& tables() const noexcept { return tables_; }
  const sqlite_options& options() const noexcept { return options_; }

  // Writes the row in the machine's initial state with version 1 and its
  // "create" history entry; SQLite assigns the id when the row's is 0. An id
  // that exists already is a store_error, and nothing is written.
  row_type create(const row_type& row, time_point now) {
    auto fresh = new_record<D>(row);
    written done;
    {
      std::scoped_lock lock(mutex_);
      done = write([&] { return create_on(*db_, fresh, now); });
    }
    notify(done);
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
    notify_after(transaction, done);
    return std::move(done.row);
  }

  std::optional<row_type> get(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    return read([&] { return read_one(*db_, id); });
  }

  template <class Event>
  fire_result<D> fire(std::int64_t id, const Event& event, time_point now, const fire_options& options = {}) {
    validate(options);
    fire_result<D> result;
    {
      std::scoped_lock lock(mutex_);
      result = write([&] { return fire_on(*db_, id, event, now, options); });
    }
    if (result.status == fire_status::applied) notify({*result.row, *result.entry});
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
    if (result.status == fire_status::applied) notify_after(transaction, {*result.row, *result.entry});
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
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<row_type> page;
      auto c = db_->use(sql);
      c.bind(1, query.after_id);
      if (query.state) c.bind(2, *name_of(*query.state));
      for (std::size_t i = 0; i < bound.size(); ++i) detail::sqlite::bind_value(c, 3 + static_cast<int>(i), *bound[i]);
      c.bind(parameter, static_cast<std::int64_t>(std::min<std::size_t>(
                            query.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))));
      while (c.step()) page.push_back(detail::sqlite::read_record<D>(c, columns_, id_index_));
      return page;
    });
  }

  std::vector<entry_type> history(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    return read([&] {
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
    std::scoped_lock lock(mutex_);
    return write([&] {
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
      if (request.keep_history)
        result.history_deleted +=
            run(sql_.trim_history,
                static_cast<std::int64_t>(std::min<std::size_t>(
                    *request.keep_history, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))));
      return result;
    });
  }

  // Called after each commit of this store's own create() and fire(), and
  // after the commit() of an sqlite_transaction they wrote in, outside the
  // store's lock.
  subscription subscribe(record_listener<D> on_commit) { return listeners_->add(std::move(on_commit)); }

 private:
  using fixed = detail::sqlite::fixed_statement;

  struct written {
    row_type row;
    entry_type entry;
  };

  static int index_of(const std::vector<record_column>& columns, std::string_view field) {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i].field == field) return static_cast<int>(i);
    return -1;
  }

  // Every statement's text, built once from the row type and the table names.
  struct statements {
    statements(const sqlite_record_tables& t, const std::vector<record_column>& columns, int id_index)
        : id(sqlite_identifier(traits::column_of(traits::id_field))),
          state(sqlite_identifier(traits::column_of(traits::state_field))) {
      const std::string records = sqlite_identifier(t.records);
      const std::string history_table = sqlite_identifier(t.history);
      const std::string version = sqlite_identifier(traits::column_of(traits::version_field));
      std::string names, parameters, assignments;
      for (std::size_t i = 0; i < columns.size(); ++i) {
        const std::string name = sqlite_identifier(columns[i].name);
        const std::string parameter = detail::concat("?", std::to_string(i + 1));
        names += detail::concat(i ? ", " : "", name);
        parameters += detail::concat(i ? ", " : "", parameter);
        if (static_cast<int>(i) != id_index)
          assignments += detail::concat(assignments.empty() ? "" : ", ", name, " = ", parameter);
      }
      const std::string entries = detail::sqlite::column_list<entry_type>();
      select = detail::concat("SELECT ", names, " FROM ", records);
      get.sql = detail::concat(select, " WHERE ", id, " = ?1");
      exists.sql = detail::concat("SELECT 1 FROM ", records, " WHERE ", id, " = ?1");
      insert.sql = detail::concat("INSERT INTO ", records, " (", names, ") VALUES (", parameters, ") RETURNING ", id);
      update.sql =
          detail::concat("UPDATE ", records, " SET ", assignments, " WHERE ", id, " = ?", std::to_string(id_index + 1),
                         " AND ", version, " = ?", std::to_string(columns.size() + 1));
      append.sql = detail::concat("INSERT INTO ", history_table, " (", entries,
                                  ") SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM ", history_table,
                                  " WHERE record_id = ?1 RETURNING seq");
      history.sql = detail::concat("SELECT ", entries, " FROM ", history_table, " WHERE record_id = ?1 ORDER BY seq");
      entry_with_key.sql =
          detail::concat("SELECT ", entries, " FROM ", history_table, " WHERE record_id = ?1 AND idempotency_key = ?2");
      // Followed by " IN (?2, ...)", the states to prune; ?1 is unchanged_since.
      prunable =
          detail::concat("SELECT ", id, " FROM ", records, " AS r WHERE coalesce((SELECT at FROM ", history_table,
                         " WHERE record_id = r.", id, " ORDER BY seq DESC LIMIT 1), '') < ?1 AND ", state);
      delete_history.sql = detail::concat("DELETE FROM ", history_table, " WHERE record_id = ?1");
      delete_record.sql = detail::concat("DELETE FROM ", records, " WHERE ", id, " = ?1");
      trim_history.sql =
          detail::concat("DELETE FROM ", history_table, " WHERE seq <= (SELECT max(seq) FROM ", history_table,
                         " AS latest WHERE latest.record_id = ", history_table, ".record_id) - ?1");
    }

    std::string id, state, select, prunable;
    fixed get, exists, insert, update, append, history, entry_with_key, delete_history, delete_record, trim_history;
  };

  // Runs `work` in a BEGIN IMMEDIATE transaction on the store's connection;
  // busy or locked rolls back and runs it again. Call with mutex_ held.
  template <class Work>
  std::invoke_result_t<Work&> write(Work&& work) {
    return read([&] { return db_->transaction(work, [](const auto&) { return true; }); });
  }

  template <class Work>
  std::invoke_result_t<Work&> read(Work&& work) const {
    return detail::sqlite::retrying_busy(options_.max_busy_retries, std::forward<Work>(work));
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

  void migrate() {
    std::scoped_lock lock(mutex_);
    write([&] {
      db_->execute(sqlite_create_record_schema_version(tables_));
      const std::string schema_version = sqlite_identifier(tables_.schema_version);
      std::int64_t current = 0;
      {
        auto c = db_->use(
            detail::concat("SELECT coalesce(max(version), 0) FROM ", schema_version, " WHERE record_table = ?1"));
        c.bind(1, tables_.records);
        if (c.step()) current = c.integer(0);
      }
      if (current > sqlite_record_schema_version)
        throw detail::sqlite::failure(
            detail::concat(tables_.schema_version, " says table '", tables_.records, "' is at version ",
                           std::to_string(current), ", newer than this errand understands (",
                           std::to_string(sqlite_record_schema_version), "); refusing to write to it"),
            0, {});
      if (table_exists())
        check_adoptable(current);
      else
        db_->execute(sqlite_create_record_table<D>(tables_));
      for (const auto& migration : sqlite_record_migrations<D>(tables_)) {
        if (migration.version <= current) continue;
        for (const auto& column : migration.added_columns)
          if (!db_->has_column(column.table, column.name))
            db_->execute(detail::concat("ALTER TABLE ", sqlite_identifier(column.table), " ADD COLUMN ",
                                        sqlite_identifier(column.name), " ", column.definition));
        for (const auto& statement : migration.statements) db_->execute(statement);
        auto c = db_->use(detail::concat("INSERT INTO ", schema_version,
                                         " (record_table, version, description, applied_at) VALUES (?1, ?2, ?3, ?4)"));
        c.bind(1, tables_.records);
        c.bind(2, std::int64_t{migration.version});
        c.bind(3, migration.description);
        c.bind(4, std::chrono::time_point_cast<duration>(std::chrono::system_clock::now()));
        c.step();
      }
    });
  }

  bool table_exists() {
    auto c = db_->use("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    c.bind(1, tables_.records);
    return c.step();
  }

  // An existing table must hold every mapped column (the version column
  // only once migration 1 has added it when missing) and have the id column
  // as its INTEGER PRIMARY KEY, so that SQLite assigns ids.
  void check_adoptable(std::int64_t current) {
    const auto refuse = [&](const std::string& why) {
      throw detail::sqlite::failure(detail::concat("table '", tables_.records, "' ", why, "; nothing was changed"), 0,
                                    {});
    };
    for (const auto& column : columns_) {
      if (column.field == traits::version_field && current < 1) continue;
      if (!db_->has_column(tables_.records, std::string(column.name)))
        refuse(detail::concat("has no column '", column.name, "' for the record's field '", column.field, "'"));
    }
    auto c = db_->use(
        "SELECT upper(type) = 'INTEGER' AND pk = 1 AND (SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1"
        " FROM pragma_table_info(?1) WHERE name = ?2");
    c.bind(1, tables_.records);
    c.bind(2, columns_[static_cast<std::size_t>(id_index_)].name);
    if (!c.step() || c.integer(0) != 1)
      refuse(detail::concat("column '", columns_[static_cast<std::size_t>(id_index_)].name, "' (the record's field '",
                            traits::id_field,
                            "') is not the table's INTEGER PRIMARY KEY, which errand needs to "
                            "assign ids"));
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
      const auto values = to_column_values<D>(fresh);
      auto c = use(db, sql_.insert);
      for (std::size_t i = 0; i < values.size(); ++i)
        if (static_cast<int>(i) == id_index_ && requested == 0)
          c.bind(static_cast<int>(i + 1), std::nullopt);
        else
          detail::sqlite::bind_value(c, static_cast<int>(i + 1), values[i]);
      c.step();
      fresh.*(D::id) = c.integer(0);
    }
    auto entry = append(db, creation_entry<D>(fresh, now));
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
    if (!compare_and_set(db, step_taken.next, traits::version(*current)))
      throw store_error(detail::concat("errand sqlite: the UPDATE of ", traits::table, " record ", std::to_string(id),
                                       " at version ", std::to_string(traits::version(*current)),
                                       " changed no row: a trigger on the table refused it; nothing was written"));
    auto entry = append(db, std::move(step_taken.entry));
    return {fire_status::applied, std::move(step_taken.next), std::move(entry), {}};
  }

  bool compare_and_set(connection& db, const row_type& next, std::int64_t expected) {
    const auto values = to_column_values<D>(next);
    auto c = use(db, sql_.update);
    for (std::size_t i = 0; i < values.size(); ++i) detail::sqlite::bind_value(c, static_cast<int>(i + 1), values[i]);
    c.bind(static_cast<int>(values.size() + 1), expected);
    c.step();
    return c.changes() == 1;
  }

  // Appends `entry` as the record's next seq.
  entry_type append(connection& db, entry_type entry) {
    auto c = use(db, sql_.append);
    c.bind(1, entry.record_id);
    c.bind(2, *name_of(entry.from));
    c.bind(3, *name_of(entry.to));
    c.bind(4, entry.event);
    c.bind(5, entry.payload);
    c.bind(6, entry.idempotency_key);
    c.bind(7, entry.at);
    c.step();
    entry.seq = c.integer(0);
    return entry;
  }

  void notify(const written& done) const {
    if (!listeners_->empty()) listeners_->notify({done.row, done.entry});
  }

  // Subscribers hear of it after the transaction commits, if this store still exists then.
  void notify_after(sqlite_transaction& transaction, written done) const {
    transaction.after_commit([listeners = std::weak_ptr(listeners_),
                              note = record_notification<D>{std::move(done.row), std::move(done.entry)}] {
      if (const auto alive = listeners.lock()) alive->notify(note);
    });
  }

  sqlite_options options_;
  sqlite_record_tables tables_;
  std::vector<record_column> columns_ = record_columns<D>();
  int id_index_ = index_of(columns_, traits::id_field);
  mutable statements sql_{tables_, columns_, id_index_};
  mutable std::mutex mutex_;
  std::unique_ptr<connection> db_;
  std::shared_ptr<detail::listener_set<record_notification<D>>> listeners_ =
      std::make_shared<detail::listener_set<record_notification<D>>>();
};

}  // namespace errand
