// Several worker processes work one queue; one is killed with SIGKILL while
// it holds jobs. Nothing is lost: the reaper recovers the held jobs with a
// reason naming the dead worker, no attempt ran twice, and every job ends
// succeeded with a consistent history.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();
constexpr int job_count = 60;  // in queue "default", for every worker
constexpr int slow_count = 2;  // in queue "slow", for the victim alone, so it surely holds one
constexpr int worker_count = 4;
constexpr int victim = 2;

void say(int fd, const std::string& line) {
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(3);
}

// A worker process: claims in batches of two at t0 and reports success,
// until its queue is empty. The victim works the slow queue, stops at its
// first job and waits to be killed. Never returns.
[[noreturn]] void work(const errand::postgres_options& options, int index, int fd) {
  try {
    errand::postgres_store store(options);
    const std::string name = "worker-" + std::to_string(index);
    const std::vector<std::string> queues{index == victim ? "slow" : "default"};
    for (;;) {
      const auto batch = store.claim_batch({name, 30s, t0, queues}, 2);
      if (batch.empty()) break;
      for (const auto& row : batch) {
        say(fd, "claimed " + std::to_string(row.id) + " " + std::to_string(row.attempt) + " " + name);
        if (index == victim) {
          say(fd, "holding " + std::to_string(row.id));
          for (;;) ::pause();
        }
        const auto done = errand::report(store, row.id, errand::succeed{row.attempt, name, {}}, {}, t0);
        if (!done.applied()) say(fd, "refused " + std::to_string(row.id) + " " + done.reason);
      }
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    say(fd, std::string("error ") + e.what());
    ::_exit(2);
  }
}

}  // namespace

TEST_CASE("kill -9 of a worker process mid-job loses nothing; the reaper says why", "[postgres][crash]") {
  pg_test::scratch_schema schema;
  {
    errand::postgres_store producer(schema.options());
    producer.enqueue_batch(std::vector<errand::job_spec>(job_count, errand::job_spec{.kind = "work"}), t0);
    const errand::job_spec slow{.queue = "slow", .kind = "work"};
    producer.enqueue_batch(std::vector<errand::job_spec>(slow_count, slow), t0);
  }  // no connection of this process crosses the fork

  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  std::map<pid_t, int> workers;
  for (int i = 0; i < worker_count; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      work(schema.options(), i, pipe_fds[1]);
    }
    workers[pid] = i;
  }
  ::close(pipe_fds[1]);

  FILE* lines = ::fdopen(pipe_fds[0], "r");
  REQUIRE(lines);
  std::multiset<std::pair<std::int64_t, std::int32_t>> attempts_run;
  std::set<std::int64_t> held;
  std::vector<std::string> trouble;
  bool killed = false;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, lines)) {
    std::istringstream line(buffer);
    std::string what;
    line >> what;
    if (what == "claimed") {
      std::int64_t id;
      std::int32_t attempt;
      line >> id >> attempt;
      attempts_run.insert({id, attempt});
    } else if (what == "holding") {
      std::int64_t id;
      line >> id;
      held.insert(id);
      for (const auto& [pid, index] : workers)
        if (index == victim && !killed) killed = ::kill(pid, SIGKILL) == 0;
    } else {
      trouble.push_back(buffer);
    }
  }
  std::fclose(lines);
  std::map<int, int> exits;
  for (const auto& [pid, index] : workers) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    exits[index] = WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status);
  }

  INFO("worker messages: " << (trouble.empty() ? std::string("none") : trouble.front()));
  CHECK(trouble.empty());
  REQUIRE(killed);
  CHECK(exits[victim] == 1000 + SIGKILL);
  for (int i = 0; i < worker_count; ++i)
    if (i != victim) CHECK(exits[i] == 0);
  REQUIRE(held.size() == 1);
  const auto stuck = *held.begin();

  errand::postgres_store store(schema.options());
  const auto running = store.query({.state = job_state::running});
  CHECK(running.size() == slow_count);  // the victim's batch: the job it held and the next
  for (const auto& row : running) CHECK(row.worker == "worker-" + std::to_string(victim));

  // The reaper, run by whoever runs it next, after the lease ran out.
  const auto recovered = errand::reap(store, errand::retry_policy::immediate(), t0 + 31s);
  CHECK(recovered.size() == running.size());
  const auto row = store.get(stuck);
  CHECK(row->state == job_state::retry_pending);
  CHECK(row->last_error ==
        "lease expired: worker worker-" + std::to_string(victim) + ", last heartbeat " + errand::to_iso8601(t0));
  CHECK(row->last_error_kind == "lease_expired");

  // The surviving processes (here: this one) finish the recovered jobs.
  while (const auto again = store.claim({"survivor", 30s, t0 + 31s, {}})) {
    attempts_run.insert({again->id, again->attempt});
    REQUIRE(errand::report(store, again->id, errand::succeed{again->attempt, "survivor", {}}, {}, t0 + 32s).applied());
  }

  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, job_count + slow_count}});
  CHECK(attempts_run.size() == job_count + 1 + recovered.size());  // the victim reported its first claim only
  for (const auto& key : attempts_run) CHECK(attempts_run.count(key) == 1);
  for (const auto& job : store.query({.limit = job_count + slow_count})) {
    const auto history = store.history(job.id);
    job_state at = job_state::pending;
    for (std::size_t i = 0; i < history.size(); ++i) {
      CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
      CHECK(history[i].from == at);
      at = history[i].to;
    }
    CHECK(at == job_state::succeeded);
  }
  const auto history = store.history(stuck);
  REQUIRE(history.size() == 4);
  CHECK(history[1].event == "lease_expired");
  CHECK(errand::errors_of(history).at(0).message == *row->last_error);
  CHECK(history[3].worker == "survivor");
}
