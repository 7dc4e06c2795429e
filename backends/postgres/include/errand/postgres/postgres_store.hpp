// errand::postgres_store: the backend for many workers on many machines. One
// PostgreSQL database holds the jobs, their history and the schema version;
// any number of processes open stores on it.
//
//   errand::postgres_store store("postgresql://worker@db.example/app");
//   errand::postgres_store other({.url = url, .schema = "jobs", .table_prefix = ""});
//
// Every write is one statement in one transaction: the row's compare-and-set
// (UPDATE … WHERE id = $ AND version = $), the history INSERT with the next
// sequence number and pg_notify commit or roll back together; the statement
// is the one every record store writes with (detail/transitions.hpp). A claim locks
// the next due rows with SELECT … FOR UPDATE SKIP LOCKED, lets decide() start
// each attempt and writes them in the same transaction, so claimers in any
// number of processes never get the same attempt and never wait for each other.
//
// Threads: a store is safe to share. It keeps up to options.max_connections
// connections; each call borrows one. Processes: each opens its own store.
//
// Failures: a connection that breaks fails the operation in flight with
// postgres_connection_error and nothing of it is written (it was one
// transaction); the next operation connects again, retrying with a doubling
// pause. A server that refuses the connection for good (an unknown role, a
// wrong password, a missing database) fails at once with
// postgres_login_error, naming its reason. All are store_errors
// (<errand/postgres/postgres_errors.hpp>). A deadlock
// or serialization failure is retried. Bad input (a NUL byte, invalid UTF-8,
// a payload that is not JSON) is refused before anything is written, naming
// the job_spec and the field.
//
// Observers: subscribers in this process are called after commit, on the
// committing thread. Transitions committed by other processes (or other
// stores in this one) arrive through LISTEN on a thread of this store, which
// reads the row and the record before calling the subscribers. Idle workers
// wait with wait_for_work() and wake when any process enqueues or schedules
// a retry.

#ifndef ERRAND_POSTGRES_POSTGRES_STORE_HPP
#define ERRAND_POSTGRES_POSTGRES_STORE_HPP

#include <errand/config.hpp>
#include <errand/detail/store_facade.hpp>
#include <errand/postgres/postgres_errors.hpp>
#include <errand/postgres/postgres_options.hpp>
#include <errand/postgres/schema.hpp>

#include <pqxx/types>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

namespace errand {

namespace detail::pg {
class store_engine;
}

// The operations of store and operator_store (store.hpp) come from store_facade.
class postgres_store : public detail::store_facade<detail::pg::store_engine> {
 public:
  // Connects, and migrates the tables unless options.migrate is false (then
  // they must be at this errand's schema version already).
  explicit postgres_store(postgres_options options);
  explicit postgres_store(std::string url);

  const postgres_tables& tables() const noexcept;

  using store_facade::enqueue;
  using store_facade::enqueue_batch;

  // Enqueues inside the application's own transaction (a pqxx::work, or
  // another pqxx::dbtransaction, on the application's connection), so the
  // jobs exist if and only if that transaction commits, together with the
  // application's own writes:
  //
  //   pqxx::work tx(connection);
  //   tx.exec("INSERT INTO orders ...");
  //   store.enqueue(tx, {.kind = "ship", .payload = R"({"order":42})"}, clock.now());
  //   tx.commit();
  //
  // errand's statements run in a savepoint, so a refused enqueue (a
  // store_error) leaves the application's transaction usable. Idle workers
  // of every process, this one's included, are woken when it commits. Bad
  // input is refused as by enqueue(), before anything is sent.
  enqueued enqueue(pqxx::transaction_base& application, const job_spec& spec, time_point now);
  std::vector<enqueued> enqueue_batch(pqxx::transaction_base& application, std::span<const job_spec> specs,
                                      time_point now);

  // The time by the server's clock; postgres_server_clock keeps workers to it.
  time_point server_time() const;

  // Waking idle workers (store_facade): a job enqueued, or a retry
  // scheduled, by this process or any other is announced through
  // LISTEN/NOTIFY. Run-at times in the future are not announced when they
  // come due: next_run_at() says when the next one does.
};

static_assert(operator_store<postgres_store>);
static_assert(queue_controls<postgres_store>);
static_assert(announces_work_stoppably<postgres_store>);
static_assert(knows_next_due<postgres_store>);

}  // namespace errand

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/postgres/src.hpp>.
extern template class errand::detail::store_facade<errand::detail::pg::store_engine>;
#endif

#endif

// The implementation: in every translation unit by default, once with
// ERRAND_SEPARATE_COMPILATION (in the one that includes <errand/postgres/src.hpp>).
#if (!defined(ERRAND_SEPARATE_COMPILATION) || defined(ERRAND_POSTGRES_SOURCE)) && \
    !defined(ERRAND_POSTGRES_POSTGRES_STORE_IMPLEMENTATION)
#define ERRAND_POSTGRES_POSTGRES_STORE_IMPLEMENTATION

#include <errand/decide.hpp>
#include <errand/detail/listeners.hpp>
#include <errand/detail/work_signal.hpp>
#include <errand/error_text.hpp>
#include <errand/job_records.hpp>
#include <errand/outcome.hpp>
#include <errand/postgres/detail/connection.hpp>
#include <errand/postgres/detail/notification_thread.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/detail/statements.hpp>
#include <errand/postgres/detail/transitions.hpp>
#include <errand/postgres/migrate.hpp>
#include <errand/postgres/postgres_errors.hpp>
#include <errand/postgres/postgres_options.hpp>
#include <errand/postgres/schema.hpp>
#include <errand/queue_settings.hpp>
#include <errand/store.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace errand {

namespace detail::pg {

class store_engine {
 public:
  explicit store_engine(postgres_options options)
      : options_(std::move(options)),
        tables_(postgres_tables_for(options_.schema, options_.table_prefix)),
        pool_({options_.url, options_.max_connections, options_.connect_attempts, options_.reconnect_backoff,
               [this](detail::pg::connection& c) {
                 for (const auto* s : sql_.all()) c.prepare(s->name, s->sql);
               }}),
        sql_(tables_, migrated()),
        listeners_({options_.url, tables_.channel, options_.connect_attempts, options_.reconnect_backoff},
                   [this](const std::string& payload) { heard(payload); }) {}

  store_engine(const store_engine&) = delete;
  store_engine& operator=(const store_engine&) = delete;

  ~store_engine() { listeners_.stop(pool_); }

  const postgres_tables& tables() const noexcept { return tables_; }

  // The time by the server's clock; postgres_server_clock keeps workers to it.
  time_point server_time() const {
    const auto rows = read(sql_.server_time, {});
    const auto text = rows.at(0).at(0).value_or("");
    const auto at = from_iso8601(text);
    if (!at) throw store_error("errand: PostgreSQL gave '" + text + "' as the time");
    return *at;
  }

  // A single spec is checked alone, so that a refusal names it as every store
  // does, not as a batch's first.
  enqueued enqueue(const job_spec& spec, time_point now) {
    validate(spec);
    return enqueue_checked(std::span<const job_spec>(&spec, 1), now).front();
  }

  // One statement for the whole batch; all or nothing.
  std::vector<enqueued> enqueue_batch(std::span<const job_spec> specs, time_point now) {
    validate(specs);
    return enqueue_checked(specs, now);
  }

  // The same inside the application's transaction, in a savepoint: the jobs
  // exist if and only if it commits. Their announcement is sent by NOTIFY,
  // which PostgreSQL delivers at that commit, to every process's idle
  // workers, this one's included (its LISTEN thread hears an origin not its own).
  enqueued enqueue(pqxx::transaction_base& application, const job_spec& spec, time_point now) {
    validate(spec);
    return enqueue_checked(application, std::span<const job_spec>(&spec, 1), now).front();
  }
  std::vector<enqueued> enqueue_batch(pqxx::transaction_base& application, std::span<const job_spec> specs,
                                      time_point now) {
    validate(specs);
    return enqueue_checked(application, specs, now);
  }

  std::optional<job> get(std::int64_t id) const {
    const auto rows = read(sql_.get, {detail::pg::text_of(id)});
    if (rows.empty()) return std::nullopt;
    return detail::pg::read_row<job>(rows.front());
  }

  write_result apply(const decision& d) { return write(std::span<const decision>(&d, 1)).front(); }

  // All or nothing: when one decision conflicts, none is written.
  std::vector<write_result> apply_batch(std::span<const decision> decisions) { return write(decisions); }

  std::optional<job> claim(const claim_request& request) {
    auto claimed = claim_batch(request, 1);
    if (claimed.empty()) return std::nullopt;
    return std::move(claimed.front());
  }

  // Paused queues are left out. When a due job belongs to a limited queue,
  // the claim locks the limited queues' settings, counts their running jobs
  // and takes no more than the room left; claimers of a limited queue wait
  // for one another there, and nowhere else.
  std::vector<job> claim_batch(const claim_request& request, std::size_t limit) {
    validate(request);
    if (limit == 0) return {};
    const auto queues = request.queues.empty() ? detail::pg::cell{} : text_array(request.queues);
    if (auto claimed = claim_in_one_statement(request, limit, queues)) return std::move(*claimed);
    std::vector<decision> decisions;
    std::vector<std::optional<std::int64_t>> seqs;
    with_connection([&](detail::pg::connection& c) {
      c.in_transaction([&](detail::pg::transaction& tx) {
        decisions.clear();
        seqs.clear();
        std::vector<detail::pg::cell> full;  // limited queues with no room left
        std::optional<std::map<std::string, std::int64_t>> room;
        for (;;) {
          const auto at = to_iso8601(request.now);
          const auto wanted = detail::pg::text_of(as_int(limit - decisions.size()));
          const auto not_from = full.empty() ? detail::pg::cell{} : detail::pg::array_literal(full);
          const auto rows = queues ? (not_from ? run(tx, sql_.claimable_in_except, {at, wanted, not_from, queues})
                                               : run(tx, sql_.claimable_in, {at, wanted, queues}))
                                   : (not_from ? run(tx, sql_.claimable_any_except, {at, wanted, not_from})
                                               : run(tx, sql_.claimable_any, {at, wanted}));
          const bool limited = std::any_of(
              rows.begin(), rows.end(), [](const detail::pg::row& cells) { return cells.at(job_columns).has_value(); });
          if (limited && !room) room = lock_limited_queues(tx, queues, full);
          std::vector<decision> pass;
          bool queue_filled = false;  // a limited queue ran out of room with more of its jobs due
          for (const auto& cells : rows) {
            std::optional<job> row;
            try {
              row = detail::pg::read_row<job>(cells);
            } catch (const corrupt_row&) {
              continue;  // one unreadable row never stops a queue; get() and query() report it
            }
            if (room)
              if (const auto left = room->find(row->queue); left != room->end()) {
                if (left->second == 0) {
                  queue_filled = true;
                  continue;
                }
                if (--left->second == 0) full.push_back(row->queue);
              }
            auto d = decide(*row, errand::claim{request.worker, request.lease}, retry_policy{}, request.now);
            if (!d.applied()) throw store_error("errand: postgres store could not claim: " + d.reason);
            pass.push_back(std::move(d));
          }
          if (!pass.empty()) {
            const auto written = write_all(tx, pass);
            if (!all_written(written))
              throw store_error("errand: claimed rows changed under their row locks; nothing was claimed");
            seqs.insert(seqs.end(), written.begin(), written.end());
            decisions.insert(decisions.end(), std::make_move_iterator(pass.begin()),
                             std::make_move_iterator(pass.end()));
          }
          // Jobs of a queue that filled up were passed over: look again without that queue.
          if (!queue_filled || decisions.size() >= limit) return;
        }
      });
    });
    return committed(decisions, seqs);
  }

  // The claim when no queue it may take from has a limit: one statement
  // (detail/claim.hpp), which returns the rows in claim order. nullopt: a
  // limited queue's room must be counted, in claim_batch's transaction.
  std::optional<std::vector<job>> claim_in_one_statement(const claim_request& request, std::size_t limit,
                                                         const detail::pg::cell& queues) {
    const auto values = detail::pg::claim_parameters(errand::claim{request.worker, request.lease}, request.now);
    const auto params = detail::pg::one_statement_claim_parameters(values, request.now, as_int(limit), queues,
                                                                   sql_.transitions.target, listeners_.origin());
    const auto& statement = queues ? sql_.claim_in : sql_.claim_any;
    detail::pg::rows rows;
    try {
      rows = with_connection([&](detail::pg::connection& c) {
        return c.autocommit([&](detail::pg::transaction& tx) {
          return tx.exec_statement(statement.name, statement.sql, params);
        });
      });
    } catch (const detail::pg::statement_failed& e) {
      // A row claimed, released and due again after this statement's
      // snapshot was taken is locked in its newest version, but its history
      // is read as of that snapshot: the entry's seq is taken already, and the
      // statement rolled back. The transaction reads the history afresh.
      if (e.sqlstate == unique_violation) return std::nullopt;
      throw;
    }
    constexpr std::size_t columns = boost::mp11::mp_size<detail::public_members<job>>::value;
    std::vector<decision> decisions;
    std::vector<std::optional<std::int64_t>> seqs;
    for (const auto& cells : rows) {
      if (!cells.at(0)) {
        if (cells.at(columns + 2) == "t") return std::nullopt;
        continue;  // nothing was due
      }
      // The WHERE admits only claimable states (a name the CHECK knows), and
      // the row leaves as running: the row and the state it left both read.
      decision d;
      d.outcome = verdict::applied;
      d.next = detail::pg::read_row<job>(cells);
      d.expected_version = d.next.version - 1;
      d.record = values.entry;
      d.record->job_id = d.next.id;
      d.record->from = from_name<job_state>(cells.at(columns + 1).value_or("")).value_or(job_state::pending);
      d.record->attempt = d.next.attempt;
      seqs.push_back(integer_of(cells.at(columns)));
      decisions.push_back(std::move(d));
    }
    return committed(decisions, seqs);
  }

  std::vector<job> expired_leases(time_point now, std::size_t limit) const {
    std::vector<job> out;
    for (const auto& cells : read(sql_.expired, {to_iso8601(now), detail::pg::text_of(as_int(limit))})) {
      try {
        out.push_back(detail::pg::read_row<job>(cells));
      } catch (const corrupt_row&) {
        // the reaper goes on with the other jobs; get() reports this one
      }
    }
    return out;
  }

  std::vector<job> query(const job_query& q) const {
    const auto state = q.state ? detail::pg::cell(std::string(name_of(*q.state).value_or("?"))) : std::nullopt;
    const auto has_error = q.has_error ? detail::pg::cell(*q.has_error ? "true" : "false") : std::nullopt;
    validate(q);
    const auto since = detail::pg::text_of(q.updated_since);
    const auto before = detail::pg::text_of(q.updated_before);
    const auto limit = detail::pg::text_of(as_int(q.limit));
    const auto id = detail::pg::text_of(q.after_id);
    const auto rows =
        q.order == job_order::by_id
            ? read(sql_.query, {id, state, q.queue, q.kind, has_error, limit, since, before})
            : read(sql_.query_recent, {id, state, q.queue, q.kind, has_error, limit, since, before,
                                       q.after_update ? detail::pg::text_of(q.after_update->updated_at) : std::nullopt,
                                       q.after_update ? detail::pg::text_of(q.after_update->id) : std::nullopt});
    std::vector<job> out;
    for (const auto& cells : rows) out.push_back(detail::pg::read_row<job>(cells));
    return out;
  }

  std::vector<history_record> history(std::int64_t id) const {
    std::vector<history_record> out;
    for (const auto& cells : read(sql_.history, {detail::pg::text_of(id)}))
      out.push_back(detail::pg::read_row<history_record>(cells));
    return out;
  }

  // A history payload errand cannot parse is reported as corrupt_row, naming
  // the job and the record.
  std::optional<outcome> latest_outcome(std::int64_t id) const { return latest_outcome_of_job(id, history(id)); }

  state_counts count_by_state() const {
    state_counts counts;
    for (const auto& cells : read(sql_.counts, {})) {
      const auto state = from_name<job_state>(cells.at(0).value_or(""));
      if (!state)
        throw corrupt_row(integer_of(cells.at(2)),
                          "column 'state' holds '" + cells.at(0).value_or("") + "', which is not a job state");
      counts[*state] = integer_of(cells.at(1));
    }
    return counts;
  }

  // A state name errand does not know is reported as count_by_state() reports it.
  std::vector<queue_summary> summarize(const summary_request& request) const {
    std::map<std::string, queue_summary> queues;
    for (const auto& cells : read(sql_.summary, {to_iso8601(request.since), to_iso8601(request.now)})) {
      auto& summary = queues[cells.at(0).value_or("")];
      summary.queue = cells.at(0).value_or("");
      const auto state = from_name<job_state>(cells.at(1).value_or(""));
      if (!state)
        throw corrupt_row(integer_of(cells.at(5)),
                          "column 'state' holds '" + cells.at(1).value_or("") + "', which is not a job state");
      summary.jobs[*state] = integer_of(cells.at(2));
      if (const auto recent = integer_of(cells.at(3)); recent > 0) summary.updated_since[*state] = recent;
      summary.due += integer_of(cells.at(4));
    }
    for (const auto& cells : read(sql_.oldest_due, {to_iso8601(request.now)})) {
      auto& summary = queues[cells.at(0).value_or("")];
      summary.oldest_due_id = integer_of(cells.at(1));
      summary.oldest_due_at = from_iso8601(cells.at(2).value_or(""));
    }
    std::vector<queue_summary> out;
    for (auto& [name, summary] : queues) out.push_back(std::move(summary));
    return out;
  }

  std::vector<error_group> error_groups(const error_group_query& q) const {
    validate(q);
    const auto state = q.state ? detail::pg::cell(std::string(name_of(*q.state).value_or("?"))) : std::nullopt;
    std::vector<error_group> out;
    for (const auto& cells :
         read(sql_.error_groups, {detail::pg::text_of(as_int(q.limit)), detail::pg::text_of(as_int(q.examples)), state,
                                  q.queue, q.kind, detail::pg::text_of(q.since)})) {
      const auto kind = cells.at(0).value_or("");
      const auto message = cells.at(1).value_or("");
      if (out.empty() || out.back().error_kind != kind || out.back().message != message)
        out.push_back({kind,
                       message,
                       integer_of(cells.at(2)),
                       from_iso8601(cells.at(3).value_or("")).value_or(time_point{}),
                       from_iso8601(cells.at(4).value_or("")).value_or(time_point{}),
                       {}});
      if (cells.at(5)) out.back().example_ids.push_back(integer_of(cells.at(5)));
    }
    return out;
  }

  prune_result prune(const prune_request& request) {
    return with_connection([&](detail::pg::connection& c) {
      return c.in_transaction([&](detail::pg::transaction& tx) {
        prune_result result;
        if (request.finished_before) {
          std::vector<detail::pg::cell> ids;
          for (const auto& cells : run(tx, sql_.prune_lock, {to_iso8601(*request.finished_before)}))
            ids.push_back(cells.at(0));
          if (!ids.empty()) {
            const auto list = detail::pg::array_literal(ids);
            result.history_deleted += as_count(run(tx, sql_.prune_history_of, {list}).size());
            result.jobs_deleted += as_count(run(tx, sql_.prune_jobs, {list}).size());
          }
        }
        if (request.keep_history)
          result.history_deleted +=
              as_count(run(tx, sql_.trim_history, {detail::pg::text_of(as_int(*request.keep_history))}).size());
        return result;
      });
    });
  }

  // Listeners in this process hear this store's commits on the committing
  // thread, and every other writer's commits on the notification thread.
  subscription subscribe(listener on_commit) { return listeners_.subscribe(std::move(on_commit)); }

  // For idle workers: take an epoch before claiming, and when the claim
  // comes back empty, wait_for_work(epoch, timeout) returns true as soon as
  // work may have arrived since (a job enqueued, or a retry scheduled, by
  // this process or any other), false after `timeout`. Run-at times in the
  // future are not announced when they come due: keep the timeout to the
  // polling interval you would use otherwise.
  std::uint64_t work_epoch() {
    listeners_.listen();
    return work_.epoch();
  }

  bool wait_for_work(std::uint64_t since, std::chrono::milliseconds timeout, std::stop_token stop) {
    return work_.wait(since, timeout, std::move(stop));
  }

  std::optional<time_point> next_run_at(time_point after) const {
    const auto rows = read(sql_.next_run_at, {to_iso8601(after)});
    if (rows.empty() || !rows.front().at(0)) return std::nullopt;
    return from_iso8601(*rows.front().at(0));
  }

  queue_setting pause_queue(const std::string& queue, time_point now) {
    return change_queue(queue, "true", false, std::nullopt, now);
  }

  // Wakes idle workers of every process: the queue's jobs may be claimed again.
  queue_setting resume_queue(const std::string& queue, time_point now) {
    return change_queue(queue, "false", false, std::nullopt, now);
  }

  // A changed limit wakes idle workers of every process, as a resume does.
  queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running, time_point now) {
    validate_queue_setting(queue, max_running);
    return change_queue(queue, std::nullopt, true, max_running, now);
  }

  std::vector<queue_setting> queue_settings() const {
    std::vector<queue_setting> out;
    for (const auto& cells : read(sql_.queue_settings, {})) out.push_back(read_queue_setting(cells));
    return out;
  }

 private:
  // A claim's rows hold the job's columns, then the limit of its queue.
  static constexpr std::size_t job_columns =
      boost::mp11::mp_size<boost::describe::describe_members<job, boost::describe::mod_public>>::value;

  // Locks the settings of the limited queues a claim may take from and says
  // how many more jobs each may start; those with no room go to `full`.
  std::map<std::string, std::int64_t> lock_limited_queues(detail::pg::transaction& tx, const detail::pg::cell& queues,
                                                          std::vector<detail::pg::cell>& full) const {
    std::map<std::string, std::int64_t> room;
    std::vector<detail::pg::cell> limited;
    for (const auto& cells : run(tx, sql_.lock_limited_queues, {queues})) {
      room[*cells.at(0)] = integer_of(cells.at(1));
      limited.push_back(cells.at(0));
    }
    if (!limited.empty())
      for (const auto& cells : run(tx, sql_.running_in, {detail::pg::array_literal(limited)}))
        room[*cells.at(0)] -= integer_of(cells.at(1));
    for (auto& [queue, left] : room)
      if (left <= 0) {
        left = 0;
        full.push_back(queue);
      }
    return room;
  }

  queue_setting change_queue(const std::string& queue, detail::pg::cell paused, bool change_limit,
                             std::optional<std::int32_t> max_running, time_point now) {
    validate_queue_setting(queue, std::nullopt);
    const bool wakes = paused == "false" || change_limit;
    const auto setting = with_connection([&](detail::pg::connection& c) {
      return c.in_transaction([&](detail::pg::transaction& tx) {
        const auto rows =
            run(tx, sql_.set_queue,
                {queue, paused, change_limit ? "true" : "false",
                 max_running ? detail::pg::cell(std::to_string(*max_running)) : std::nullopt, to_iso8601(now)});
        if (wakes && options_.notify) run(tx, sql_.notify, {tables_.channel, "e " + listeners_.origin()});
        return read_queue_setting(rows.at(0));
      });
    });
    if (wakes) announce_work();
    return setting;
  }

  static queue_setting read_queue_setting(const detail::pg::row& cells) {
    queue_setting setting{cells.at(0).value_or(""), cells.at(1) == "t"};
    if (cells.at(2)) setting.max_running = static_cast<std::int32_t>(integer_of(cells.at(2)));
    const auto updated = from_iso8601(cells.at(3).value_or(""));
    if (!updated)
      throw store_error("errand: queue '" + setting.queue + "' has updated_at '" + cells.at(3).value_or("NULL") +
                        "', which is not an ISO-8601 UTC time");
    setting.updated_at = *updated;
    return setting;
  }
  // Thrown inside a transaction to roll back a batch that cannot be written whole.
  struct batch_refused {};

  static std::int64_t as_int(std::size_t n) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
  }
  static std::int64_t as_count(std::size_t n) { return static_cast<std::int64_t>(n); }

  // Migrates the tables (or checks that they are migrated) on a connection
  // of its own, and reads how they are laid out, before any pooled
  // connection prepares the statements built from that.
  detail::pg::transition_target migrated() {
    auto setup = pool_.open_connection(false);
    if (options_.migrate)
      detail::pg::migrate(*setup, tables_);
    else
      detail::pg::require_migrated(*setup, tables_);
    return setup->autocommit(
        [&](detail::pg::transaction& tx) { return detail::pg::job_transitions(tx, tables_, options_.notify, options_.announce_every_transition);
        });
  }

  // The origin of an enqueue in an application's transaction: no store's, so
  // every store's LISTEN thread, this one's too, hears it once it commits.
  static inline const std::string application_announcement = "e application";
  static constexpr std::string_view unique_violation = "23505";

  static detail::pg::rows run(detail::pg::transaction& tx, const detail::pg::statement& s,
                              std::initializer_list<detail::pg::cell> params) {
    return tx.exec_statement(s.name, s.sql, std::span<const detail::pg::cell>(params.begin(), params.size()));
  }

  template <class Body>
  std::invoke_result_t<Body, detail::pg::connection&> with_connection(
      Body&& body, detail::pg::on_broken broken = detail::pg::on_broken::fail) const {
    return pool_.run(std::forward<Body>(body), broken);
  }

  detail::pg::rows read(const detail::pg::statement& s, std::initializer_list<detail::pg::cell> params) const {
    return with_connection(
        [&](detail::pg::connection& c) {
          return c.autocommit([&](detail::pg::transaction& tx) { return run(tx, s, params); });
        },
        detail::pg::on_broken::retry_once);
  }

  static detail::pg::cell text_array(const std::vector<std::string>& values) {
    std::vector<detail::pg::cell> cells(values.begin(), values.end());
    return detail::pg::array_literal(cells);
  }

  std::vector<enqueued> enqueue_checked(std::span<const job_spec> specs, time_point now) {
    if (specs.empty()) return {};
    try {
      // Without unique keys the INSERT is the whole enqueue, one statement and
      // so one transaction; with them, the keys are locked and their holders
      // looked up in the transaction that inserts.
      const bool keyed = std::any_of(specs.begin(), specs.end(), [](const job_spec& s) { return s.unique_key; });
      const auto announcement = "e " + listeners_.origin();
      auto results = with_connection([&](detail::pg::connection& c) {
        if (keyed)
          return c.in_transaction(
              [&](detail::pg::transaction& tx) { return insert_unique(tx, specs, now, announcement); });
        return c.autocommit([&](detail::pg::transaction& tx) { return insert(tx, specs, now, announcement); });
      });
      announce_work();
      return results;
    } catch (const detail::pg::statement_failed& e) {
      name_bad_payload(specs, e);
      throw;
    }
  }

  std::vector<enqueued> enqueue_checked(pqxx::transaction_base& application, std::span<const job_spec> specs,
                                        time_point now) {
    if (specs.empty()) return {};
    try {
      const bool keyed = std::any_of(specs.begin(), specs.end(), [](const job_spec& s) { return s.unique_key; });
      return detail::pg::in_application_transaction(application, [&](detail::pg::transaction& tx) {
        return keyed ? insert_unique(tx, specs, now, application_announcement)
                     : insert(tx, specs, now, application_announcement);
      });
    } catch (const detail::pg::transaction_aborted& e) {
      throw postgres_statement_error(e.what(), e.sqlstate);  // the application's transaction is to be run again
    } catch (const detail::pg::statement_failed& e) {
      name_bad_payload(specs, e);
      throw;
    }
  }

  // The server refused the batch; if a payload is the reason, say which.
  void name_bad_payload(std::span<const job_spec> specs, const detail::pg::statement_failed& e) const {
    if (e.sqlstate.rfind("22", 0) != 0) return;  // not a data exception
    for (std::size_t i = 0; i < specs.size(); ++i) {
      try {
        read(sql_.json_check, {specs[i].payload});
      } catch (const detail::pg::statement_failed& bad) {
        throw store_error("errand: job_spec #" + std::to_string(i) + " (kind '" + specs[i].kind +
                          "'): field 'payload' is not JSON PostgreSQL accepts: " + bad.what() +
                          "; nothing was enqueued");
      }
    }
  }

  // Specs without unique keys, in one statement.
  std::vector<enqueued> insert(detail::pg::transaction& tx, std::span<const job_spec> specs, time_point now,
                               const std::string& announcement) {
    std::vector<detail::pg::cell> queue, kind, payload, priority, run_at, max_attempts, unique_key;
    for (const auto& s : specs) {
      queue.push_back(s.queue);
      kind.push_back(s.kind);
      payload.push_back(s.payload);
      priority.push_back(std::to_string(s.priority));
      run_at.push_back(to_iso8601(s.run_at.value_or(now)));
      max_attempts.push_back(std::to_string(s.max_attempts));
      unique_key.push_back(s.unique_key);
    }
    using detail::pg::array_literal;
    const auto added = run(tx, sql_.enqueue,
                           {array_literal(queue), array_literal(kind), array_literal(payload), array_literal(priority),
                            array_literal(run_at), array_literal(max_attempts), array_literal(unique_key),
                            to_iso8601(now), tables_.channel, announcement, options_.notify ? "true" : "false"});
    if (added.size() != specs.size()) throw store_error("errand: enqueue returned fewer ids than it created");
    std::vector<enqueued> results;
    for (const auto& cells : added) results.push_back({integer_of(cells.at(0)), true});
    return results;
  }

  // Specs some of which have unique keys: every key is locked (a
  // transaction-scoped advisory lock, named after the tables and the key),
  // then each spec is inserted unless a job holds its key, one after
  // another, so a key repeated in the batch sees the job created before it.
  std::vector<enqueued> insert_unique(detail::pg::transaction& tx, std::span<const job_spec> specs, time_point now,
                                      const std::string& announcement) {
    std::vector<detail::pg::cell> locks;
    for (const auto& s : specs)
      if (s.unique_key) locks.push_back("errand unique " + tables_.schema + "." + tables_.prefix + " " + *s.unique_key);
    run(tx, sql_.lock_unique_keys, {detail::pg::array_literal(locks)});
    std::vector<enqueued> results;
    for (const auto& s : specs) {
      detail::pg::cell states;
      if (!s.unique_states.empty()) {
        std::vector<detail::pg::cell> names;
        for (const auto state : s.unique_states) names.push_back(std::string(*name_of(state)));
        states = detail::pg::array_literal(names);
      }
      const auto rows = run(tx, sql_.enqueue_unique,
                            {s.queue, s.kind, s.payload, std::to_string(s.priority), to_iso8601(s.run_at.value_or(now)),
                             std::to_string(s.max_attempts), s.unique_key, to_iso8601(now), states,
                             s.unique_period ? detail::pg::text_of(shifted(now, -*s.unique_period)) : std::nullopt,
                             tables_.channel, announcement, options_.notify ? "true" : "false"});
      if (rows.size() != 1) throw store_error("errand: enqueue of a job with a unique key returned no id");
      results.push_back({integer_of(rows.front().at(0)), rows.front().at(1) == "t"});
    }
    return results;
  }

  // The decisions' rows and records, through the writer every record store
  // uses: for each decision, its record's seq, or nullopt where the job was
  // not at the version the decision expected.
  std::vector<std::optional<std::int64_t>> write_all(detail::pg::transaction& tx,
                                                     std::span<const decision> decisions) const {
    using transition = detail::pg::transition<job_records, history_record>;
    std::vector<transition> transitions;
    transitions.reserve(decisions.size());
    for (const auto& d : decisions)
      transitions.push_back({d.next, d.expected_version, d.record ? &*d.record : nullptr});
    return detail::pg::write_transitions<job_records, history_record>(tx, sql_.transitions, transitions,
                                                                      listeners_.origin());
  }

  static bool all_written(const std::vector<std::optional<std::int64_t>>& seqs) {
    return std::all_of(seqs.begin(), seqs.end(), [](const auto& seq) { return seq.has_value(); });
  }

  static void require_applied(const decision& d) {
    if (!d.applied()) throw std::invalid_argument("errand: only an applied decision can be written");
  }

  std::vector<write_result> write(std::span<const decision> decisions) {
    for (const auto& d : decisions) require_applied(d);
    if (decisions.empty()) return {};
    std::vector<std::optional<std::int64_t>> seqs;
    bool refused = false;
    with_connection([&](detail::pg::connection& c) {
      refused = false;
      if (decisions.size() == 1) {
        // One statement is one transaction already.
        seqs = c.autocommit([&](detail::pg::transaction& tx) { return write_all(tx, decisions); });
        refused = !all_written(seqs);
        return;
      }
      try {
        c.in_transaction([&](detail::pg::transaction& tx) {
          seqs = write_all(tx, decisions);
          if (!all_written(seqs)) throw batch_refused{};
        });
      } catch (const batch_refused&) {
        refused = true;
      }
    });
    if (refused) return explain_refusal(decisions);
    committed(decisions, seqs);
    return std::vector<write_result>(decisions.size(), write_result::applied);
  }

  // Nothing was written: say, as the memory store does, which decision was
  // stale (conflict) and which job is gone (not_found); the rest conflict too.
  std::vector<write_result> explain_refusal(std::span<const decision> decisions) const {
    std::vector<detail::pg::cell> ids;
    for (const auto& d : decisions) ids.push_back(detail::pg::text_of(d.next.id));
    std::map<std::int64_t, std::int64_t> current;
    for (const auto& cells : read(sql_.versions, {detail::pg::array_literal(ids)}))
      current[integer_of(cells.at(0))] = integer_of(cells.at(1));
    std::vector<write_result> results(decisions.size(), write_result::conflict);
    std::map<std::int64_t, std::int64_t> expected;  // one batch may write a job twice
    for (std::size_t i = 0; i < decisions.size(); ++i) {
      const auto& d = decisions[i];
      const auto now = current.find(d.next.id);
      if (now == current.end()) {
        results[i] = write_result::not_found;
        continue;
      }
      const auto version = expected.contains(d.next.id) ? expected[d.next.id] : now->second;
      if (version == d.expected_version) expected[d.next.id] = d.next.version;
    }
    return results;
  }

  // After commit: the rows as written, with their records' sequence numbers,
  // go to this process's listeners; a job due again wakes idle workers.
  std::vector<job> committed(std::span<const decision> decisions,
                             const std::vector<std::optional<std::int64_t>>& seqs) {
    std::vector<job> rows;
    bool work = false;
    for (std::size_t i = 0; i < decisions.size() && i < seqs.size(); ++i) {
      const auto& d = decisions[i];
      rows.push_back(d.next);
      work = work || is_claimable(d.next.state);
      if (!d.record) continue;
      history_record record = *d.record;
      record.seq = seqs[i].value_or(0);
      listeners_.notify(notification{d.next, std::move(record)});
    }
    if (work) announce_work();
    return rows;
  }

  void announce_work() { work_.announce(); }

  // "t <origin> <job id>:<seq>,… <to state>" for transitions, "e <origin>"
  // for an enqueue. This store's own announcements were delivered at commit.
  void heard(const std::string& payload) {
    if (const auto words = detail::pg::split_words(payload); words.size() == 2 && words[0] == "e") {
      if (words[1] != listeners_.origin()) announce_work();
      return;
    }
    const auto moved = detail::pg::read_announcements(payload, "t");
    if (moved.empty() || moved.front().origin == listeners_.origin()) return;
    if (const auto to = from_name<job_state>(moved.front().word); to && is_claimable(*to)) announce_work();
    if (!listeners_.subscribed()) return;
    for (const auto& t : moved) {
      const auto row = get(t.id);
      const auto records = read(sql_.record, {detail::pg::text_of(t.id), detail::pg::text_of(t.seq)});
      if (!row || records.empty()) continue;  // pruned since
      listeners_.notify(notification{*row, detail::pg::read_row<history_record>(records.front())});
    }
  }

  postgres_options options_;
  postgres_tables tables_;
  mutable detail::pg::connection_pool pool_;
  detail::pg::statements sql_;  // built from the tables as found, before any pooled connection opens

  detail::work_signal work_;

  detail::pg::store_listeners<notification> listeners_;  // its LISTEN thread stopped before the pool goes
};

}  // namespace detail::pg

ERRAND_DECL postgres_store::postgres_store(postgres_options options)
    : store_facade(std::make_unique<detail::pg::store_engine>(std::move(options))) {}
ERRAND_DECL postgres_store::postgres_store(std::string url) : postgres_store(postgres_options{.url = std::move(url)}) {}

ERRAND_DECL const postgres_tables& postgres_store::tables() const noexcept { return engine().tables(); }
ERRAND_DECL enqueued postgres_store::enqueue(pqxx::transaction_base& application, const job_spec& spec,
                                             time_point now) {
  return engine().enqueue(application, spec, now);
}
ERRAND_DECL std::vector<enqueued> postgres_store::enqueue_batch(pqxx::transaction_base& application,
                                                                std::span<const job_spec> specs, time_point now) {
  return engine().enqueue_batch(application, specs, now);
}
ERRAND_DECL time_point postgres_store::server_time() const { return engine().server_time(); }

}  // namespace errand

#endif
