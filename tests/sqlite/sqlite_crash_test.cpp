// Several worker processes, each with several threads, work one SQLite file;
// one of them is killed with SIGKILL while it holds a job. Afterwards the
// reaper recovers that job with the reason recorded, the file passes PRAGMA
// integrity_check, no job is lost and no attempt ran twice.
//
// Deterministic without sleeping: the victim tells the test (through a pipe)
// which job it holds, the test kills it then, and the lease's expiry is a
// time the test passes in, not one it waits for.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();
constexpr int job_count = 300;
constexpr int threads_per_process = 3;

struct worker_process {
  pid_t pid = -1;
  std::string log;
};

// Starts the worker program; a victim gets `signal_fd` as its fd 3.
worker_process spawn_worker(const temp_database& db, const std::string& name, errand::time_point now,
                            int signal_fd = -1) {
  worker_process p{-1, db.path() + "." + name + ".log"};
  std::vector<std::string> args{ERRAND_CRASH_WORKER,
                                db.path(),
                                name,
                                std::to_string(threads_per_process),
                                std::to_string(now.time_since_epoch().count()),
                                p.log};
  if (signal_fd >= 0) args.push_back("victim");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (signal_fd >= 0) posix_spawn_file_actions_adddup2(&actions, signal_fd, 3);
  const int spawned = posix_spawn(&p.pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  return p;
}

int exit_code(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Every complete "<id> <attempt> <worker>" line the workers logged; a killed
// worker may have left half a line, which is not a run.
std::vector<std::tuple<std::int64_t, std::int32_t, std::string>> runs_logged(const std::vector<worker_process>& ps) {
  std::vector<std::tuple<std::int64_t, std::int32_t, std::string>> runs;
  for (const auto& p : ps) {
    std::stringstream text;
    text << std::ifstream(p.log).rdbuf();
    const std::string all = text.str();
    std::size_t start = 0;
    for (std::size_t end; (end = all.find('\n', start)) != std::string::npos; start = end + 1) {
      std::istringstream line(all.substr(start, end - start));
      std::int64_t id = 0;
      std::int32_t attempt = 0;
      std::string worker;
      line >> id >> attempt >> worker;
      runs.emplace_back(id, attempt, worker);
    }
    std::remove(p.log.c_str());
  }
  return runs;
}

}  // namespace

TEST_CASE("crash: a worker process killed mid-job loses nothing and its job is recovered with a reason",
          "[sqlite][crash]") {
  temp_database db;
  errand::sqlite_store store(db.path());
  store.enqueue_batch(std::vector<errand::job_spec>(job_count, errand::job_spec{.kind = "work"}), t0);
  std::vector<worker_process> processes;

  // The victim starts first and says which job it holds; the others start, and the victim dies mid-job.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  processes.push_back(spawn_worker(db, "victim", t0, pipe_fds[1]));
  ::close(pipe_fds[1]);
  std::string held;
  for (char c; ::read(pipe_fds[0], &c, 1) == 1 && c != '\n';) held += c;
  ::close(pipe_fds[0]);
  std::int64_t held_id = 0;
  std::int32_t held_attempt = 0;
  std::istringstream(held) >> held_id >> held_attempt;
  REQUIRE(held_id > 0);
  REQUIRE(held_attempt == 1);

  processes.push_back(spawn_worker(db, "alpha", t0));
  processes.push_back(spawn_worker(db, "beta", t0));
  REQUIRE(::kill(processes[0].pid, SIGKILL) == 0);
  CHECK(exit_code(processes[0].pid) == -SIGKILL);
  CHECK(exit_code(processes[1].pid) == 0);
  CHECK(exit_code(processes[2].pid) == 0);

  // What the dead worker held is still running, under its name, and nothing else is.
  const auto stuck = store.query({.state = job_state::running, .limit = job_count});
  REQUIRE_FALSE(stuck.empty());
  for (const auto& row : stuck) CHECK(row.worker->rfind("victim-", 0) == 0);
  CHECK(store.get(held_id)->state == job_state::running);
  CHECK(store.get(held_id)->worker == "victim-t0");
  CHECK(raw_connection(db.path()).text("PRAGMA integrity_check") == "ok");

  // Its lease runs out (a time passed in, not waited for): the reaper recovers it with the reason.
  const auto after_lease = t0 + 31s;
  CHECK(errand::reap(store, errand::retry_policy::immediate(), t0 + 29s).empty());
  const auto recovered = errand::reap(store, errand::retry_policy::immediate(), after_lease);
  CHECK(recovered.size() == stuck.size());
  const auto row = store.get(held_id);
  CHECK(row->state == job_state::retry_pending);
  CHECK(row->last_error == "lease expired: worker victim-t0, last heartbeat " + errand::to_iso8601(t0));
  CHECK(row->last_error_kind == "lease_expired");
  CHECK(row->last_error_at == after_lease);

  // Two fresh processes finish the recovered jobs.
  processes.push_back(spawn_worker(db, "gamma", after_lease));
  processes.push_back(spawn_worker(db, "delta", after_lease));
  CHECK(exit_code(processes[3].pid) == 0);
  CHECK(exit_code(processes[4].pid) == 0);

  CHECK(raw_connection(db.path()).text("PRAGMA integrity_check") == "ok");
  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, job_count}});

  // No attempt ran twice: not in the workers' own logs, not in the history.
  const auto runs = runs_logged(processes);
  std::map<std::pair<std::int64_t, std::int32_t>, int> times_run;
  std::set<std::int64_t> jobs_run;
  for (const auto& [id, attempt, worker] : runs) {
    ++times_run[{id, attempt}];
    jobs_run.insert(id);
  }
  for (const auto& [key, n] : times_run) {
    INFO("job " << key.first << " attempt " << key.second);
    CHECK(n == 1);
  }
  CHECK(jobs_run.size() == static_cast<std::size_t>(job_count));

  for (const auto& job : store.query({.limit = job_count})) {
    INFO("job " << job.id);
    const auto history = store.history(job.id);
    std::set<std::int32_t> claimed_attempts;
    job_state at = job_state::pending;
    for (std::size_t i = 0; i < history.size(); ++i) {
      CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
      CHECK(history[i].from == at);
      at = history[i].to;
      if (history[i].event == "claim") CHECK(claimed_attempts.insert(history[i].attempt).second);
    }
    CHECK(at == job_state::succeeded);
    CHECK(static_cast<std::int32_t>(claimed_attempts.size()) == job.attempt);
  }

  const auto held_history = store.history(held_id);
  REQUIRE(held_history.size() == 4);
  CHECK(held_history[0].event == "claim");
  CHECK(held_history[0].worker == "victim-t0");
  CHECK(held_history[1].event == "lease_expired");
  CHECK(errand::errors_of(held_history).at(0).message == *row->last_error);
  CHECK(held_history[2].event == "claim");
  CHECK(held_history[2].attempt == 2);
  CHECK(held_history[3].event == "succeed");
}
