// The PostgreSQL store measured. See the "PostgreSQL" section of
// docs/benchmarks.md.
//
//   end_to_end/<queue>/workers:W/batch:B
//       a producer enqueues 2000 jobs while W worker threads claim them, run a
//       no-op and report success; B = 1: one job per call (errand::report),
//       B = 16: enqueue_batch, claim_batch and apply_batch of 16.
//   retry_once/<queue>/workers:W/batch:B
//       the same, but every job fails its first attempt (retryable, zero
//       backoff) and succeeds on its second.
//   claim/<queue>/pending:N
//       one claim with N due jobs waiting.
//   end_to_end/errand,notify=off
//       errand without pg_notify (postgres_options::notify = false).
//   claim_queues/errand/setup:S
//       one claim from 1000 due jobs, S = 0: no queue settings, 1: a limit on
//       their queue (that never binds), 2: another queue paused, 3: a paused
//       queue holding 1000 due jobs ahead of them in claim order.
//   enqueue/errand/key:K
//       one enqueue, K = 0: without a unique key, 1: with one, 2: with one
//       scoped to unfinished jobs.
//
// <queue> is errand (postgres_store) or one of two hand-written libpqxx
// SKIP LOCKED queues doing the same work on the same server in the same run:
//   raw      one table; claim is UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
//            SKIP LOCKED) RETURNING, report an UPDATE: the least a queue can do.
//   raw+log  the same plus a history row per transition, written by the same
//            statement: what errand does, without its compare-and-set,
//            decide() or error columns.
//
// The server comes from ERRAND_BENCH_PG_URL (scripts/pg-test-server.sh run --
// sets it). Each queue gets a fresh schema, dropped at the end.

#include <errand/postgres.hpp>

#include "support/pg_bench.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace pg = errand::detail::pg;

constexpr int jobs_per_run = 2000;

using errand_bench::now;
using errand_bench::scratch;
using errand_bench::server_url;
using errand_bench::sql;

// ---------------------------------------------------------------- errand

struct errand_queue {
  errand_queue(const std::string& schema, std::size_t connections, bool notify = true)
      : store([&] {
          errand::postgres_options o;
          o.url = server_url();
          o.schema = schema;
          o.max_connections = connections;
          o.notify = notify;
          return o;
        }()) {}

  void enqueue(int count, int batch) {
    std::vector<errand::job_spec> specs(static_cast<std::size_t>(batch), errand::job_spec{.kind = "noop"});
    for (int done = 0; done < count; done += batch) {
      if (batch == 1)
        store.enqueue(specs.front(), now());
      else
        store.enqueue_batch(specs, now());
    }
  }

  // Claims up to `batch` jobs and reports each; returns how many finished.
  int work(const std::string& worker, int batch, bool fail_first) {
    const auto claimed = store.claim_batch({worker, 30s, now(), {}}, static_cast<std::size_t>(batch));
    int finished = 0;
    std::vector<errand::decision> decisions;
    for (const auto& row : claimed) {
      const bool fails = fail_first && row.attempt == 1;
      finished += fails ? 0 : 1;
      if (batch == 1) {
        const auto result = fails
                                ? errand::report(store, row.id, failure(row), retry, now())
                                : errand::report(store, row.id, errand::succeed{row.attempt, worker, {}}, retry, now());
        if (!result.applied()) throw std::runtime_error("report refused: " + result.reason);
      } else {
        decisions.push_back(fails ? errand::decide(row, failure(row), retry, now())
                                  : errand::decide(row, errand::succeed{row.attempt, worker, {}}, retry, now()));
      }
    }
    if (!decisions.empty())
      for (const auto r : store.apply_batch(decisions))
        if (r != errand::write_result::applied) throw std::runtime_error("batch refused");
    return finished;
  }

  static errand::fail failure(const errand::job& row) {
    return {row.attempt, *row.worker, {"upstream answered 503", "reported", true, {}}};
  }

  errand::postgres_store store;
  errand::retry_policy retry = errand::retry_policy::immediate();
};

// ---------------------------------------------------------------- by hand

// The same work as SQL written by hand, run through the same thin libpqxx
// layer errand uses (prepared statements, text parameters), one connection per thread.
struct raw_queue {
  raw_queue(std::string schema, bool log) : schema_(std::move(schema)), log_(log) {
    sql("CREATE SCHEMA " + schema_);
    sql("CREATE TABLE " + schema_ +
        ".jobs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " kind TEXT NOT NULL, payload JSON NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,"
        " attempt INTEGER NOT NULL DEFAULT 0, run_at TIMESTAMPTZ NOT NULL, worker TEXT, last_error TEXT,"
        " updated_at TIMESTAMPTZ NOT NULL)");
    sql("CREATE INDEX jobs_due ON " + schema_ + ".jobs (priority, run_at, id) WHERE state = 'pending'");
    sql("CREATE TABLE " + schema_ +
        ".history (job_id BIGINT NOT NULL, seq BIGSERIAL, event TEXT NOT NULL,"
        " worker TEXT, at TIMESTAMPTZ NOT NULL, PRIMARY KEY (job_id, seq))");
  }

  std::unique_ptr<pg::connection> connect() const {
    auto c = std::make_unique<pg::connection>(server_url());
    const std::string jobs = schema_ + ".jobs", history = schema_ + ".history";
    c->prepare("enqueue", "INSERT INTO " + jobs +
                              " (kind, payload, state, run_at, updated_at)"
                              " SELECT 'noop', '{}', 'pending', now(), now() FROM generate_series(1, $1)");
    const std::string claimed = "UPDATE " + jobs +
                                " SET state = 'running', attempt = attempt + 1, worker = $1, last_error = NULL,"
                                " updated_at = now() WHERE id IN (SELECT id FROM " +
                                jobs +
                                " WHERE state = 'pending' AND run_at <= now() ORDER BY priority, run_at, id"
                                " LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, attempt";
    const std::string finished = "UPDATE " + jobs +
                                 " SET state = CASE WHEN $3::boolean THEN 'pending' ELSE 'succeeded' END,"
                                 " last_error = CASE WHEN $3::boolean THEN 'upstream answered 503' END,"
                                 " updated_at = now() WHERE id = ANY($1::bigint[]) AND worker = $2"
                                 " RETURNING id";
    if (log_) {
      c->prepare("claim", "WITH claimed AS (" + claimed + "), logged AS (INSERT INTO " + history +
                              " (job_id, event, worker, at) SELECT id, 'claim', $1, now() FROM claimed)"
                              " SELECT id, attempt FROM claimed");
      c->prepare("report", "WITH finished AS (" + finished + "), logged AS (INSERT INTO " + history +
                               " (job_id, event, worker, at) SELECT id, CASE WHEN $3::boolean THEN 'fail'"
                               " ELSE 'succeed' END, $2, now() FROM finished) SELECT id FROM finished");
    } else {
      c->prepare("claim", claimed);
      c->prepare("report", finished);
    }
    return c;
  }

  void enqueue(pg::connection& c, int count, int batch) const {
    for (int done = 0; done < count; done += batch)
      c.autocommit([&](pg::transaction& tx) {
        const pg::cell n = std::to_string(batch);
        tx.exec_prepared("enqueue", std::span(&n, 1));
      });
  }

  int work(pg::connection& c, const std::string& worker, int batch, bool fail_first) const {
    std::vector<pg::cell> retried, done;
    c.autocommit([&](pg::transaction& tx) {
      const pg::cell params[] = {worker, std::to_string(batch)};
      for (const auto& row : tx.exec_prepared("claim", params))
        (fail_first && row.at(1) == "1" ? retried : done).push_back(row.at(0));
    });
    const auto report = [&](const std::vector<pg::cell>& ids, bool fails) {
      if (ids.empty()) return;
      c.autocommit([&](pg::transaction& tx) {
        const pg::cell params[] = {pg::array_literal(ids), worker, fails ? "true" : "false"};
        tx.exec_prepared("report", params);
      });
    };
    report(retried, true);
    report(done, false);
    return static_cast<int>(done.size());
  }

  std::string schema_;
  bool log_;
};

// ---------------------------------------------------------------- runs

// One run: the producer (this thread) enqueues while `workers` threads work
// until every job succeeded.
template <class Work, class Produce>
void run(int workers, Produce&& produce, Work&& make_worker) {
  std::atomic<int> finished{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      try {
        auto work = make_worker(w);
        while (finished.load() < jobs_per_run && !failed.load()) finished += work();
      } catch (const std::exception& e) {
        std::cerr << "worker " << w << ": " << e.what() << std::endl;
        failed = true;
      }
    });
  produce();
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("a worker failed");
}

// Measures a queue in its steady state, not in the first minute of a fresh
// table: one untimed run fills the tables, then ANALYZE gives the planner the
// statistics autovacuum would have gathered by then (until it does, plans
// made for an empty table may scan it whole).
template <class Run>
void settle(const Run& once, const std::string& tables) {
  once();
  sql("ANALYZE " + tables);
}

void end_to_end_errand(benchmark::State& state, bool fail_first, bool notify) {
  const int workers = static_cast<int>(state.range(0)), batch = static_cast<int>(state.range(1));
  scratch schema("errand_bench_errand");
  errand_queue queue(schema.name(), static_cast<std::size_t>(workers + 1), notify);
  const auto once = [&] {
    run(
        workers, [&] { queue.enqueue(jobs_per_run, batch); },
        [&](int w) {
          return [&, name = "worker-" + std::to_string(w)] { return queue.work(name, batch, fail_first); };
        });
  };
  settle(once, queue.store.tables().jobs + ", " + queue.store.tables().history);
  for (auto _ : state) once();
  state.SetItemsProcessed(state.iterations() * jobs_per_run);
}

void end_to_end_raw(benchmark::State& state, bool log, bool fail_first) {
  const int workers = static_cast<int>(state.range(0)), batch = static_cast<int>(state.range(1));
  scratch schema(log ? "errand_bench_raw_log" : "errand_bench_raw");
  raw_queue queue(schema.name(), log);
  auto producer = queue.connect();
  const auto once = [&] {
    run(
        workers, [&] { queue.enqueue(*producer, jobs_per_run, batch); },
        [&](int w) {
          return [&, c = std::shared_ptr<pg::connection>(queue.connect()), name = "worker-" + std::to_string(w)] {
            return queue.work(*c, name, batch, fail_first);
          };
        });
  };
  settle(once, schema.name() + ".jobs, " + schema.name() + ".history");
  for (auto _ : state) once();
  state.SetItemsProcessed(state.iterations() * jobs_per_run);
}

void claim_errand(benchmark::State& state) {
  scratch schema("errand_bench_claim");
  errand_queue queue(schema.name(), 2);
  const int pending = static_cast<int>(state.range(0));
  queue.enqueue(pending, 1000 < pending ? 1000 : pending);
  sql("ANALYZE " + queue.store.tables().jobs);
  for (auto _ : state) {
    const auto row = queue.store.claim({"w", 30s, now(), {}});
    state.PauseTiming();
    if (!row) throw std::runtime_error("no job to claim");
    queue.enqueue(1, 1);  // keep `pending` jobs waiting
    state.ResumeTiming();
  }
}

void claim_raw(benchmark::State& state) {
  scratch schema("errand_bench_claim_raw");
  raw_queue queue(schema.name(), false);
  auto c = queue.connect();
  const int pending = static_cast<int>(state.range(0));
  queue.enqueue(*c, pending, pending);
  sql("ANALYZE " + schema.name() + ".jobs");
  for (auto _ : state) {
    c->autocommit([&](pg::transaction& tx) {
      const pg::cell params[] = {std::string("w"), std::string("1")};
      if (tx.exec_prepared("claim", params).empty()) throw std::runtime_error("no job to claim");
    });
    state.PauseTiming();
    queue.enqueue(*c, 1, 1);
    state.ResumeTiming();
  }
}

// What queue settings cost a claim (docs/scheduling.md). The claimed job
// succeeds and a new one is enqueued outside the timed region, so nothing
// runs and 1000 jobs wait in every iteration.
void claim_queues(benchmark::State& state) {
  const auto setup = state.range(0);
  scratch schema("errand_bench_claim_queues");
  errand_queue queue(schema.name(), 2);
  auto& store = queue.store;
  const errand::job_spec work{.kind = "noop"};
  store.enqueue_batch(std::vector<errand::job_spec>(1000, work), now());
  if (setup == 1) store.set_queue_limit("default", 1'000'000, now());
  if (setup == 2) store.pause_queue("other", now());
  if (setup == 3) {
    store.enqueue_batch(std::vector<errand::job_spec>(1000, {.queue = "other", .kind = "noop", .priority = -1}), now());
    store.pause_queue("other", now());
  }
  sql("ANALYZE " + store.tables().jobs);
  for (auto _ : state) {
    const auto row = store.claim({"w", 30s, now(), {}});
    state.PauseTiming();
    if (!row || row->queue != "default") throw std::runtime_error("claimed nothing, or from the paused queue");
    errand::report(store, row->id, errand::succeed{row->attempt, "w", {}}, {}, now());
    store.enqueue(work, now());
    state.ResumeTiming();
  }
}

void enqueue_keys(benchmark::State& state) {
  const auto key = state.range(0);
  scratch schema("errand_bench_enqueue_keys");
  errand_queue queue(schema.name(), 2);
  errand::job_spec spec{.kind = "noop"};
  if (key == 2) spec.unique_states = errand::unfinished_states;
  std::int64_t n = 0;
  for (auto _ : state) {
    if (key != 0) spec.unique_key = "key-" + std::to_string(++n);
    if (!queue.store.enqueue(spec, now()).created) throw std::runtime_error("not created");
  }
}

void shapes(benchmark::internal::Benchmark* b) {
  for (const int workers : {1, 2, 4})
    for (const int batch : {1, 16}) b->Args({workers, batch});
  b->ArgNames({"workers", "batch"})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
}

}  // namespace

BENCHMARK_CAPTURE(end_to_end_errand, errand, false, true)->Name("end_to_end/errand")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_errand, quiet, false, false)->Name("end_to_end/errand,notify=off")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_raw, raw, false, false)->Name("end_to_end/raw")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_raw, raw_log, true, false)->Name("end_to_end/raw+log")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_errand, errand, true, true)->Name("retry_once/errand")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_raw, raw, false, true)->Name("retry_once/raw")->Apply(shapes);
BENCHMARK_CAPTURE(end_to_end_raw, raw_log, true, true)->Name("retry_once/raw+log")->Apply(shapes);
BENCHMARK(claim_errand)
    ->Name("claim/errand")
    ->ArgName("pending")
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(claim_raw)->Name("claim/raw")->ArgName("pending")->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(claim_queues)->Name("claim_queues/errand")->ArgName("setup")->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);
BENCHMARK(enqueue_keys)->Name("enqueue/errand")->ArgName("key")->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  errand_bench::describe_server();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
