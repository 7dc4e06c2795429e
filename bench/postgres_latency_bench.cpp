// From enqueue to handler on PostgreSQL: a started, idle errand::runner (the
// defaults), and one job at a time enqueued without runner.notify(), by this
// process or by another one (a child forked before any thread starts, with
// its own store on the same schema). The figure is the time from just before
// the enqueue call to the first line of the handler; p50 and p99 are
// counters, in microseconds. See "From enqueue to handler" in
// docs/benchmarks.md. The server comes from ERRAND_BENCH_PG_URL.

#include <errand/postgres.hpp>
#include <errand/runner.hpp>

#include "support/pg_bench.hpp"
#include "support/start_probe.hpp"

#include <benchmark/benchmark.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

namespace {

using errand_bench::scratch;

errand::job_spec ping() { return {.kind = "ping", .payload = errand_bench::ping_payload()}; }

void same_process(benchmark::State& state) {
  scratch schema("errand_bench_latency_same");
  errand::postgres_store store(schema.options());
  errand_bench::latencies waited;
  errand_bench::start_probe probe(store);
  for (auto _ : state) {
    store.enqueue(ping(), errand_bench::now());
    waited.add(state, probe.next());
  }
  waited.report(state);
}

// Enqueues one ping for each byte read from `commands`, until it closes.
[[noreturn]] void enqueuer(int commands, const errand::postgres_options& options) {
  int status = 0;
  try {
    errand::postgres_store store(options);
    char go = 0;
    while (::read(commands, &go, 1) == 1) store.enqueue(ping(), errand_bench::now());
  } catch (const std::exception& e) {
    std::cerr << "enqueuer: " << e.what() << '\n';
    status = 1;
  }
  ::_exit(status);
}

void other_process(benchmark::State& state) {
  scratch schema("errand_bench_latency_other");
  errand::postgres_store{schema.options()};  // migrated before the child opens it
  int pipe_ends[2];
  if (::pipe(pipe_ends) != 0) {
    state.SkipWithError("pipe() failed");
    return;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_ends[1]);
    enqueuer(pipe_ends[0], schema.options());
  }
  ::close(pipe_ends[0]);
  {
    errand::postgres_store store(schema.options());
    errand_bench::latencies waited;
    errand_bench::start_probe probe(store);
    for (auto _ : state) {
      const char go = 1;
      if (::write(pipe_ends[1], &go, 1) != 1) {
        state.SkipWithError("the enqueuer is gone");
        break;
      }
      waited.add(state, probe.next());
    }
    waited.report(state);
  }
  ::close(pipe_ends[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("the enqueuer failed");
}

}  // namespace

BENCHMARK(same_process)->Name("latency/postgres/same_process")->UseManualTime()->Iterations(500);
BENCHMARK(other_process)->Name("latency/postgres/other_process")->UseManualTime()->Iterations(500);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  errand_bench::describe_server();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
