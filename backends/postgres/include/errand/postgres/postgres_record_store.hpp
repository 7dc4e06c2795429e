#pragma once
// errand::postgres_record_store<D>: any record definition (errand/record.hpp)
// on a PostgreSQL table of its own, or on the application's existing table.
//
//   errand::postgres_record_store<chats> store({.url = url, .schema = "app"});
//   auto chat = store.create({.title = "support"}, clock.now());
//   auto moved = store.fire(chat.id, chat_events::acquire{"worker-1"}, clock.now());
//
// Opening creates the table from the row type, or adopts the existing one,
// and the history table (record_schema.hpp), under an advisory lock.
//
// A fire is two statements, each its own transaction: the row and any
// history entry holding the idempotency key, read together; the machine
// decides in C++ (record_step.hpp); then one statement writes the new row
// with a compare-and-set on the version, appends the history entry and sends
// pg_notify (detail/transitions.hpp, the job queue's writer too). When the
// version moved in between (another writer), nothing is written and the fire
// is read and decided again, unless the caller gave an expected_version: that
// is a conflict.
//
// Inside the application's transaction: create() and fire() take its
// pqxx::work (or any pqxx::dbtransaction) and run in a savepoint of it, so
// the record, its history and its announcement commit or roll back with the
// application's own writes. There the row is read FOR UPDATE and stays locked
// until the application's transaction ends.
//
// Subscribers hear of this store's own commits on the committing thread,
// after commit. Commits of other stores and processes, and of application
// transactions (whose commit errand cannot see), arrive through LISTEN on a
// thread of this store, once they committed: a transaction rolled back is
// never announced.
//
// Threads: a store is safe to share; each call borrows one of its
// options.max_connections connections. Failures are the job store's
// (postgres_errors.hpp): nothing of a call that failed was written.

#include <errand/detail/listeners.hpp>
#include <errand/postgres/detail/connection.hpp>
#include <errand/postgres/detail/notification_thread.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/record_rows.hpp>
#include <errand/postgres/detail/record_statements.hpp>
#include <errand/postgres/detail/transitions.hpp>
#include <errand/postgres/postgres_errors.hpp>
#include <errand/postgres/postgres_options.hpp>
#include <errand/postgres/record_schema.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>

#include <pqxx/types>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace errand {

template <record_definition D>
class postgres_record_store {
 public:
  using definition = D;
  using row_type = typename D::row;
  using state_type = typename D::machine::state_type;
  using entry_type = history_entry<state_type>;

  // Connects, and creates or adopts the tables unless options.migrate is
  // false (then a store opened earlier with migrate = true must have).
  explicit postgres_record_store(postgres_options options)
      : options_(std::move(options)),
        tables_(postgres_record_tables_for<D>(options_)),
        pool_({options_.url, options_.max_connections, options_.connect_attempts, options_.reconnect_backoff,
               [this](detail::pg::connection& c) { prepare(c); }}),
        listeners_({options_.url, tables_.channel, options_.connect_attempts, options_.reconnect_backoff},
                   [this](const std::string& payload) { heard(payload); }) {
    auto setup = pool_.open_connection(false);
    const auto layout = options_.migrate ? detail::pg::migrate_record_tables<D>(*setup, tables_)
                                         : detail::pg::require_record_tables<D>(*setup, tables_);
    sql_ = std::make_unique<detail::pg::record_statements>(
        tables_, layout, setup->autocommit([&](detail::pg::transaction& tx) {
          // Record stores share a channel: an announcement ends with its table's name.
          return detail::pg::transition_target_for<entry_type>(
              tx, tables_.table, layout, {}, tables_.history,
              {tables_.channel, options_.notify, "r", detail::pg::sql_literal(tables_.table_name)},
              detail::concat("the write of ", tables_.table_name, " record"));
        }));
  }
  explicit postgres_record_store(std::string url) : postgres_record_store(postgres_options{.url = std::move(url)}) {}

  postgres_record_store(const postgres_record_store&) = delete;
  postgres_record_store& operator=(const postgres_record_store&) = delete;

  ~postgres_record_store() { listeners_.stop(pool_); }

  const postgres_record_tables& tables() const noexcept { return tables_; }

  row_type create(const row_type& row, time_point now) {
    auto created = pool_.run([&](detail::pg::connection& c) {
      return c.autocommit([&](detail::pg::transaction& tx) { return insert(tx, row, now, listeners_.origin()); });
    });
    listeners_.notify(created);
    return created.row;
  }

  // create() in the application's transaction: the record exists if and only
  // if it commits. Subscribers hear of it once it has.
  row_type create(pqxx::transaction_base& application, const row_type& row, time_point now) {
    return in_application(application,
                          [&](detail::pg::transaction& tx) { return insert(tx, row, now, application_origin).row; });
  }

  std::optional<row_type> get(std::int64_t id) const {
    const auto rows = read(sql_->get, {detail::pg::text_of(id)});
    if (rows.empty()) return std::nullopt;
    return row_of(rows.front());
  }

  template <class Event>
  fire_result<D> fire(std::int64_t id, const Event& event, time_point now, const fire_options& options = {}) {
    validate(options);
    for (;;) {
      auto result = pool_.run([&](detail::pg::connection& c) {
        return c.autocommit([&](detail::pg::transaction& tx) {
          return attempt(tx, id, event, now, options, sql_->read, listeners_.origin());
        });
      });
      if (!result) continue;  // the version moved between the read and the write: decide again
      if (result->status == fire_status::applied) listeners_.notify({*result->row, *result->entry});
      return *std::move(result);
    }
  }

  // fire() in the application's transaction: written if and only if it
  // commits. The row is read FOR UPDATE, so it stays locked until then.
  template <class Event>
  fire_result<D> fire(pqxx::transaction_base& application, std::int64_t id, const Event& event, time_point now,
                      const fire_options& options = {}) {
    validate(options);
    return in_application(application, [&](detail::pg::transaction& tx) {
      for (;;)
        if (auto result = attempt(tx, id, event, now, options, sql_->read_locked, application_origin))
          return *std::move(result);
    });
  }

  std::vector<row_type> query(const record_query<D>& q) const {
    validate(q);
    std::vector<std::size_t> filtered;
    std::vector<bool> is_null;
    std::vector<detail::pg::cell> params{detail::pg::text_of(q.after_id)};
    if (q.state) params.push_back(std::string(*name_of(*q.state)));
    for (const auto& filter : q.filters) {
      const auto& columns = sql_->layout.columns;
      const auto column =
          std::find_if(columns.begin(), columns.end(), [&](const auto& c) { return c.column.field == filter.field; });
      if (column == columns.end()) return {};  // validate() refused a filter naming no field
      filtered.push_back(static_cast<std::size_t>(column - columns.begin()));
      is_null.push_back(std::holds_alternative<std::monostate>(filter.value));
      if (!is_null.back()) params.push_back(detail::pg::to_cell(filter.value));
    }
    params.push_back(detail::pg::text_of(static_cast<std::int64_t>(
        std::min<std::size_t>(q.limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())))));
    const auto sql = sql_->query(q.state.has_value(), filtered, is_null);
    const auto rows = pool_.run(
        [&](detail::pg::connection& c) {
          return c.autocommit([&](detail::pg::transaction& tx) { return tx.exec_params(sql, params); });
        },
        detail::pg::on_broken::retry_once);
    std::vector<row_type> page;
    page.reserve(rows.size());
    for (const auto& cells : rows) page.push_back(row_of(cells));
    return page;
  }

  std::vector<entry_type> history(std::int64_t id) const {
    std::vector<entry_type> entries;
    for (const auto& cells : read(sql_->history, {detail::pg::text_of(id)}))
      entries.push_back(detail::pg::read_entry<state_type>(cells, 0, tables_.history_name));
    return entries;
  }

  // One transaction: the records to delete are locked first, then deleted
  // with their history if they still qualify (a fire that committed in
  // between keeps its record), then histories are trimmed.
  record_prune_result prune(const record_prune<D>& request) {
    validate(request);
    std::vector<detail::pg::cell> states;
    if (request.states.empty()) {
      for (const auto state : enumerators<state_type>())
        if (D::machine::is_terminal(state)) states.push_back(std::string(*name_of(state)));
    } else {
      for (const auto state : request.states) states.push_back(std::string(*name_of(state)));
    }
    return pool_.run([&](detail::pg::connection& c) {
      return c.in_transaction([&](detail::pg::transaction& tx) {
        record_prune_result result;
        if (request.unchanged_since && !states.empty()) {
          const auto state_list = detail::pg::array_literal(states);
          const auto since = detail::pg::text_of(*request.unchanged_since);
          std::vector<detail::pg::cell> ids;
          for (const auto& cells : run(tx, sql_->prune_lock, {state_list, since})) ids.push_back(cells.at(0));
          if (!ids.empty()) {
            const auto counts = run(tx, sql_->prune, {state_list, since, detail::pg::array_literal(ids)}).at(0);
            result.records_deleted = detail::pg::integer_of(counts.at(0));
            result.history_deleted = detail::pg::integer_of(counts.at(1));
          }
        }
        if (request.keep_history)
          result.history_deleted +=
              detail::pg::integer_of(run(tx, sql_->trim, {std::to_string(*request.keep_history)}).at(0).at(0));
        return result;
      });
    });
  }

  // Listeners hear this store's commits on the committing thread, and every
  // other writer's (other stores, other processes, application
  // transactions) on the LISTEN thread once they committed.
  subscription subscribe(record_listener<D> on_commit) { return listeners_.subscribe(std::move(on_commit)); }

 private:
  // The origin of writes in an application's transaction: no store's, so
  // every store's LISTEN thread, this one's too, hears them once committed.
  static inline const std::string application_origin = "application";

  void prepare(detail::pg::connection& c) {
    // Doubles read back exactly on servers before PostgreSQL 12 too.
    c.autocommit([](detail::pg::transaction& tx) { tx.exec("SET extra_float_digits = 3"); });
    for (const auto* s : sql_->all()) c.prepare(s->name, s->sql);
  }

  static detail::pg::rows run(detail::pg::transaction& tx, const detail::pg::statement& s,
                              std::span<const detail::pg::cell> params) {
    return tx.exec_statement(s.name, s.sql, params);
  }
  static detail::pg::rows run(detail::pg::transaction& tx, const detail::pg::statement& s,
                              std::initializer_list<detail::pg::cell> params) {
    return run(tx, s, std::span<const detail::pg::cell>(params.begin(), params.size()));
  }

  detail::pg::rows read(const detail::pg::statement& s, std::initializer_list<detail::pg::cell> params) const {
    return pool_.run(
        [&](detail::pg::connection& c) {
          return c.autocommit([&](detail::pg::transaction& tx) { return run(tx, s, params); });
        },
        detail::pg::on_broken::retry_once);
  }

  // Runs body in a savepoint of the application's transaction. A deadlock or
  // serialization failure there is the application's to retry, with its
  // whole transaction: it is reported as a postgres_statement_error.
  template <class Body>
  static decltype(auto) in_application(pqxx::transaction_base& application, Body&& body) {
    try {
      return detail::pg::in_application_transaction(application, std::forward<Body>(body));
    } catch (const detail::pg::transaction_aborted& e) {
      throw postgres_statement_error(e.what(), e.sqlstate);
    }
  }

  row_type row_of(const detail::pg::row& cells, std::size_t first = 0) const {
    const auto& columns = sql_->layout.columns;
    std::vector<column_value> values;
    values.reserve(columns.size());
    for (std::size_t i = 0; i < columns.size(); ++i)
      values.push_back(detail::pg::from_cell(cells.at(first + i), columns[i].column.kind));
    return from_column_values<D>(values);
  }

  // Writes a new record and its creation entry; an id the database assigns
  // may already be taken by a record created with an explicit id, and is
  // then passed over.
  record_notification<D> insert(detail::pg::transaction& tx, const row_type& row, time_point now,
                                const std::string& origin) const {
    using traits = record_traits<D>;
    auto fresh = new_record<D>(row);
    const bool assigned = traits::id(fresh) == 0;
    if (assigned && !sql_->layout.assigns_ids)
      throw std::invalid_argument(detail::concat("errand: table ", tables_.table,
                                                 "'s id column has no default to assign ids from; give the new ",
                                                 tables_.table_name, " record an id; nothing was written"));
    auto entry = creation_entry<D>(fresh, now);
    const auto& target = sql_->transitions.target;
    std::vector<detail::pg::cell> params;
    if (!assigned) params.push_back(detail::pg::text_of(traits::id(fresh)));
    detail::pg::append_written<D>(params, target, fresh);
    detail::pg::append_entry(params, target, &entry);
    detail::pg::append_announcement(params, target, origin);
    if (!assigned) params.push_back(sql_->layout.id_sequence);
    constexpr int attempts = 100;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      const auto rows = run(tx, assigned ? sql_->create : sql_->create_with_id, params);
      if (!rows.empty()) {
        fresh.*(D::id) = detail::pg::integer_of(rows.front().at(0));
        entry.record_id = traits::id(fresh);
        entry.seq = detail::pg::integer_of(rows.front().at(1));
        return {std::move(fresh), std::move(entry)};
      }
      if (!assigned) {
        const bool exists = !run(tx, sql_->get, {detail::pg::text_of(traits::id(fresh))}).empty();
        throw store_error(detail::concat("errand: ", tables_.table_name, " record ", std::to_string(traits::id(fresh)),
                                         exists ? " exists already" : " was refused by its table (a trigger or rule?)",
                                         "; nothing was written"));
      }
    }
    throw store_error(detail::concat("errand: ", tables_.table, " took none of ", std::to_string(attempts),
                                     " new rows: its id column's default gave ids that records hold already, or a "
                                     "trigger or rule refused them; nothing was written"));
  }

  // One read, decide and write; nullopt when the compare-and-set lost.
  template <class Event>
  std::optional<fire_result<D>> attempt(detail::pg::transaction& tx, std::int64_t id, const Event& event,
                                        time_point now, const fire_options& options,
                                        const detail::pg::statement& read_row, const std::string& origin) const {
    const auto rows = run(tx, read_row, {detail::pg::text_of(id), options.idempotency_key});
    if (rows.empty()) return record_not_found<D>(id);
    const auto current = row_of(rows.front());
    const std::size_t entry_at = sql_->layout.columns.size();
    if (rows.front().at(entry_at))
      return fire_result<D>{fire_status::duplicate,
                            current,
                            detail::pg::read_entry<state_type>(rows.front(), entry_at, tables_.history_name),
                            {}};
    if (options.expected_version && *options.expected_version != record_traits<D>::version(current))
      return version_conflict<D>(current, *options.expected_version);
    auto written = step<D>(current, event, now, options);
    if (!written.applied()) return rejected<D>(current, written);
    const detail::pg::transition<D, entry_type> moved{written.next, record_traits<D>::version(current), &written.entry};
    const auto seq =
        detail::pg::write_transitions<D, entry_type>(tx, sql_->transitions, std::span(&moved, 1), origin).front();
    if (!seq) {
      // The UPDATE waited for any writer holding the row, so a version that
      // did not move means the table refused the row (a trigger, a rule, a
      // policy): deciding again would only be refused again.
      const auto now_stored = run(tx, sql_->get, {detail::pg::text_of(id)});
      if (!now_stored.empty() &&
          record_traits<D>::version(row_of(now_stored.front())) == record_traits<D>::version(current))
        throw store_error(detail::concat("errand: ", tables_.table, " refused the write of ", tables_.table_name,
                                         " record ", std::to_string(id),
                                         " though its version had not moved (a trigger, rule or row policy?); "
                                         "nothing was written"));
      return std::nullopt;
    }
    written.entry.seq = *seq;
    return fire_result<D>{fire_status::applied, std::move(written.next), std::move(written.entry), {}};
  }

  // "r <origin> <record id>:<seq>,… <table>". This store's own
  // announcements were delivered at commit.
  void heard(const std::string& payload) {
    const auto heard = detail::pg::read_announcements(payload, "r");
    if (heard.empty() || heard.front().origin == listeners_.origin() || heard.front().word != tables_.table_name ||
        !listeners_.subscribed())
      return;
    for (const auto& moved : heard) {
      const auto row = get(moved.id);
      const auto entries = read(sql_->entry, {detail::pg::text_of(moved.id), detail::pg::text_of(moved.seq)});
      if (!row || entries.empty()) continue;  // pruned since
      listeners_.notify({*row, detail::pg::read_entry<state_type>(entries.front(), 0, tables_.history_name)});
    }
  }

  postgres_options options_;
  postgres_record_tables tables_;
  mutable detail::pg::connection_pool pool_;
  std::unique_ptr<detail::pg::record_statements> sql_;  // built from the table as found, before any pooled connection
  detail::pg::store_listeners<record_notification<D>> listeners_;  // its LISTEN thread stopped before the pool goes
};

}  // namespace errand
