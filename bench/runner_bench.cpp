// The runner measured against the store it drives, in the same binary. See the
// "Runner" section of docs/benchmarks.md.
//
//   store_batch/*  the store's own batch API on one thread: claim_batch 32 jobs,
//                  decide a success for each, apply_batch them; what a runner
//                  could reach at best with no handler and no threads
//   runner/*       a runner with 4 threads drains the same jobs with a no-op
//                  handler, from start() until stop() has written the last
//                  success (no subscriber, as a plain deployment has none):
//                  with the defaults, with report_batch from 1 to 64, and
//                  with prefetch = 32 and 256 (on the memory store also a
//                  drain of 100,000 jobs, where reports pile up, and that
//                  drain with prefetch and report_batch 256 on 1, 2 and 4
//                  threads)
//   runner/*/typed the defaults, with a handler that takes its payload as a
//                  described struct of six fields (an order), as most
//                  applications' handlers do: the runner decodes each payload
//   enqueue/*      enqueue_batch of the same jobs, payload {} or an order:
//                  what checking that each payload is JSON costs
//   latency/*      an idle started runner (defaults), one job enqueued in the
//                  same process without runner.notify(): the time from the
//                  enqueue call to the handler's first line (p50 and p99 as
//                  counters, in microseconds)
//
// The store_batch and runner rows enqueue their jobs with the timer paused.
// Memory and SQLite (a file under $TMPDIR in WAL mode, the store's defaults).
#include <errand/memory.hpp>
#include <errand/runner.hpp>
#include <errand/sqlite.hpp>

#include <benchmark/benchmark.h>

#include "support/bench_file.hpp"
#include "support/order.hpp"
#include "support/start_probe.hpp"

#include <cstdint>
#include <latch>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;

using errand_bench::bench_file;
using errand_bench::order;
using errand_bench::order_payload;

struct memory_backend {
  errand::memory_store store;
};

struct sqlite_backend {
  bench_file file{"runner"};
  errand::sqlite_store store{file.path()};
};

std::vector<errand::job_spec> noop_jobs(std::int64_t jobs, const std::string& payload = "{}") {
  return std::vector<errand::job_spec>(static_cast<std::size_t>(jobs), errand::job_spec{.kind = "noop", .payload = payload});
}

template <class Store>
void enqueue_jobs(Store& store, std::int64_t jobs, errand::time_point now, const std::string& payload = "{}") {
  store.enqueue_batch(noop_jobs(jobs, payload), now);
}

// range(1): 0, payload {}; 1, an order.
template <class Backend>
void enqueue(benchmark::State& state) {
  Backend backend;
  const errand::system_clock clock;
  const auto specs = noop_jobs(state.range(0), state.range(1) == 0 ? "{}" : order_payload());
  for (auto _ : state) backend.store.enqueue_batch(specs, clock.now());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class Backend>
void store_batch(benchmark::State& state) {
  const std::int64_t jobs = state.range(0);
  Backend backend;
  const errand::system_clock clock;
  std::int64_t done = 0;
  for (auto _ : state) {
    state.PauseTiming();
    enqueue_jobs(backend.store, jobs, clock.now());
    state.ResumeTiming();
    for (;;) {
      const auto now = clock.now();
      const auto claimed = backend.store.claim_batch({"bench:0", 30s, now, {}}, 32);
      if (claimed.empty()) break;
      std::vector<errand::decision> reports;
      reports.reserve(claimed.size());
      for (const auto& job : claimed)
        reports.push_back(errand::decide(job, errand::succeed{job.attempt, "bench:0", {}}, {}, now));
      for (const auto r : backend.store.apply_batch(reports)) done += r == errand::write_result::applied;
    }
  }
  state.SetItemsProcessed(done);
}

// A handler that takes the payload as JSON text, or (Payload not void) decoded.
template <class Backend, class Payload = void>
void drain(benchmark::State& state, const errand::runner_options& options, const std::string& payload = "{}") {
  const std::int64_t jobs = state.range(0);
  Backend backend;
  const errand::system_clock clock;
  for (auto _ : state) {
    state.PauseTiming();
    enqueue_jobs(backend.store, jobs, clock.now(), payload);
    std::latch handled(jobs);
    state.ResumeTiming();
    errand::runner runner(backend.store, options, clock);
    if constexpr (std::is_void_v<Payload>)
      runner.handle("noop", [&handled](const std::string&, errand::job_context&) { handled.count_down(); });
    else
      runner.template handle<Payload>("noop", [&handled](const Payload&, errand::job_context&) { handled.count_down(); });
    runner.start();
    handled.wait();
    runner.stop();  // writes the reports still waiting for their batch
    if (runner.stats().succeeded != jobs) {
      state.SkipWithError("the runner did not record every job's success");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * jobs);
}

errand::runner_options on_threads(std::size_t threads = 4) {
  errand::runner_options options;
  options.threads = threads;
  options.worker_id = "bench";
  options.log = [](std::string_view) {};
  return options;
}

template <class Backend>
void runner_defaults(benchmark::State& state) {
  drain<Backend>(state, on_threads());
}

template <class Backend>
void runner_typed(benchmark::State& state) {
  drain<Backend, order>(state, on_threads(), order_payload());
}

// report_batch = 1 writes every report on its own, as the runner did before its throughput knobs.
template <class Backend>
void runner_report_batch(benchmark::State& state) {
  auto options = on_threads();
  options.report_batch = static_cast<std::size_t>(state.range(1));
  drain<Backend>(state, options);
}

template <class Backend>
void runner_prefetch(benchmark::State& state) {
  auto options = on_threads();
  options.prefetch = static_cast<std::size_t>(state.range(1));
  drain<Backend>(state, options);
}

// prefetch and report_batch 256 on 1, 2 or 4 threads: the runner's own cost
// per job on one thread, beside what more threads add.
template <class Backend>
void runner_threads(benchmark::State& state) {
  auto options = on_threads(static_cast<std::size_t>(state.range(1)));
  options.prefetch = 256;
  options.report_batch = 256;
  drain<Backend>(state, options);
}

template <class Backend>
void enqueue_to_start(benchmark::State& state) {
  Backend backend;
  const errand::system_clock clock;
  errand_bench::latencies waited;
  errand_bench::start_probe probe(backend.store);
  for (auto _ : state) {
    backend.store.enqueue({.kind = "ping", .payload = errand_bench::ping_payload()}, clock.now());
    waited.add(state, probe.next());
  }
  waited.report(state);
}

}  // namespace

BENCHMARK(enqueue_to_start<memory_backend>)->Name("latency/memory")->UseManualTime()->Iterations(2000);
BENCHMARK(enqueue_to_start<sqlite_backend>)->Name("latency/sqlite")->UseManualTime()->Iterations(500);
BENCHMARK(store_batch<memory_backend>)->Name("store_batch/memory")->Arg(5000)->UseRealTime();
BENCHMARK(runner_defaults<memory_backend>)->Name("runner/memory/defaults")->Arg(5000)->UseRealTime();
BENCHMARK(runner_report_batch<memory_backend>)
    ->Name("runner/memory/report_batch")
    ->ArgsProduct({{5000}, {1, 4, 16, 64}})
    ->UseRealTime();
BENCHMARK(runner_prefetch<memory_backend>)
    ->Name("runner/memory/prefetch")
    ->Args({5000, 32})
    ->Args({5000, 256})
    ->Args({100000, 256})
    ->UseRealTime();
BENCHMARK(runner_threads<memory_backend>)
    ->Name("runner/memory/threads")
    ->ArgsProduct({{100000}, {1, 2, 4}})
    ->UseRealTime();
BENCHMARK(runner_typed<memory_backend>)->Name("runner/memory/typed")->Arg(5000)->UseRealTime();
BENCHMARK(enqueue<memory_backend>)->Name("enqueue/memory/payload")->ArgsProduct({{5000}, {0, 1}})->UseRealTime();
BENCHMARK(store_batch<sqlite_backend>)->Name("store_batch/sqlite")->Arg(1000)->UseRealTime();
BENCHMARK(runner_defaults<sqlite_backend>)->Name("runner/sqlite/defaults")->Arg(1000)->UseRealTime();
BENCHMARK(runner_report_batch<sqlite_backend>)
    ->Name("runner/sqlite/report_batch")
    ->ArgsProduct({{1000}, {1, 4, 16, 64}})
    ->UseRealTime();
BENCHMARK(runner_prefetch<sqlite_backend>)
    ->Name("runner/sqlite/prefetch")
    ->Args({1000, 32})
    ->Args({1000, 256})
    ->UseRealTime();
BENCHMARK(runner_typed<sqlite_backend>)->Name("runner/sqlite/typed")->Arg(1000)->UseRealTime();
BENCHMARK(enqueue<sqlite_backend>)->Name("enqueue/sqlite/payload")->ArgsProduct({{1000}, {0, 1}})->UseRealTime();

BENCHMARK_MAIN();
