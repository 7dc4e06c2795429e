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
// roll back together, and listeners hear of it only after COMMIT. The job
// queue writes its transitions as every SQLite record store does
// (detail/transitions.hpp): the job lifecycle is one more record definition,
// errand::job_records, on the jobs and history tables. A claim reads the next
// due job through a partial index, lets decide() start the attempt and writes
// it the same way, all inside that one transaction, so two claimers (threads
// or processes) never get the same attempt.
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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
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

  // Waking idle workers (store_facade): what this store writes (an enqueue,
  // a retry or a requeue, a queue resumed or given room) is announced at
  // once, and a job another process or connection enqueued within a few
  // milliseconds (PRAGMA data_version, checked every 5 ms while waiting); a
  // retry or requeue written elsewhere waits for next_run_at() or the
  // caller's timeout.
};

static_assert(operator_store<sqlite_store>);
static_assert(queue_controls<sqlite_store>);
static_assert(announces_work_stoppably<sqlite_store>);
static_assert(knows_next_due<sqlite_store>);

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
#include <errand/detail/work_signal.hpp>
#include <errand/job_records.hpp>
#include <errand/outcome.hpp>
#include <errand/queue_settings.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/enqueue_watch.hpp>
#include <errand/sqlite/detail/migrate.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/detail/statements.hpp>
#include <errand/sqlite/detail/transitions.hpp>
#include <errand/sqlite/schema.hpp>
#include <errand/sqlite/sqlite_options.hpp>
#include <errand/store.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
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
      : options_(std::move(options)),
        tables_(sqlite_tables_for(options_.table_prefix)),
        sql_(tables_),
        db_(path, options_, migrate_tables()) {}

  // Uses `db` without owning it: the application closes it after the store is
  // gone, and must not run its own transaction on it while a store call is
  // running. The store sets no PRAGMA on it (journal mode, synchronous and
  // busy timeout stay the application's); it creates or migrates its tables.
  store_engine(adopt_connection_t, sqlite3* db, sqlite_options options = {})
      : options_(std::move(options)),
        tables_(sqlite_tables_for(options_.table_prefix)),
        sql_(tables_),
        db_(db, options_, migrate_tables()) {}

  store_engine(const store_engine&) = delete;
  store_engine& operator=(const store_engine&) = delete;

  const sqlite_tables& tables() const noexcept { return tables_; }
  const sqlite_options& options() const noexcept { return options_; }

  enqueued enqueue(const job_spec& spec, time_point now) {
    validate(spec);
    const auto done = db_.write([&] { return insert(*db_, spec, now); });
    if (done.created) work_.announce();
    return done;
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
    auto done = db_.write([&] {
      std::vector<enqueued> out;
      out.reserve(specs.size());
      for (const auto& spec : specs) out.push_back(insert(*db_, spec, now));
      return out;
    });
    work_.announce();
    return done;
  }

  std::optional<job> get(std::int64_t id) const {
    return db_.read([&]() -> std::optional<job> {
      auto c = db_->use(sql_.get);
      c.bind(1, id);
      if (!c.step()) return std::nullopt;
      return detail::sqlite::read_row<job>(c);
    });
  }

  write_result apply(const decision& d) {
    require_applied(d);
    const auto written = db_.write([&] { return write_decision(d); });
    if (written.second) transitions_.notify(*written.second);
    if (written.first == write_result::applied && is_claimable(d.next.state)) work_.announce();
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
    auto done = db_.write(
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
    if (!done.all_applied) {
      for (auto& r : done.results)
        if (r == write_result::applied) r = write_result::conflict;
      return done.results;
    }
    for (const auto& n : done.committed) transitions_.notify(n);
    if (std::any_of(decisions.begin(), decisions.end(), [](const decision& d) { return is_claimable(d.next.state); }))
      work_.announce();
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
    auto done = db_.write([&] { return claim_due(request, limit); });
    for (const auto& n : done.committed) transitions_.notify(n);
    return std::move(done.rows);
  }

  std::vector<job> expired_leases(time_point now, std::size_t limit) const {
    return db_.read([&] {
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
    return db_.read([&] {
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
    return db_.read([&] {
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
    return db_.read([&] {
      auto c = db_->use(sql_.history_position);
      return c.step() ? c.integer(0) : std::int64_t{0};
    });
  }

  std::uint64_t work_epoch() const noexcept { return work_.epoch(); }

  // In slices of 5 ms, between which the enqueue watch looks at the file.
  bool wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop) {
    std::call_once(watch_opened_, [&] {
      try {
        watch_ = enqueue_watch::of(db_->handle(), tables_.jobs);
      } catch (const failure&) {
        // Not readable by a second connection: announcements of this store's own writes still wake.
      }
    });
    constexpr std::chrono::milliseconds slice{5};
    const auto deadline = std::chrono::steady_clock::now() + detail::waitable(timeout);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (work_.wait(since, std::clamp(left, std::chrono::milliseconds{0}, slice), stop)) return true;
      if (stop.stop_requested() || left <= slice) return false;
      if (watch_ && watch_->enqueued()) {
        work_.announce();
        return true;
      }
    }
  }

  std::optional<time_point> next_run_at(time_point after) const {
    return db_.read([&]() -> std::optional<time_point> {
      auto c = db_->use(sql_.next_run_at);
      c.bind(1, after);
      if (!c.step() || c.type(0) == SQLITE_NULL) return std::nullopt;
      return from_iso8601(c.text(0));
    });
  }

  std::vector<positioned_record> history_after(std::int64_t position, std::size_t limit) const {
    return db_.read([&] {
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
    return db_.read([&] {
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
    return db_.read([&] {
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
    return db_.read([&] {
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
    return db_.write([&] {
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
      if (request.keep_history) result.history_deleted += transitions_.trim_history(*db_, *request.keep_history);
      return result;
    });
  }

  subscription subscribe(listener on_commit) { return transitions_.subscribe(std::move(on_commit)); }

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
    return db_.read([&] { return all_queue_settings(); });
  }

 private:
  static void require_applied(const decision& d) {
    if (!d.applied()) throw std::invalid_argument("errand: only an applied decision can be written");
  }

  // What opening the store runs first: its tables created or upgraded.
  std::function<void(detail::sqlite::connection&)> migrate_tables() {
    return [this](detail::sqlite::connection& db) { detail::sqlite::migrate_job_tables(db, tables_); };
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
      c.bind(3, spec.unique_period ? std::optional<time_point>(shifted(now, -*spec.unique_period)) : std::nullopt);
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

  // The decision's row and history record, through the writer every SQLite
  // store writes with; the notification to send after commit, unless there is
  // no record or nobody listens. A row at another version is a conflict.
  std::pair<write_result, std::optional<notification>> write_decision(const decision& d) {
    std::optional<history_record> record = d.record;
    if (record) record->job_id = d.next.id;
    if (!transitions_.write(*db_, *db_, d.next, d.expected_version, record ? &*record : nullptr)) {
      auto exists = db_->use(sql_.version_of);
      exists.bind(1, d.next.id);
      return {exists.step() ? write_result::conflict : write_result::not_found, std::nullopt};
    }
    if (!record) return {write_result::applied, std::nullopt};
    return {write_result::applied, transitions_.note(d.next, *record)};
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
        auto d = decide(row, errand::claim{request.worker, request.lease}, retry_policy{}, request.now);
        if (!d.applied()) continue;  // its run_at text sorted as due, but the time it holds is not
        auto [result, note] = write_decision(d);
        if (result != write_result::applied) continue;
        if (note) claimed.committed.push_back(std::move(*note));
        claimed.rows.push_back(std::move(d.next));
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
    auto result = db_.write([&] {
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
    work_.announce();  // a queue resumed or given room has work to hand out
    return result;
  }

  sqlite_options options_;
  sqlite_tables tables_;
  mutable statements sql_;
  transition_writer<job_records, history_record, notification> transitions_{tables_.jobs, tables_.history,
                                                                            fixed_at_enqueue};
  detail::sqlite::store_connection db_;
  detail::work_signal work_;
  std::once_flag watch_opened_;
  std::unique_ptr<enqueue_watch> watch_;  // opened by the first wait: other processes' enqueues
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
