// errand's runner on PostgreSQL, beside the store's own batch API in the same
// run. See "Runner" in docs/benchmarks.md; bench/peers/run.sh runs this
// program beside graphile-worker and pg-boss on the same server.
//
//   enqueue/errand/per_call:5000[,payload:order]
//       N jobs enqueued by enqueue_batch, 5000 per call, each with the payload
//       {} (as the peers' are), or a typical one of six fields.
//   <workload>/store_batch/threads:2,batch:500
//       the store's batch API on 2 threads, each looping claim_batch 500 jobs,
//       decide() for each, apply_batch: a runner's work without a handler.
//   <workload>/runner/<options>
//       an errand::runner (4 threads, the default) with a no-op handler, from
//       start() until the last outcome is committed; <options> is `defaults`
//       or the throughput knobs set (docs/runner.md, "Throughput knobs").
//   drain/processes:3/runner/<options>
//       three processes, each such a runner on a store of its own, on one
//       schema: what hearing one another costs a deployment of several.
//
// <workload>:
//   drain       every job succeeds; N / the time to the last success.
//   fail_once   every first attempt fails and its retry waits an hour, so the
//               run times first attempts only: N / the time to the last
//               failure recorded. The rate of first attempts of a job that
//               fails once, comparable with queues whose retry cannot be at once.
//   retry_now   every first attempt fails and is retried at once (zero
//               backoff), and the second succeeds: N / the time to the last success.
//
// Every run gets a fresh schema (a deployment's first minutes: its tables
// never analysed) holding N jobs (ERRAND_BENCH_JOBS, default 10000), enqueued
// with the timer paused; the runner's stop() and the schema's removal are not
// timed either. The server comes from ERRAND_BENCH_PG_URL
// (scripts/pg-test-server.sh run -- sets it).

#include <errand/postgres.hpp>
#include <errand/runner.hpp>

#include "support/finish_line.hpp"
#include "support/order.hpp"
#include "support/pg_bench.hpp"

#include <benchmark/benchmark.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand_bench::finish_line;
using errand_bench::scratch;

constexpr std::size_t enqueue_per_call = 5000;
constexpr std::size_t batch_size = 500;
constexpr int batch_threads = 2;

std::int64_t jobs_per_run() {
  static const std::int64_t jobs = [] {
    const char* value = std::getenv("ERRAND_BENCH_JOBS");
    const std::int64_t n = value && *value ? std::atoll(value) : 10000;
    if (n <= 0) {
      std::cerr << "ERRAND_BENCH_JOBS must be a positive number of jobs\n";
      std::exit(2);
    }
    return n;
  }();
  return jobs;
}

enum class workload { drain, fail_once, retry_now };

bool fails(workload w, const errand::job& row) { return w != workload::drain && row.attempt == 1; }

// The state every job reaches when the run is over.
errand::job_state finish_state(workload w) {
  return w == workload::fail_once ? errand::job_state::retry_pending : errand::job_state::succeeded;
}

errand::retry_policy retry(workload w) {
  if (w == workload::fail_once) return {1h, 1.0, 1h, 0.0, 0};
  return errand::retry_policy::immediate();
}

const errand::failure first_attempt_failure{.message = "the first attempt fails"};

// A fresh schema and a store on it, with the store's default options but
// for announce_every_transition.
struct fresh_store {
  explicit fresh_store(bool every_transition = true) : store(options(schema, every_transition)) {}

  static errand::postgres_options options(const scratch& s, bool every_transition) {
    auto o = s.options();
    o.announce_every_transition = every_transition;
    return o;
  }

  scratch schema{"errand_bench_runner"};
  errand::postgres_store store;

  void enqueue(std::int64_t jobs, const std::string& payload = "{}") {
    const std::vector<errand::job_spec> call(enqueue_per_call, errand::job_spec{.kind = "noop", .payload = payload});
    for (std::int64_t left = jobs; left > 0; left -= static_cast<std::int64_t>(call.size())) {
      const auto size = std::min<std::size_t>(call.size(), static_cast<std::size_t>(left));
      store.enqueue_batch(std::span(call.data(), size), errand_bench::now());
    }
  }
};

void enqueue(benchmark::State& state, const std::string& payload) {
  for (auto _ : state) {
    state.PauseTiming();
    {
      fresh_store fresh;
      state.ResumeTiming();
      fresh.enqueue(jobs_per_run(), payload);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * jobs_per_run());
}

// One thread of the batch API: claims, decides and applies until every job
// reached the run's final state (counted in `finished`, across threads).
void work_in_batches(errand::postgres_store& store, workload w, const std::string& worker,
                     std::atomic<std::int64_t>& finished) {
  const auto policy = retry(w);
  const auto goal = finish_state(w);
  while (finished.load() < jobs_per_run()) {
    const auto now = errand_bench::now();
    const auto claimed = store.claim_batch({worker, 30s, now, {}}, batch_size);
    if (claimed.empty()) {
      std::this_thread::yield();  // the other thread holds the last jobs
      continue;
    }
    std::vector<errand::decision> decisions;
    decisions.reserve(claimed.size());
    for (const auto& row : claimed)
      decisions.push_back(
          fails(w, row) ? errand::decide(row, errand::fail{row.attempt, worker, first_attempt_failure}, policy, now)
                        : errand::decide(row, errand::succeed{row.attempt, worker, {}}, policy, now));
    const auto results = store.apply_batch(decisions);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i] != errand::write_result::applied) throw std::runtime_error("the store refused a decision");
      if (decisions[i].next.state == goal) ++finished;
    }
  }
}

void store_batch(benchmark::State& state, workload w) {
  for (auto _ : state) {
    state.PauseTiming();
    {
      fresh_store fresh;
      fresh.enqueue(jobs_per_run());
      std::atomic<std::int64_t> finished{0};
      state.ResumeTiming();
      std::vector<std::jthread> threads;
      for (int t = 0; t < batch_threads; ++t)
        threads.emplace_back(
            [&, worker = "bench:" + std::to_string(t)] { work_in_batches(fresh.store, w, worker, finished); });
      threads.clear();
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * jobs_per_run());
}

void runner(benchmark::State& state, workload w, errand::runner_options options, bool every_transition) {
  options.worker_id = "bench";
  options.log = [](std::string_view) {};
  options.retry = retry(w);
  for (auto _ : state) {
    state.PauseTiming();
    {
      fresh_store fresh(every_transition);
      fresh.enqueue(jobs_per_run());
      finish_line finished(fresh.store, finish_state(w));
      errand::runner workers(fresh.store, options);
      workers.handle("noop", [w](const std::string&, errand::job_context& context) -> errand::job_result {
        if (fails(w, context.row())) return first_attempt_failure;
        return {};
      });
      state.ResumeTiming();
      workers.start();
      finished.wait_for(jobs_per_run());
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * jobs_per_run());
}

// What the processes of one run share, in memory mapped before they fork.
struct shared_counts {
  std::atomic<int> ready{0};  // worker processes connected, their runners built
  std::atomic<bool> go{false};
  std::atomic<std::int64_t> handled{0};
};

// Waits, a millisecond at a time, until `done`; a worker process that died
// leaves its part undone, so past `give_up` the run fails instead of hanging.
template <class Done>
void wait_until(Done done, std::chrono::steady_clock::time_point give_up, const char* what) {
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) throw std::runtime_error(what);
    std::this_thread::sleep_for(1ms);
  }
}

// A child process of processes(): a store of its own on the run's schema and
// a runner on it, started when the parent says go. Never returns: the parent
// kills it once every job succeeded, and it exits at once if it cannot start.
[[noreturn]] void worker_process(const errand::postgres_options& store_options, errand::runner_options options,
                                 shared_counts& shared) {
  try {
    errand::postgres_store store(store_options);
    errand::runner workers(store, options);
    workers.handle("noop", [&shared](const std::string&, errand::job_context&) { ++shared.handled; });
    ++shared.ready;
    while (!shared.go) std::this_thread::sleep_for(1ms);
    workers.start();
    for (;;) ::pause();
  } catch (const std::exception& e) {
    std::cerr << "worker process: " << e.what() << "\n";
    ::_exit(1);
  }
}

// The worker processes of one run, killed and reaped however the run ends.
class worker_processes {
 public:
  worker_processes() = default;
  worker_processes(const worker_processes&) = delete;
  worker_processes& operator=(const worker_processes&) = delete;
  ~worker_processes() {
    for (const pid_t child : children_) ::kill(child, SIGKILL);
    for (const pid_t child : children_) ::waitpid(child, nullptr, 0);
  }

  template <class Work>
  void start(Work work) {
    const pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) work();
    children_.push_back(child);
  }

 private:
  std::vector<pid_t> children_;
};

// Three processes, each a runner (4 threads) with its own store on one
// schema: what a deployment of several processes pays to hear one another,
// which a single process never does. Handlers count in shared memory; once
// they have all run, the store is asked every millisecond whether every
// success is committed. The processes connect and build their runners with
// the timer paused; start() to the last success is timed.
void processes(benchmark::State& state, errand::runner_options options, bool every_transition) {
  constexpr int count = 3;
  options.log = [](std::string_view) {};
  void* memory = ::mmap(nullptr, sizeof(shared_counts), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
  auto& shared = *new (memory) shared_counts;
  for (auto _ : state) {
    state.PauseTiming();
    {
      fresh_store fresh(every_transition);
      fresh.enqueue(jobs_per_run());
      shared.ready = 0;
      shared.go = false;
      shared.handled = 0;
      const auto give_up = std::chrono::steady_clock::now() + 10min;
      worker_processes workers;
      for (int i = 0; i < count; ++i) {
        options.worker_id = "bench" + std::to_string(i);
        workers.start([&] { worker_process(fresh_store::options(fresh.schema, every_transition), options, shared); });
      }
      wait_until([&] { return shared.ready == count; }, give_up, "a worker process did not start");
      state.ResumeTiming();
      shared.go = true;
      wait_until([&] { return shared.handled >= jobs_per_run(); }, give_up, "the handlers did not all run");
      wait_until(
          [&] {
            const auto counts = fresh.store.count_by_state();
            const auto done = counts.find(errand::job_state::succeeded);
            return done != counts.end() && done->second >= jobs_per_run();
          },
          give_up, "not every success was committed");
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  ::munmap(memory, sizeof(shared_counts));
  state.SetItemsProcessed(state.iterations() * jobs_per_run());
}

errand::runner_options knobs(std::size_t prefetch, std::size_t report_batch) {
  errand::runner_options options;
  options.prefetch = prefetch;
  options.report_batch = report_batch;
  return options;
}

void register_all() {
  const auto timed = [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(1);
  };
  timed(benchmark::RegisterBenchmark("enqueue/errand/per_call:5000", enqueue, std::string("{}")));
  timed(benchmark::RegisterBenchmark("enqueue/errand/per_call:5000,payload:order", enqueue,
                                     errand_bench::order_payload()));
  const std::pair<const char*, workload> workloads[] = {
      {"drain", workload::drain}, {"fail_once", workload::fail_once}, {"retry_now", workload::retry_now}};
  struct configuration {
    const char* name;
    errand::runner_options options;
    bool every_transition = true;  // postgres_options::announce_every_transition
  };
  const configuration runners[] = {
      {"defaults", errand::runner_options{}},
      {"report_batch:1", knobs(0, 1)},
      {"prefetch:32", knobs(32, 64)},
      {"prefetch:500", knobs(500, 64)},
      {"prefetch:500,report_batch:500", knobs(500, 500)},
      {"defaults,announce:claimable", errand::runner_options{}, false},
      {"prefetch:500,report_batch:500,announce:claimable", knobs(500, 500), false},
  };
  timed(benchmark::RegisterBenchmark("drain/processes:3/runner/defaults", processes, errand::runner_options{}, true));
  timed(benchmark::RegisterBenchmark("drain/processes:3/runner/defaults,announce:claimable", processes,
                                     errand::runner_options{}, false));
  for (const auto& [workload_name, w] : workloads) {
    const std::string prefix = std::string(workload_name) + "/";
    timed(benchmark::RegisterBenchmark((prefix + "store_batch/threads:2,batch:500").c_str(), store_batch, w));
    for (const auto& c : runners)
      timed(benchmark::RegisterBenchmark((prefix + "runner/" + c.name).c_str(), runner, w, c.options,
                                         c.every_transition));
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  errand_bench::describe_server();
  benchmark::AddCustomContext("jobs per run", std::to_string(jobs_per_run()));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
