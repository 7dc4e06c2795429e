// errand::sqlite_store: the embedded backend. One SQLite file (or ":memory:")
// holds the jobs, their history and the schema version; several threads and
// several processes may work the same file at once.
//
//   errand::sqlite_store store("jobs.db");                       // opens or creates, migrates
//   errand::sqlite_store shared(errand::adopt_connection, db);   // your sqlite3*, left open
//   store.enqueue(app_db, spec, now);   // inside the transaction your code holds open on app_db
//
// Every write is one BEGIN IMMEDIATE transaction: the row's compare-and-set
// (UPDATE … WHERE id = ? AND version = ?) and the history INSERT commit or
// roll back together, and listeners hear of it only after COMMIT. A claim
// reads the next due job through a partial index, lets decide() start the
// attempt and writes it with UPDATE … RETURNING, all inside that one
// transaction, so two claimers (threads or processes) never get the same attempt.
//
// Threads: one connection per store, used under a mutex, so calls from many
// threads are serialised (SQLite allows one writer at a time anyway).
// Processes: each opens its own store on the file; SQLite's file locks order
// them, busy_timeout waits for a lock, and an operation that still finds the
// database busy or locked is rolled back and run again, up to
// max_busy_retries times.
//
// Rows errand cannot read (written by hand or by another program): get(),
// query(), history(), count_by_state() and latest_outcome() throw corrupt_row
// naming the job, so a listing never silently leaves a job out; claim() and
// expired_leases() skip such a row, so one bad row never stops a queue or the
// reaper. A job's payload is the user's text and is returned verbatim, valid
// JSON or not. docs/backends/sqlite.md is the full reference.

#ifndef ERRAND_SQLITE_SQLITE_STORE_HPP
#define ERRAND_SQLITE_SQLITE_STORE_HPP

#include <errand/config.hpp>
#include <errand/detail/store_facade.hpp>
#include <errand/sqlite/schema.hpp>
#include <errand/sqlite/sqlite_options.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;  // <sqlite3.h>'s connection handle

namespace errand {

namespace detail::sqlite {
class store_engine;
}

// The operations of store and operator_store (store.hpp) come from store_facade.
class sqlite_store : public detail::store_facade<detail::sqlite::store_engine> {
 public:
  // Opens (creating it if needed) the database at `path`: a file name, ":memory:"
  // or a "file:" URI. Sets WAL, synchronous and the busy timeout, then migrates.
  explicit sqlite_store(const std::string& path, sqlite_options options = {});

  // Uses `db` without owning it: the application closes it after the store is
  // gone, and must not run its own transaction on it while a store call is
  // running. The store sets no PRAGMA on it (journal mode, synchronous and
  // busy timeout stay the application's); it creates or migrates its tables.
  sqlite_store(adopt_connection_t, sqlite3* db, sqlite_options options = {});

  const sqlite_tables& tables() const noexcept;
  const sqlite_options& options() const noexcept;

  using store_facade::enqueue;

  // Enqueues inside the transaction the application holds open on its own
  // connection to this database (sqlite3_get_autocommit() == 0; otherwise
  // std::invalid_argument and nothing written), together with the
  // application's own writes: the job exists if and only if that transaction
  // commits. errand's statements run in a SAVEPOINT, so a failed enqueue
  // leaves the application's transaction open and as it was. Enqueueing
  // writes no history and tells no subscriber.
  enqueued enqueue(sqlite3* app_connection, const job_spec& spec, time_point now);

  // The change feed: how a process follows transitions that other processes
  // commit (subscribe() hears only this store's own). Each history record has
  // a position, growing as records are appended; history_position() is the
  // latest, and history_after(p, n) returns up to n records appended after p,
  // oldest first. A process polls it: an empty answer costs one index lookup.
  // Positions are SQLite's rowids: when prune deletes the newest records, their
  // positions are handed out again, so a follower whose position is past
  // history_position() starts again from there.
  struct positioned_record {
    std::int64_t position = 0;
    history_record record;
  };

  std::int64_t history_position() const;
  std::vector<positioned_record> history_after(std::int64_t position, std::size_t limit) const;
};

static_assert(operator_store<sqlite_store>);
static_assert(queue_controls<sqlite_store>);

}  // namespace errand

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/sqlite/src.hpp>.
extern template class errand::detail::store_facade<errand::detail::sqlite::store_engine>;
#endif

#endif

// The implementation: in every translation unit by default, once with
// ERRAND_SEPARATE_COMPILATION (in the one that includes <errand/sqlite/src.hpp>).
#if (!defined(ERRAND_SEPARATE_COMPILATION) || defined(ERRAND_SQLITE_SOURCE)) && \
    !defined(ERRAND_SQLITE_SQLITE_STORE_IMPLEMENTATION)
#define ERRAND_SQLITE_SQLITE_STORE_IMPLEMENTATION

#include <errand/decide.hpp>
#include <errand/detail/listeners.hpp>
#include <errand/outcome.hpp>
#include <errand/queue_settings.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/schema.hpp>
#include <errand/sqlite/sqlite_options.hpp>
#include <errand/store.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace errand {

namespace detail::sqlite {

class store_engine {
 public:
  // Opens (creating it if needed) the database at `path`: a file name, ":memory:"
  // or a "file:" URI. Sets WAL, synchronous and the busy timeout, then migrates.
  // A path that cannot be opened for writing fails with one sentence naming
  // it and the reason: "errand sqlite: cannot open 'db/jobs.db': directory
  // 'db' does not exist" (docs/backends/sqlite.md lists them).
  explicit store_engine(const std::string& path, sqlite_options options = {})
      : options_(std::move(options)), tables_(sqlite_tables_for(options_.table_prefix)), sql_(tables_) {
    try {
      db_ = detail::sqlite::open_configured(path, options_);
      migrate();
    } catch (const detail::sqlite::failure& e) {
      throw detail::sqlite::cannot_open(path, e);
    }
  }

  // Uses `db` without owning it: the application closes it after the store is
  // gone, and must not run its own transaction on it while a store call is
  // running. The store sets no PRAGMA on it (journal mode, synchronous and
  // busy timeout stay the application's); it creates or migrates its tables.
  store_engine(adopt_connection_t, sqlite3* db, sqlite_options options = {})
      : options_(std::move(options)), tables_(sqlite_tables_for(options_.table_prefix)), sql_(tables_) {
    db_ = detail::sqlite::adopt(db);
    migrate();
  }

  store_engine(const store_engine&) = delete;
  store_engine& operator=(const store_engine&) = delete;

  const sqlite_tables& tables() const noexcept { return tables_; }
  const sqlite_options& options() const noexcept { return options_; }

  enqueued enqueue(const job_spec& spec, time_point now) {
    validate(spec);
    std::scoped_lock lock(mutex_);
    return write([&] { return insert(*db_, spec, now); });
  }

  // Inside the application's open transaction on `app_connection`, in a
  // SAVEPOINT: the job exists if and only if that transaction commits.
  enqueued enqueue(sqlite3* app_connection, const job_spec& spec, time_point now) {
    validate(spec);
    return detail::sqlite::in_application_transaction(
        app_connection, "enqueue", [&](detail::sqlite::connection& app) { return insert(app, spec, now); });
  }

  // One transaction for the whole batch; a spec validate() refuses fails the
  // whole batch before anything is written.
  std::vector<enqueued> enqueue_batch(std::span<const job_spec> specs, time_point now) {
    validate(specs);
    std::scoped_lock lock(mutex_);
    return write([&] {
      std::vector<enqueued> out;
      out.reserve(specs.size());
      for (const auto& spec : specs) out.push_back(insert(*db_, spec, now));
      return out;
    });
  }

  std::optional<job> get(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    return read([&]() -> std::optional<job> {
      auto c = db_->use(sql_.get);
      c.bind(1, id);
      if (!c.step()) return std::nullopt;
      return detail::sqlite::read_row<job>(c);
    });
  }

  write_result apply(const decision& d) {
    require_applied(d);
    std::pair<write_result, std::optional<notification>> written;
    {
      std::scoped_lock lock(mutex_);
      written = write([&] { return write_decision(d); });
    }
    if (written.second) listeners_.notify(*written.second);
    return written.first;
  }

  // All or nothing: when one decision conflicts, the transaction rolls back,
  // the others report conflict, and nothing is written.
  std::vector<write_result> apply_batch(std::span<const decision> decisions) {
    for (const auto& d : decisions) require_applied(d);
    struct batch {
      std::vector<write_result> results;
      std::vector<notification> committed;
      bool all_applied = true;
    };
    batch done;
    {
      std::scoped_lock lock(mutex_);
      done = write(
          [&] {
            batch b;
            b.results.reserve(decisions.size());
            for (const auto& d : decisions) {
              auto [result, note] = write_decision(d);
              b.all_applied = b.all_applied && result == write_result::applied;
              b.results.push_back(result);
              if (note) b.committed.push_back(std::move(*note));
            }
            return b;
          },
          [](const batch& b) { return b.all_applied; });
    }
    if (!done.all_applied) {
      for (auto& r : done.results)
        if (r == write_result::applied) r = write_result::conflict;
      return done.results;
    }
    for (const auto& n : done.committed) listeners_.notify(n);
    return done.results;
  }

  std::optional<job> claim(const claim_request& request) {
    auto claimed = claim_batch(request, 1);
    if (claimed.empty()) return std::nullopt;
    return std::move(claimed.front());
  }

  // Claims up to `limit` due jobs in one transaction.
  std::vector<job> claim_batch(const claim_request& request, std::size_t limit) {
    validate(request);
    if (limit == 0) return {};
    claimed_jobs done;
    {
      std::scoped_lock lock(mutex_);
      done = write([&] { return claim_due(request, limit); });
    }
    for (const auto& n : done.committed) listeners_.notify(n);
    return std::move(done.rows);
  }

  std::vector<job> expired_leases(time_point now, std::size_t limit) const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<job> out;
      auto c = db_->use(sql_.expired);
      c.bind(1, now);
      while (out.size() < limit && c.step()) {
        try {
          out.push_back(detail::sqlite::read_row<job>(c));
        } catch (const corrupt_row&) {
          // Unreadable: the reaper cannot decide on it, and must go on with the rest.
        }
      }
      return out;
    });
  }

  std::vector<job> query(const job_query& q) const {
    validate(q);
    std::string sql = sql_.select_jobs + " WHERE id > ?1";
    if (q.state) sql += " AND state = ?2";
    if (q.queue) sql += " AND queue = ?3";
    if (q.kind) sql += " AND kind = ?4";
    if (q.has_error) sql += *q.has_error ? " AND last_error IS NOT NULL" : " AND last_error IS NULL";
    if (q.updated_since) sql += " AND updated_at >= ?6";
    if (q.updated_before) sql += " AND updated_at < ?7";
    const bool latest_first = q.order == job_order::recently_updated;
    if (latest_first && q.after_update) sql += " AND (updated_at, id) < (?8, ?9)";
    sql += latest_first ? " ORDER BY updated_at DESC, id DESC LIMIT ?5" : " ORDER BY id LIMIT ?5";
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<job> out;
      auto c = db_->use(sql);
      c.bind(1, q.after_id);
      if (q.state) c.bind(2, *name_of(*q.state));
      if (q.queue) c.bind(3, *q.queue);
      if (q.kind) c.bind(4, *q.kind);
      c.bind(5, as_sql_count(q.limit));
      if (q.updated_since) c.bind(6, *q.updated_since);
      if (q.updated_before) c.bind(7, *q.updated_before);
      if (latest_first && q.after_update) {
        c.bind(8, q.after_update->updated_at);
        c.bind(9, q.after_update->id);
      }
      while (c.step()) out.push_back(detail::sqlite::read_row<job>(c));
      return out;
    });
  }

  std::vector<history_record> history(std::int64_t id) const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<history_record> out;
      auto c = db_->use(sql_.history);
      c.bind(1, id);
      while (c.step()) out.push_back(detail::sqlite::read_row<history_record>(c));
      return out;
    });
  }

  std::optional<outcome> latest_outcome(std::int64_t id) const { return latest_outcome_of_job(id, history(id)); }

  using positioned_record = sqlite_store::positioned_record;

  std::int64_t history_position() const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      auto c = db_->use(sql_.history_position);
      return c.step() ? c.integer(0) : std::int64_t{0};
    });
  }

  std::vector<positioned_record> history_after(std::int64_t position, std::size_t limit) const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<positioned_record> out;
      auto c = db_->use(sql_.history_after);
      c.bind(1, position);
      c.bind(2, as_sql_count(limit));
      while (c.step()) out.push_back({c.integer(0), detail::sqlite::read_row<history_record>(c, 1)});
      return out;
    });
  }

  // A state name errand does not know is reported with the lowest id holding it.
  state_counts count_by_state() const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      state_counts counts;
      auto c = db_->use(sql_.counts);
      while (c.step()) {
        const auto state = c.type(0) == SQLITE_TEXT ? from_name<job_state>(c.text(0)) : std::nullopt;
        if (!state)
          throw corrupt_row(c.integer(2),
                            "column 'state' holds '" + std::string(c.text(0)) + "', which is not a job state");
        counts[*state] = c.integer(1);
      }
      return counts;
    });
  }

  // A state name errand does not know is reported as count_by_state() reports it.
  std::vector<queue_summary> summarize(const summary_request& request) const {
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::map<std::string, queue_summary> queues;
      {
        auto c = db_->use(sql_.summary);
        c.bind(1, request.since);
        c.bind(2, request.now);
        while (c.step()) {
          auto& summary = queues[std::string(c.text(0))];
          summary.queue = c.text(0);
          const auto state = from_name<job_state>(c.text(1));
          if (!state)
            throw corrupt_row(c.integer(5),
                              "column 'state' holds '" + std::string(c.text(1)) + "', which is not a job state");
          summary.jobs[*state] = c.integer(2);
          if (c.integer(3) > 0) summary.updated_since[*state] = c.integer(3);
          summary.due += c.integer(4);
        }
      }
      auto c = db_->use(sql_.oldest_due);
      c.bind(1, request.now);
      while (c.step()) {
        auto& summary = queues[std::string(c.text(0))];
        summary.oldest_due_id = c.integer(1);
        summary.oldest_due_at = from_iso8601(c.text(2));
      }
      std::vector<queue_summary> out;
      for (auto& [name, summary] : queues) out.push_back(std::move(summary));
      return out;
    });
  }

  std::vector<error_group> error_groups(const error_group_query& q) const {
    validate(q);
    std::string failing =
        "SELECT id, coalesce(last_error_kind, '') AS k, last_error AS m,"
        " coalesce(last_error_at, updated_at) AS at FROM " +
        tables_.jobs + " WHERE last_error IS NOT NULL";
    if (q.state) failing += " AND state = ?3";
    if (q.queue) failing += " AND queue = ?4";
    if (q.kind) failing += " AND kind = ?5";
    if (q.since) failing += " AND coalesce(last_error_at, updated_at) >= ?6";
    const std::string sql = "WITH failing AS (" + failing + sql_.error_groups_tail;
    std::scoped_lock lock(mutex_);
    return read([&] {
      std::vector<error_group> out;
      auto c = db_->use(sql);
      c.bind(1, as_sql_count(q.limit));
      c.bind(2, as_sql_count(q.examples));
      if (q.state) c.bind(3, *name_of(*q.state));
      if (q.queue) c.bind(4, *q.queue);
      if (q.kind) c.bind(5, *q.kind);
      if (q.since) c.bind(6, *q.since);
      while (c.step()) {
        if (out.empty() || out.back().error_kind != c.text(0) || out.back().message != c.text(1)) {
          out.push_back({std::string(c.text(0)),
                         std::string(c.text(1)),
                         c.integer(2),
                         from_iso8601(c.text(3)).value_or(time_point{}),
                         from_iso8601(c.text(4)).value_or(time_point{}),
                         {}});
        }
        if (c.type(5) != SQLITE_NULL) out.back().example_ids.push_back(c.integer(5));
      }
      return out;
    });
  }

  prune_result prune(const prune_request& request) {
    std::scoped_lock lock(mutex_);
    return write([&] {
      prune_result result;
      if (request.finished_before) {
        auto history = db_->use(sql_.prune_finished_history);
        history.bind(1, *request.finished_before);
        history.step();
        result.history_deleted += history.changes();
        auto jobs = db_->use(sql_.prune_finished_jobs);
        jobs.bind(1, *request.finished_before);
        jobs.step();
        result.jobs_deleted = jobs.changes();
      }
      if (request.keep_history) {
        auto history = db_->use(sql_.prune_old_history);
        history.bind(1, as_sql_count(*request.keep_history));
        history.step();
        result.history_deleted += history.changes();
      }
      return result;
    });
  }

  subscription subscribe(listener on_commit) { return listeners_.add(std::move(on_commit)); }

  queue_setting pause_queue(const std::string& queue, time_point now) {
    return change_queue(queue, now, [](queue_setting& s) { s.paused = true; });
  }

  queue_setting resume_queue(const std::string& queue, time_point now) {
    return change_queue(queue, now, [](queue_setting& s) { s.paused = false; });
  }

  queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running, time_point now) {
    validate_queue_setting(queue, max_running);
    return change_queue(queue, now, [&](queue_setting& s) { s.max_running = max_running; });
  }

  std::vector<queue_setting> queue_settings() const {
    std::scoped_lock lock(mutex_);
    return read([&] { return all_queue_settings(); });
  }

 private:
  // Every statement's text, built once for the store's table names.
  struct statements {
    explicit statements(const sqlite_tables& t)
        : select_jobs("SELECT " + detail::sqlite::column_list<job>() + " FROM " + t.jobs),
          get{select_jobs + " WHERE id = ?1"},
          version_of{"SELECT version FROM " + t.jobs + " WHERE id = ?1"},
          find_holder{"SELECT id FROM " + t.jobs +
                      " WHERE unique_key = ?1 AND (?2 IS NULL OR instr(?2, ',' || state || ',') > 0)"
                      " AND (?3 IS NULL OR created_at > ?3) ORDER BY id DESC LIMIT 1"},
          insert{"INSERT INTO " + t.jobs +
                 " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version, unique_key,"
                 " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id"},
          update_set("UPDATE " + t.jobs +
                     " SET state = ?3, attempt = ?4, max_attempts = ?5, run_at = ?6, worker = ?7, lease_until = ?8,"
                     " heartbeat_at = ?9, last_error = ?10, last_error_kind = ?11, last_error_at = ?12, detail = ?13,"
                     " version = ?14, updated_at = ?15, last_seq = last_seq + ?16"
                     " WHERE id = ?1 AND version = ?2 RETURNING last_seq"),
          update{update_set},
          claim{update_set + ", " + detail::sqlite::column_list<job>()},
          insert_history{"INSERT INTO " + t.history + " (" + detail::sqlite::column_list<history_record>() +
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
          due(select_jobs + " WHERE state IN " + sqlite_claimable_states() + " AND run_at <= ?1"),
          due_order(" ORDER BY priority, run_at, id"),
          due_in_any_queue{due + due_order},
          expired{select_jobs + " WHERE state = 'running' AND lease_until <= ?1 ORDER BY lease_until, id"},
          history{"SELECT " + detail::sqlite::column_list<history_record>() + " FROM " + t.history +
                  " WHERE job_id = ?1 ORDER BY seq"},
          history_position{"SELECT coalesce(max(rowid), 0) FROM " + t.history},
          history_after{"SELECT rowid, " + detail::sqlite::column_list<history_record>() + " FROM " + t.history +
                        " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"},
          counts{"SELECT state, count(*), min(id) FROM " + t.jobs + " GROUP BY state"},
          summary{"SELECT queue, state, count(*), sum(updated_at >= ?1), sum(state IN " + sqlite_claimable_states() +
                  " AND run_at <= ?2), min(id) FROM " + t.jobs + " GROUP BY queue, state"},
          // SQLite fills a bare column beside min() from the row holding the minimum.
          oldest_due{"SELECT queue, id, min(run_at) FROM " + t.jobs + " WHERE state IN " + sqlite_claimable_states() +
                     " AND run_at <= ?1 GROUP BY queue"},
          // After "WITH failing AS (<the failing jobs>": ?1 groups, ?2 examples per group.
          error_groups_tail(
              "), groups AS (SELECT k, m, count(*) AS n, min(at) AS first_at, max(at) AS last_at FROM failing"
              " GROUP BY k, m ORDER BY last_at DESC, n DESC, k, m LIMIT ?1),"
              " ranked AS (SELECT f.k, f.m, f.id, row_number() OVER (PARTITION BY f.k, f.m ORDER BY f.at DESC,"
              " f.id DESC) AS r FROM failing AS f JOIN groups AS g ON g.k = f.k AND g.m = f.m)"
              " SELECT g.k, g.m, g.n, g.first_at, g.last_at, r.id FROM groups AS g LEFT JOIN ranked AS r"
              " ON r.k = g.k AND r.m = g.m AND r.r <= ?2 ORDER BY g.last_at DESC, g.n DESC, g.k, g.m, r.r"),
          prune_finished_history{"DELETE FROM " + t.history + " WHERE job_id IN (SELECT id FROM " + t.jobs +
                                 " WHERE state IN ('succeeded', 'failed') AND updated_at < ?1)"},
          prune_finished_jobs{"DELETE FROM " + t.jobs + " WHERE state IN ('succeeded', 'failed') AND updated_at < ?1"},
          prune_old_history{"DELETE FROM " + t.history + " WHERE seq <= (SELECT last_seq FROM " + t.jobs + " WHERE " +
                            t.jobs + ".id = " + t.history + ".job_id) - ?1"},
          queue_settings{"SELECT queue, paused, max_running, updated_at FROM " + t.queues + " ORDER BY queue"},
          queue_setting_of{"SELECT queue, paused, max_running, updated_at FROM " + t.queues + " WHERE queue = ?1"},
          put_queue_setting{"INSERT OR REPLACE INTO " + t.queues +
                            " (queue, paused, max_running, updated_at) VALUES (?1, ?2, ?3, ?4)"},
          delete_queue_setting{"DELETE FROM " + t.queues + " WHERE queue = ?1"},
          running_in_queue{"SELECT count(*) FROM " + t.jobs + " WHERE state = 'running' AND queue = ?1"} {}

    using fixed = detail::sqlite::fixed_statement;
    std::string select_jobs;
    fixed get, version_of, find_holder, insert;
    std::string update_set;
    fixed update, claim, insert_history;
    std::string due, due_order;
    fixed due_in_any_queue, expired, history, history_position, history_after, counts, summary, oldest_due;
    std::string error_groups_tail;
    fixed prune_finished_history, prune_finished_jobs, prune_old_history;
    fixed queue_settings, queue_setting_of, put_queue_setting, delete_queue_setting, running_in_queue;
  };

  static void require_applied(const decision& d) {
    if (!d.applied()) throw std::invalid_argument("errand: only an applied decision can be written");
  }

  static std::int64_t as_sql_count(std::size_t n) {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
  }

  void migrate() {
    std::scoped_lock lock(mutex_);
    write([&] {
      db_->execute("CREATE TABLE IF NOT EXISTS " + tables_.schema_version +
                   " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)");
      std::int64_t current = 0;
      {
        auto c = db_->use("SELECT coalesce(max(version), 0) FROM " + tables_.schema_version);
        if (c.step()) current = c.integer(0);
      }
      if (current > sqlite_schema_version)
        throw detail::sqlite::failure(
            detail::concat(tables_.schema_version, " says version ", std::to_string(current),
                           ", newer than this errand understands (", std::to_string(sqlite_schema_version),
                           "); refusing to write to it"),
            0, {});
      for (const auto& migration : sqlite_migrations(tables_)) {
        if (migration.version <= current) continue;
        for (const auto& column : migration.added_columns)
          if (!db_->has_column(column.table, column.name))
            db_->execute("ALTER TABLE " + column.table + " ADD COLUMN " + column.name + " " + column.definition);
        for (const auto& statement : migration.statements) db_->execute(statement);
        auto c = db_->use("INSERT INTO " + tables_.schema_version +
                          " (version, description, applied_at) VALUES (?1, ?2, ?3)");
        c.bind(1, std::int64_t{migration.version});
        c.bind(2, migration.description);
        c.bind(3, std::chrono::time_point_cast<duration>(std::chrono::system_clock::now()));
        c.step();
      }
    });
  }

  // Runs `work` in a BEGIN IMMEDIATE transaction and commits it when
  // `keep(result)` says so; rolls back on any exception. Busy or locked rolls
  // back and runs `work` again. Call with mutex_ held.
  template <class Work, class Keep>
  std::invoke_result_t<Work&> write(Work&& work, Keep&& keep) {
    return read([&] { return db_->transaction(work, keep); });
  }

  template <class Work>
  std::invoke_result_t<Work&> write(Work&& work) {
    return write(std::forward<Work>(work), [](const auto&) { return true; });
  }

  template <class Work>
  std::invoke_result_t<Work&> read(Work&& work) const {
    return detail::sqlite::retrying_busy(options_.max_busy_retries, std::forward<Work>(work));
  }

  // On `db`: the store's own connection, or an application's.
  enqueued insert(detail::sqlite::connection& db, const job_spec& spec, time_point now) {
    if (spec.unique_key) {
      std::string states;  // ",pending,running,": the states that hold the key; empty: any
      for (const auto state : spec.unique_states) {
        states += ',';
        states += *name_of(state);  // appended: "," + name trips GCC 12's -Wrestrict at -O3
      }
      if (!states.empty()) states += ",";
      auto c = detail::sqlite::use_on(db, *db_, sql_.find_holder);
      c.bind(1, *spec.unique_key);
      if (states.empty())
        c.bind(2, std::nullopt);
      else
        c.bind(2, states);
      c.bind(3, spec.unique_period ? std::optional<time_point>(now - *spec.unique_period) : std::nullopt);
      if (c.step()) return {c.integer(0), false};
    }
    const job row = detail::new_job_row(spec, 0, now);
    auto c = detail::sqlite::use_on(db, *db_, sql_.insert);
    c.bind(1, row.queue);
    c.bind(2, row.kind);
    c.bind(3, row.payload);
    c.bind(4, *name_of(row.state));
    c.bind(5, row.priority);
    c.bind(6, row.attempt);
    c.bind(7, row.max_attempts);
    c.bind(8, row.run_at);
    c.bind(9, row.version);
    c.bind(10, row.unique_key);
    c.bind(11, row.created_at);
    c.bind(12, row.updated_at);
    c.step();
    return {c.integer(0), true};
  }

  // The compare-and-set: parameters 1-16 of update_set.
  static void bind_update(detail::sqlite::cursor& c, const decision& d) {
    const job& next = d.next;
    c.bind(1, next.id);
    c.bind(2, d.expected_version);
    c.bind(3, *name_of(next.state));
    c.bind(4, next.attempt);
    c.bind(5, next.max_attempts);
    c.bind(6, next.run_at);
    c.bind(7, next.worker);
    c.bind(8, next.lease_until);
    c.bind(9, next.heartbeat_at);
    c.bind(10, next.last_error);
    c.bind(11, next.last_error_kind);
    c.bind(12, next.last_error_at);
    c.bind(13, next.detail);
    c.bind(14, next.version);
    c.bind(15, next.updated_at);
    c.bind(16, std::int64_t{d.record ? 1 : 0});
  }

  void insert_history(const history_record& r) {
    auto c = db_->use(sql_.insert_history);
    c.bind(1, r.job_id);
    c.bind(2, r.seq);
    c.bind(3, *name_of(r.from));
    c.bind(4, *name_of(r.to));
    c.bind(5, r.event);
    c.bind(6, r.payload);
    c.bind(7, r.attempt);
    c.bind(8, r.worker);
    c.bind(9, r.at);
    c.step();
  }

  // Appends d's history record as number `seq`; the notification to send
  // after commit, unless there is no record or nobody listens.
  std::optional<notification> append_history(const decision& d, const job& row, std::int64_t seq) {
    if (!d.record) return std::nullopt;
    history_record record = *d.record;
    record.job_id = row.id;
    record.seq = seq;
    insert_history(record);
    if (listeners_.empty()) return std::nullopt;
    return notification{row, std::move(record)};
  }

  std::pair<write_result, std::optional<notification>> write_decision(const decision& d) {
    std::int64_t seq = 0;
    {
      auto c = db_->use(sql_.update);
      bind_update(c, d);
      if (!c.step()) {
        auto exists = db_->use(sql_.version_of);
        exists.bind(1, d.next.id);
        return {exists.step() ? write_result::conflict : write_result::not_found, std::nullopt};
      }
      seq = c.integer(0);
    }
    return {write_result::applied, append_history(d, d.next, seq)};
  }

  struct claimed_jobs {
    std::vector<job> rows;
    std::vector<notification> committed;
  };

  // What queue settings allow a claim: the queues it must not take from
  // (paused, or limited and full) and how many more it may take from each
  // limited queue. Read inside the claim's write transaction, so no other
  // claimer runs between the count and the claim.
  struct claim_allowance {
    std::vector<std::string> excluded;
    std::map<std::string, std::int64_t> room;
  };

  claim_allowance allowance_for(const claim_request& request) {
    claim_allowance allowance;
    for (const auto& setting : all_queue_settings()) {
      if (!request.queues.empty() &&
          std::find(request.queues.begin(), request.queues.end(), setting.queue) == request.queues.end())
        continue;
      if (setting.paused) {
        allowance.excluded.push_back(setting.queue);
        continue;
      }
      if (!setting.max_running) continue;
      auto c = db_->use(sql_.running_in_queue);
      c.bind(1, setting.queue);
      const std::int64_t room = *setting.max_running - (c.step() ? c.integer(0) : 0);
      if (room > 0)
        allowance.room[setting.queue] = room;
      else
        allowance.excluded.push_back(setting.queue);
    }
    return allowance;
  }

  // Up to `limit` due jobs in claim order, from the requested queues minus `excluded`.
  std::vector<job> due_jobs(const claim_request& request, const std::vector<std::string>& excluded, std::size_t limit) {
    std::vector<job> candidates;
    std::string sql;
    const auto list = [&](std::size_t count, int first) {
      std::string text = "(";
      for (std::size_t i = 0; i < count; ++i) text += (i ? ", ?" : "?") + std::to_string(first + static_cast<int>(i));
      return text + ")";
    };
    if (!request.queues.empty() || !excluded.empty()) {
      sql = sql_.due;
      if (!request.queues.empty()) sql += " AND queue IN " + list(request.queues.size(), 2);
      if (!excluded.empty())
        sql += " AND queue NOT IN " + list(excluded.size(), 2 + static_cast<int>(request.queues.size()));
      sql += sql_.due_order;
    }
    auto c = sql.empty() ? db_->use(sql_.due_in_any_queue) : db_->use(sql);
    c.bind(1, request.now);
    int parameter = 2;
    for (const auto& queue : request.queues) c.bind(parameter++, queue);
    for (const auto& queue : excluded) c.bind(parameter++, queue);
    while (candidates.size() < limit && c.step()) {
      try {
        candidates.push_back(detail::sqlite::read_row<job>(c));
      } catch (const corrupt_row&) {
        // Unreadable: skipped, so that one bad row does not stop the queue; get() reports it.
      }
    }
    return candidates;
  }

  claimed_jobs claim_due(const claim_request& request, std::size_t limit) {
    auto allowance = allowance_for(request);
    claimed_jobs claimed;
    for (;;) {
      bool queue_filled = false;  // a limited queue ran out of room with more of its jobs due
      for (const auto& row : due_jobs(request, allowance.excluded, limit - claimed.rows.size())) {
        const auto room = allowance.room.find(row.queue);
        if (room != allowance.room.end() && room->second == 0) {
          queue_filled = true;
          continue;
        }
        const auto d = decide(row, errand::claim{request.worker, request.lease}, retry_policy{}, request.now);
        if (!d.applied()) continue;  // its run_at text sorted as due, but the time it holds is not
        std::int64_t seq = 0;
        job written;
        {
          auto c = db_->use(sql_.claim);
          bind_update(c, d);
          if (!c.step()) continue;
          seq = c.integer(0);
          written = detail::sqlite::read_row<job>(c, 1);
        }
        if (auto note = append_history(d, written, seq)) claimed.committed.push_back(std::move(*note));
        claimed.rows.push_back(std::move(written));
        if (room != allowance.room.end() && --room->second == 0) allowance.excluded.push_back(row.queue);
      }
      // Jobs of a queue that filled up were passed over: look again without that queue.
      if (!queue_filled || claimed.rows.size() >= limit) return claimed;
    }
  }

  std::vector<queue_setting> all_queue_settings() const {
    std::vector<queue_setting> out;
    auto c = db_->use(sql_.queue_settings);
    while (c.step()) out.push_back(read_queue_setting(c));
    return out;
  }

  static queue_setting read_queue_setting(const detail::sqlite::cursor& c) {
    queue_setting setting{std::string(c.text(0)), c.integer(1) != 0};
    if (c.type(2) != SQLITE_NULL) setting.max_running = static_cast<std::int32_t>(c.integer(2));
    const auto updated = from_iso8601(c.text(3));
    if (!updated)
      throw store_error("errand sqlite: queue '" + setting.queue + "' has updated_at '" + std::string(c.text(3)) +
                        "', which is not an ISO-8601 UTC time");
    setting.updated_at = *updated;
    return setting;
  }

  template <class Change>
  queue_setting change_queue(const std::string& queue, time_point now, Change change) {
    validate_queue_setting(queue, std::nullopt);
    std::scoped_lock lock(mutex_);
    return write([&] {
      queue_setting setting{queue};
      {
        auto c = db_->use(sql_.queue_setting_of);
        c.bind(1, queue);
        if (c.step()) setting = read_queue_setting(c);
      }
      change(setting);
      setting.updated_at = now;
      if (is_default(setting)) {
        auto c = db_->use(sql_.delete_queue_setting);
        c.bind(1, queue);
        c.step();
      } else {
        auto c = db_->use(sql_.put_queue_setting);
        c.bind(1, queue);
        c.bind(2, std::int64_t{setting.paused ? 1 : 0});
        c.bind(3, setting.max_running);
        c.bind(4, now);
        c.step();
      }
      return setting;
    });
  }

  sqlite_options options_;
  sqlite_tables tables_;
  mutable statements sql_;
  mutable std::mutex mutex_;
  std::unique_ptr<detail::sqlite::connection> db_;
  detail::listeners listeners_;
};

}  // namespace detail::sqlite

ERRAND_DECL sqlite_store::sqlite_store(const std::string& path, sqlite_options options)
    : store_facade(std::make_unique<detail::sqlite::store_engine>(path, std::move(options))) {}
ERRAND_DECL sqlite_store::sqlite_store(adopt_connection_t, sqlite3* db, sqlite_options options)
    : store_facade(std::make_unique<detail::sqlite::store_engine>(adopt_connection, db, std::move(options))) {}

ERRAND_DECL const sqlite_tables& sqlite_store::tables() const noexcept { return engine().tables(); }
ERRAND_DECL const sqlite_options& sqlite_store::options() const noexcept { return engine().options(); }
ERRAND_DECL enqueued sqlite_store::enqueue(sqlite3* app_connection, const job_spec& spec, time_point now) {
  return engine().enqueue(app_connection, spec, now);
}
ERRAND_DECL std::int64_t sqlite_store::history_position() const { return engine().history_position(); }
ERRAND_DECL std::vector<sqlite_store::positioned_record> sqlite_store::history_after(std::int64_t position,
                                                                                     std::size_t limit) const {
  return engine().history_after(position, limit);
}

}  // namespace errand

#endif
