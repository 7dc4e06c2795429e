// The example of docs/testing.md, compiled and run, so the guide cannot drift from the API.
#include <errand/memory.hpp>
#include <errand/runner.hpp>
#include "errand_catch.hpp"
TEST_CASE("a transient failure is visible while the job waits, and cleared when it runs again") {
  errand::memory_store store;
  errand::manual_clock clock;
  errand::runner_options options;
  options.threads = 1;
  options.log = [](std::string_view) {};
  errand::runner runner(store, options, clock);
  int calls = 0;
  runner.handle("sync", [&](const std::string&, errand::job_context&) {
    if (++calls == 1) throw std::runtime_error("upstream 503");
  });
  const auto id = store.enqueue({.kind = "sync"}, clock.now()).id;
  runner.poll();
  runner.wait_idle();
  auto row = store.get(id);
  REQUIRE(row->state == errand::job_state::retry_pending);
  CHECK(row->last_error == "std::runtime_error: upstream 503");
  clock.set(row->run_at);
  runner.poll();
  runner.wait_idle();
  row = store.get(id);
  CHECK(row->state == errand::job_state::succeeded);
  CHECK_FALSE(row->last_error);
  CHECK(errand::errors_of(store.history(id)).size() == 1);
}
