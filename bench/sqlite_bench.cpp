// The SQLite store measured. See the "SQLite" section of docs/benchmarks.md.
//
//   transition/*   one durable transition (the compare-and-set UPDATE plus the
//                  history INSERT in one BEGIN IMMEDIATE transaction): through
//                  sqlite_store::apply, and as the same SQL written by hand
//                  against the sqlite3 C API, on identical files and settings
//   end_to_end/*   enqueue, claim, run a no-op, report success; 1 and 2 worker
//                  threads, one job per call or 32 per batched call
//   claim/*        one claim with 1k and 1M jobs in the table
//   claim_queues/* one claim from 1000 due jobs, with no queue settings, with a
//                  limit on their queue (that never binds), with another queue
//                  paused, and with a paused queue holding 1000 due jobs ahead
//                  of them in claim order
//   enqueue/*      one enqueue: without a unique key, with one, with one scoped
//                  to unfinished jobs
//
// Every database is a file under $TMPDIR in WAL mode with synchronous=NORMAL,
// the store's defaults; the files are removed when a benchmark ends.

#include "support/bench_file.hpp"
#include "support/raw_sqlite.hpp"
#include <errand/sqlite.hpp>

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

const errand::time_point t0 = errand::manual_clock{}.now();

using errand_bench::bench_file;
using errand_bench::bind_text;
using errand_bench::check;

// A job claimed by "w", and the decision that fails it (retryable): the
// transition both sides of transition/* write over and over, with the
// version moved on each time.
struct running_job {
  errand::job row;
  errand::decision decision;
};

running_job prepare_job(errand::sqlite_store& store) {
  store.enqueue({.kind = "work"}, t0);
  auto row = *store.claim({"w", 30s, t0, {}});
  auto d = errand::decide(row, errand::fail{row.attempt, "w", {"upstream answered 503", "reported", true, {}}},
                          errand::retry_policy::immediate(), t0);
  return {row, d};
}

void transition_store(benchmark::State& state) {
  bench_file file("transition-store");
  errand::sqlite_store store(file.path());
  auto [row, d] = prepare_job(store);
  std::int64_t version = d.expected_version;
  for (auto _ : state) {
    d.expected_version = version;
    d.next.version = ++version;
    if (store.apply(d) != errand::write_result::applied) state.SkipWithError("conflict");
  }
  state.SetItemsProcessed(state.iterations());
}

// The same statements, written by hand: prepared once, bound, stepped, reset.
void transition_raw(benchmark::State& state) {
  bench_file file("transition-raw");
  std::int64_t id = 0;
  running_job job;
  {
    errand::sqlite_store schema(file.path());  // the same tables and indexes
    job = prepare_job(schema);
    id = job.row.id;
  }
  errand_bench::raw_sqlite raw(file.path());
  sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = raw.prepare("COMMIT");
  sqlite3_stmt* update = raw.prepare(
      "UPDATE errand_jobs SET state = ?3, attempt = ?4, max_attempts = ?5, run_at = ?6, worker = ?7, "
      "lease_until = ?8, heartbeat_at = ?9, last_error = ?10, last_error_kind = ?11, last_error_at = ?12, "
      "detail = ?13, version = ?14, updated_at = ?15 WHERE id = ?1 AND version = ?2");
  sqlite3_stmt* next_seq = raw.prepare("SELECT coalesce(max(seq), 0) + 1 FROM errand_history WHERE job_id = ?1");
  sqlite3_stmt* insert = raw.prepare(
      "INSERT INTO errand_history (job_id, seq, from_state, to_state, event, payload, attempt, worker, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  const auto time = [](sqlite3_stmt* s, int i, errand::time_point t) {
    const std::string v = errand::to_iso8601(t);
    sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  };
  const auto maybe_time = [&](sqlite3_stmt* s, int i, const std::optional<errand::time_point>& v) {
    if (v)
      time(s, i, *v);
    else
      sqlite3_bind_null(s, i);
  };
  errand::decision d = job.decision;
  const std::string from = "running", to = "retry_pending";
  std::int64_t version = d.expected_version;
  for (auto _ : state) {
    d.expected_version = version;
    d.next.version = ++version;
    const auto& next = d.next;
    raw.run(begin);
    sqlite3_bind_int64(update, 1, id);
    sqlite3_bind_int64(update, 2, d.expected_version);
    bind_text(update, 3, to);
    sqlite3_bind_int(update, 4, next.attempt);
    sqlite3_bind_int(update, 5, next.max_attempts);
    time(update, 6, next.run_at);
    bind_text(update, 7, next.worker);
    maybe_time(update, 8, next.lease_until);
    maybe_time(update, 9, next.heartbeat_at);
    bind_text(update, 10, next.last_error);
    bind_text(update, 11, next.last_error_kind);
    maybe_time(update, 12, next.last_error_at);
    bind_text(update, 13, next.detail);
    sqlite3_bind_int64(update, 14, next.version);
    time(update, 15, next.updated_at);
    raw.run(update);
    if (sqlite3_changes64(raw.handle()) != 1) state.SkipWithError("conflict");
    sqlite3_bind_int64(next_seq, 1, id);
    const auto seq = raw.integer(next_seq);
    const auto& r = *d.record;
    sqlite3_bind_int64(insert, 1, id);
    sqlite3_bind_int64(insert, 2, seq);
    bind_text(insert, 3, from);
    bind_text(insert, 4, to);
    bind_text(insert, 5, r.event);
    bind_text(insert, 6, r.payload);
    sqlite3_bind_int(insert, 7, r.attempt);
    bind_text(insert, 8, r.worker);
    time(insert, 9, r.at);
    raw.run(insert);
    raw.run(commit);
  }
  state.SetItemsProcessed(state.iterations());
}

// Shared by the threads of one end_to_end run; thread 0 sets it up and tears it down.
std::unique_ptr<bench_file> shared_file;
std::unique_ptr<errand::sqlite_store> shared_store;

void end_to_end(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  if (state.thread_index() == 0) {
    shared_file = std::make_unique<bench_file>("end-to-end");
    shared_store = std::make_unique<errand::sqlite_store>(shared_file->path());
  }
  const std::string worker = std::string("w").append(std::to_string(state.thread_index()));
  const std::vector<errand::job_spec> specs(batch, errand::job_spec{.kind = "noop"});
  std::int64_t done = 0;
  for (auto _ : state) {
    auto& store = *shared_store;
    if (batch == 1) {
      store.enqueue(specs[0], t0);
      if (const auto job = store.claim({worker, 30s, t0, {}})) {
        if (errand::report(store, job->id, errand::succeed{job->attempt, worker, {}}, {}, t0).applied()) ++done;
      }
    } else {
      store.enqueue_batch(specs, t0);
      const auto jobs = store.claim_batch({worker, 30s, t0, {}}, batch);
      std::vector<errand::decision> reports;
      reports.reserve(jobs.size());
      for (const auto& job : jobs)
        reports.push_back(errand::decide(job, errand::succeed{job.attempt, worker, {}}, {}, t0));
      const auto results = store.apply_batch(reports);
      for (const auto r : results) done += r == errand::write_result::applied;
    }
  }
  state.SetItemsProcessed(done);
  if (state.thread_index() == 0) {
    shared_store.reset();
    shared_file.reset();
  }
}

// Claims from a table of `rows` jobs of which `due` are waiting (the rest
// succeeded long ago). Each claimed job is failed with no backoff outside the
// timed region, so the table keeps its shape however many iterations run.
void claim_cost(benchmark::State& state) {
  const auto rows = state.range(0);
  const auto due = state.range(1);
  bench_file file("claim-" + std::to_string(rows));
  { errand::sqlite_store schema(file.path()); }
  {
    sqlite3* db = nullptr;
    check(sqlite3_open(file.path().c_str(), &db), db);
    const std::string t = errand::to_iso8601(t0);
    const std::string fill =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(rows) +
        ") INSERT INTO errand_jobs (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version, "
        "created_at, updated_at) SELECT 'default', 'work', '{}', CASE WHEN i <= " +
        std::to_string(rows - due) + " THEN 'succeeded' ELSE 'pending' END, 0, 0, 1000000000, '" + t + "', 1, '" + t +
        "', '" + t + "' FROM n";
    check(sqlite3_exec(db, ("BEGIN; " + fill + "; COMMIT").c_str(), nullptr, nullptr, nullptr), db);
    sqlite3_close(db);
  }
  errand::sqlite_store store(file.path());
  const auto no_backoff = errand::retry_policy::immediate();
  for (auto _ : state) {
    const auto job = store.claim({"w", 30s, t0, {}});
    state.PauseTiming();
    if (!job) {
      state.SkipWithError("nothing to claim");
      break;
    }
    errand::report(store, job->id, errand::fail{job->attempt, "w", {"again", "reported", true, {}}}, no_backoff, t0);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
}

// What queue settings cost a claim (docs/scheduling.md). The claimed job
// succeeds and a new one is enqueued outside the timed region, so nothing
// runs and 1000 jobs wait in every iteration.
enum class queue_setup { none, limited, paused_other, paused_backlog };

void claim_queues(benchmark::State& state) {
  const auto setup = static_cast<queue_setup>(state.range(0));
  bench_file file("claim-queues");
  errand::sqlite_store store(file.path());
  const errand::job_spec work{.kind = "work"};
  store.enqueue_batch(std::vector<errand::job_spec>(1000, work), t0);
  if (setup == queue_setup::limited) store.set_queue_limit("default", 1'000'000, t0);
  if (setup == queue_setup::paused_other) store.pause_queue("other", t0);
  if (setup == queue_setup::paused_backlog) {
    store.enqueue_batch(std::vector<errand::job_spec>(1000, {.queue = "other", .kind = "work", .priority = -1}), t0);
    store.pause_queue("other", t0);
  }
  for (auto _ : state) {
    const auto job = store.claim({"w", 30s, t0, {}});
    state.PauseTiming();
    if (!job || job->queue != "default") {
      state.SkipWithError("claimed nothing, or from the paused queue");
      break;
    }
    errand::report(store, job->id, errand::succeed{job->attempt, "w", {}}, {}, t0);
    store.enqueue(work, t0);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
}

enum class key_kind { none, forever, unfinished };

void enqueue_keys(benchmark::State& state) {
  const auto kind = static_cast<key_kind>(state.range(0));
  bench_file file("enqueue-keys");
  errand::sqlite_store store(file.path());
  errand::job_spec spec{.kind = "work"};
  if (kind == key_kind::unfinished) spec.unique_states = errand::unfinished_states;
  std::int64_t n = 0;
  for (auto _ : state) {
    if (kind != key_kind::none) spec.unique_key = "key-" + std::to_string(++n);
    if (!store.enqueue(spec, t0).created) state.SkipWithError("not created");
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(transition_store)->Name("transition/sqlite_store");
BENCHMARK(transition_raw)->Name("transition/raw_sqlite3");
BENCHMARK(end_to_end)->Name("end_to_end/single")->Arg(1)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(end_to_end)->Name("end_to_end/batch32")->Arg(32)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(claim_cost)
    ->Name("claim")
    ->ArgNames({"rows", "due"})
    ->Args({1'000, 1'000})
    ->Args({1'000'000, 1'000'000})
    ->Args({1'000'000, 1'000})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK(claim_queues)
    ->Name("claim_queues")
    ->ArgName("setup")  // 0 none, 1 limited, 2 another queue paused, 3 a paused queue with 1000 due jobs ahead
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(enqueue_keys)
    ->Name("enqueue")
    ->ArgName("key")  // 0 none, 1 unique key, 2 unique key scoped to unfinished jobs
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
