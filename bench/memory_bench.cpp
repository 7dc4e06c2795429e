// The memory store's full lifecycle against a hand-written baseline doing the
// same bookkeeping (a std::map of jobs, a FIFO of due ids and a history vector
// under one mutex), in the same binary. See docs/benchmarks.md.

#include <errand/memory.hpp>

#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

const errand::time_point t0 = errand::manual_clock{}.now();
const errand::retry_policy no_backoff = errand::retry_policy::immediate();

// The least a queue must do: no decision function, no indexes by priority,
// no leases, no notifications.
class baseline_queue {
 public:
  std::int64_t enqueue(const std::string& kind) {
    std::scoped_lock lock(mutex_);
    const auto id = ++last_id_;
    jobs_[id] = {kind, "pending", 0, {}};
    due_.push_back(id);
    return id;
  }
  std::int64_t claim() {
    std::scoped_lock lock(mutex_);
    if (due_.empty()) return 0;
    const auto id = due_.front();
    due_.pop_front();
    auto& row = jobs_[id];
    row.state = "running";
    ++row.attempt;
    row.last_error.clear();
    history_.push_back({id, "claim"});
    return id;
  }
  void succeed(std::int64_t id) {
    std::scoped_lock lock(mutex_);
    jobs_[id].state = "succeeded";
    history_.push_back({id, "succeed"});
  }
  void fail(std::int64_t id, const std::string& message) {
    std::scoped_lock lock(mutex_);
    auto& row = jobs_[id];
    row.state = "retry_pending";
    row.last_error = message;
    history_.push_back({id, "fail"});
    due_.push_back(id);
  }

 private:
  struct row {
    std::string kind;
    std::string state;
    int attempt;
    std::string last_error;
  };
  struct record {
    std::int64_t id;
    std::string event;
  };
  std::mutex mutex_;
  std::int64_t last_id_ = 0;
  std::map<std::int64_t, row> jobs_;
  std::deque<std::int64_t> due_;
  std::vector<record> history_;
};

errand::job_spec work() {
  errand::job_spec spec;
  spec.kind = "noop";
  return spec;
}

std::unique_ptr<errand::memory_store> shared_store;
std::unique_ptr<baseline_queue> shared_baseline;

void errand_lifecycle(benchmark::State& state) {
  if (state.thread_index() == 0) shared_store = std::make_unique<errand::memory_store>();
  const std::string worker = std::string("w").append(std::to_string(state.thread_index()));
  for (auto _ : state) {
    auto& store = *shared_store;
    store.enqueue(work(), t0);
    const auto row = store.claim({worker, std::chrono::seconds{30}, t0, {}});
    benchmark::DoNotOptimize(errand::report(store, row->id, errand::succeed{row->attempt, worker, {}}, no_backoff, t0));
  }
  state.SetItemsProcessed(state.iterations());
}

void baseline_lifecycle(benchmark::State& state) {
  if (state.thread_index() == 0) shared_baseline = std::make_unique<baseline_queue>();
  for (auto _ : state) {
    auto& queue = *shared_baseline;
    queue.enqueue("noop");
    const auto id = queue.claim();
    queue.succeed(id);
  }
  state.SetItemsProcessed(state.iterations());
}

void errand_fail_then_retry(benchmark::State& state) {
  if (state.thread_index() == 0) shared_store = std::make_unique<errand::memory_store>();
  const std::string worker = std::string("w").append(std::to_string(state.thread_index()));
  for (auto _ : state) {
    auto& store = *shared_store;
    store.enqueue(work(), t0);
    auto row = store.claim({worker, std::chrono::seconds{30}, t0, {}});
    errand::report(store, row->id, errand::fail{row->attempt, worker, {"upstream 503"}}, no_backoff, t0);
    row = store.claim({worker, std::chrono::seconds{30}, t0, {}});
    benchmark::DoNotOptimize(errand::report(store, row->id, errand::succeed{row->attempt, worker, {}}, no_backoff, t0));
  }
  state.SetItemsProcessed(state.iterations());
}

void baseline_fail_then_retry(benchmark::State& state) {
  if (state.thread_index() == 0) shared_baseline = std::make_unique<baseline_queue>();
  for (auto _ : state) {
    auto& queue = *shared_baseline;
    queue.enqueue("noop");
    auto id = queue.claim();
    queue.fail(id, "upstream 503");
    id = queue.claim();
    queue.succeed(id);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(baseline_lifecycle)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(errand_lifecycle)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(baseline_fail_then_retry)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(errand_fail_then_retry)->Threads(1)->Threads(2)->UseRealTime();

BENCHMARK_MAIN();
