// Review tasks of a code-review bot (the bug report "persist + surface the runner
// failure detail"). Its runners sent a detail with every status update and the
// control plane dropped it ("not persisted yet"), so 68% of "succeeded"
// reviews had posted nothing and nobody could tell. Here:
//   - a runner process is killed mid-review; the next runner's start-up reaper
//     pass recovers its task and records why ("lease expired: worker …");
//   - a success may carry a detail, so a no-op review says it posted nothing;
//   - a terminal report without a detail keeps the reason already recorded
//     (COALESCE), and a failure nobody explained says so instead of ''.
// The tasks live in a SQLite file that two processes share.
#include "text_table.hpp"
#include <errand/outcome.hpp>
#include <errand/runner.hpp>
#include <errand/sqlite.hpp>

#include <boost/describe/class.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using errand_examples::or_null;

struct review_task {
  std::string repo;
  int pull_request = 0;
};
BOOST_DESCRIBE_STRUCT(review_task, (), (repo, pull_request))

namespace {

const errand::sqlite_options review_tables{.table_prefix = "review_"};

errand::runner_options runner_named(const char* name) {
  errand::runner_options options;
  options.threads = 1;
  options.worker_id = name;
  options.lease = 60s;
  options.log = [name](std::string_view line) { std::cout << "[" << name << " log] " << line << "\n"; };
  return options;
}

// What a review runner does with each pull request.
errand::job_result review(const review_task& task, errand::job_context&) {
  if (task.pull_request == 88) return std::string("posted nothing: the diff only touches lockfiles");
  if (task.pull_request == 90) return errand::failure{"", "reported", false};  // a runner that sends no detail
  if (task.pull_request == 7) return errand::failure{"GitHub API: 403 rate limit exceeded", "github"};
  return std::string("posted 3 review comments");
}

// Runner A, in a child process: it claims the first task and is killed with
// SIGKILL in the middle of the review, as an OOM kill or a lost node would.
void run_doomed_runner(const std::string& database, const errand::manual_clock& clock) {
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    errand::sqlite_store store(database, review_tables);
    errand::runner<errand::sqlite_store> runner(store, runner_named("review-runner-a"), clock);
    runner.handle<review_task>("review", [](const review_task&, errand::job_context&) -> errand::job_result {
      kill(getpid(), SIGKILL);
      for (;;) pause();
    });
    runner.poll();
    runner.wait_idle();
    _exit(3);  // not reached: the handler killed the process
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    throw std::runtime_error("runner A was meant to be killed mid-review");
  std::cout << "review-runner-a claimed task 1 and was killed (SIGKILL) in the middle of the review.\n";
}

std::optional<errand::time_point> next_due(const errand::sqlite_store& store) {
  std::optional<errand::time_point> next;
  for (const auto state : {errand::job_state::pending, errand::job_state::retry_pending})
    for (const auto& row : store.query({.state = state})) next = next ? std::min(*next, row.run_at) : row.run_at;
  return next;
}

std::string state_name(errand::job_state s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

}  // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path database = argc > 1 ? argv[1] : "/tmp/errand-examples/review_tasks.db";
  if (database.has_parent_path()) std::filesystem::create_directories(database.parent_path());
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(database.string() + suffix);
  errand::manual_clock clock;

  {  // Closed before the fork: a SQLite connection must not cross into a child process.
    errand::sqlite_store store(database.string(), review_tables);
    for (const auto& task : {review_task{"acme/api", 412}, review_task{"acme/api", 413}, review_task{"acme/web", 88},
                             review_task{"acme/web", 90}, review_task{"acme/ops", 7}})
      store.enqueue({.kind = "review", .payload = errand::to_json(task)}, clock.now());
  }
  run_doomed_runner(database.string(), clock);

  clock.advance(2min);  // runner A's 60 s lease ran out long ago
  errand::sqlite_store store(database.string(), review_tables);
  errand::runner<errand::sqlite_store> runner(store, runner_named("review-runner-b"), clock);
  runner.handle<review_task>("review", review);
  runner.supervise();  // the first pass reaps: crash recovery at start-up
  std::cout << "review-runner-b started; its first reaper pass put task 1 in " << state_name(store.get(1)->state)
            << ".\n";
  while (runner.poll() > 0) runner.wait_idle();

  // An operator gives up on the rate-limited review without typing a reason.
  const auto cancelled = errand::report(store, 5, errand::cancel{}, errand::retry_policy{}, clock.now());
  std::cout << "An operator cancelled task 5 without a reason: " << (cancelled.applied() ? "applied" : cancelled.reason)
            << "\n";

  while (const auto due = next_due(store)) {
    clock.set(std::max(clock.now(), *due));
    while (runner.poll() > 0) runner.wait_idle();
  }

  std::cout << "\nReview tasks, as GET /tasks returns them:\n";
  errand_examples::text_table tasks(
      {"id", "review", "state", "attempt", "worker", "last_error_kind", "last_error", "detail"});
  for (const auto& row : store.query({})) {
    const auto task = errand::from_json<review_task>(row.payload);
    tasks.add({std::to_string(row.id), task.repo + "#" + std::to_string(task.pull_request), state_name(row.state),
               std::to_string(row.attempt), or_null(row.worker), or_null(row.last_error_kind), or_null(row.last_error),
               or_null(row.detail)});
  }
  tasks.print(std::cout);

  std::cout << "\nHistory of task 1 (the review whose runner died):\n";
  errand_examples::text_table history({"seq", "from → to", "event", "attempt", "worker", "reason / detail"});
  for (const auto& r : store.history(1)) {
    const auto error = errand::error_of(r);
    const std::string said = error ? error->message
                             : r.event == errand::succeed::name
                                 ? or_null(errand::from_json<errand::succeed>(r.payload).detail)
                                 : "";
    history.add({std::to_string(r.seq), state_name(r.from) + " → " + state_name(r.to), r.event,
                 std::to_string(r.attempt), or_null(r.worker), said});
  }
  history.print(std::cout);

  const auto& t = store.tables();
  std::cout << "\nSilent no-ops, told apart from real reviews, with SQL:\n  sqlite3 " << database.string()
            << " \"SELECT id, detail FROM " << t.jobs
            << " WHERE state = 'succeeded' AND detail LIKE 'posted nothing%'\"\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "review_tasks example failed: " << e.what() << '\n';
  return 1;
}
