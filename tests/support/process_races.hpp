#pragma once
// Races between processes on one database, for the backends whose guarantees
// hold across processes (SQLite, PostgreSQL): enqueuers of the same unique
// keys, claimers of a limited queue, schedulers of the same periodic jobs.
//
// A backend's test calls each scenario with a function that opens a store on
// its database. The parent opens it too, but never holds a store while it
// forks: each child opens its own. The children wait on a pipe that the
// parent closes once all of them are forked, so they start together, and
// report what they did as lines on another pipe ("<what> <values...>").

#include "errand_catch.hpp"
#include <errand/errand.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace process_races {

using namespace std::chrono_literals;

inline const errand::time_point t0 = errand::manual_clock{}.now();

// Runs body(index, say) in `count` child processes started at once; `say`
// sends one line to the parent. Returns every line, after checking that every
// child exited 0 (a child that throws says "error <what>" and exits 2).
template <class Body>
std::vector<std::string> in_processes(int count, Body body) {
  int go[2], lines[2];
  REQUIRE(::pipe(go) == 0);
  REQUIRE(::pipe(lines) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      ::close(lines[0]);
      const auto say = [&](const std::string& line) {
        const std::string text = line + "\n";  // shorter than PIPE_BUF: written whole
        if (::write(lines[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(3);
      };
      char start;
      if (::read(go[0], &start, 1) != 0) ::_exit(4);  // returns 0 once the parent closed its end
      try {
        body(i, say);
        ::_exit(0);
      } catch (const std::exception& e) {
        say(std::string("error ") + e.what());
        ::_exit(2);
      }
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(lines[1]);
  ::close(go[1]);  // go
  std::vector<std::string> out;
  FILE* from_children = ::fdopen(lines[0], "r");
  REQUIRE(from_children);
  char buffer[1024];
  while (std::fgets(buffer, sizeof buffer, from_children)) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    out.push_back(line);
  }
  std::fclose(from_children);
  for (const pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("lines from the children: " << out.size() << (out.empty() ? "" : ", first: " + out.front()));
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  for (const auto& line : out) CHECK(line.rfind("error", 0) != 0);
  return out;
}

inline std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Processes enqueue the same keys at once, half of them scoped to unfinished
// jobs: one job per key. Once every job succeeded they race again: the
// scoped keys get one new job each, the others none.
template <class Open>
void unique_keys(Open open) {
  constexpr int process_count = 4;
  constexpr int key_count = 16;
  const auto race = [&](errand::time_point now) {
    const auto lines = in_processes(process_count, [&](int, const auto& say) {
      auto store = open();
      for (int k = 0; k < key_count; ++k) {
        errand::job_spec s{.kind = "race", .unique_key = "race:" + std::to_string(k)};
        if (k % 2) s.unique_states = errand::unfinished_states;
        const auto result = store.enqueue(s, now);
        say("enqueued " + std::to_string(k) + " " + std::to_string(result.id) + " " + (result.created ? "1" : "0"));
      }
    });
    std::map<int, int> created;
    std::map<int, std::set<std::string>> ids;
    for (const auto& line : lines) {
      const auto w = words(line);
      REQUIRE(w.size() == 4);
      created[std::stoi(w[1])] += w[3] == "1";
      ids[std::stoi(w[1])].insert(w[2]);
    }
    REQUIRE(lines.size() == process_count * key_count);
    return std::pair{created, ids};
  };

  const auto [created, ids] = race(t0);
  for (int k = 0; k < key_count; ++k) {
    INFO("key race:" << k);
    CHECK(created.at(k) == 1);
    CHECK(ids.at(k).size() == 1);
  }
  {
    auto store = open();
    while (const auto job = store.claim({"finisher", 30s, t0, {}}))
      REQUIRE(errand::report(store, job->id, errand::succeed{job->attempt, "finisher", {}}, {}, t0).applied());
  }
  const auto [created_again, ids_again] = race(t0 + 1h);
  for (int k = 0; k < key_count; ++k) {
    INFO("key race:" << k);
    CHECK(created_again.at(k) == (k % 2 ? 1 : 0));
    CHECK(ids_again.at(k).size() == 1);
  }
  auto store = open();
  CHECK(store.count_by_state() ==
        errand::state_counts{{errand::job_state::succeeded, key_count}, {errand::job_state::pending, key_count / 2}});
}

// Processes claim from a queue limited to 3 and hold what they get: together
// they get 3. Once those finished, again 3.
template <class Open>
void queue_limit(Open open) {
  constexpr int process_count = 4;
  constexpr int limit = 3;
  {
    auto store = open();
    store.set_queue_limit("partner", limit, t0);
    store.enqueue_batch(std::vector<errand::job_spec>(30, errand::job_spec{.queue = "partner", .kind = "call"}), t0);
    store.enqueue_batch(std::vector<errand::job_spec>(10, errand::job_spec{.kind = "local"}), t0);
  }
  const auto race = [&] {
    std::size_t partner_jobs = 0;
    for (const auto& line : in_processes(process_count, [&](int index, const auto&say) {
           auto store = open();
           for (int i = 0; i < 3; ++i)
             for (const auto& job : store.claim_batch({"holder-" + std::to_string(index), 30s, t0, {}}, 2))
               say("claimed " + job.queue);
         }))
      partner_jobs += line == "claimed partner";
    return partner_jobs;
  };
  const auto running_partner_jobs = [&] {
    auto store = open();
    return store.query({.state = errand::job_state::running, .queue = "partner"}).size();
  };
  CHECK(race() == limit);
  CHECK(running_partner_jobs() == limit);
  {
    auto store = open();
    for (const auto& job : store.query({.state = errand::job_state::running, .limit = 1000}))
      REQUIRE(errand::report(store, job.id, errand::succeed{job.attempt, *job.worker, {}}, {}, t0).applied());
  }
  CHECK(race() == limit);
  CHECK(running_partner_jobs() == limit);
}

// Processes run the same schedules over the same three hours, a pass every
// 20 s: one job per tick, whoever created it.
template <class Open>
void periodic_schedulers(Open open) {
  constexpr int process_count = 3;
  std::int64_t created = 0;
  for (const auto& line : in_processes(process_count, [&](int, const auto& say) {
         auto store = open();
         errand::periodic_scheduler periodic;
         periodic.add({.name = "minutely", .when = errand::schedule::every(1min), .job = {.kind = "tick"}});
         periodic.add({.name = "hourly", .when = errand::schedule::cron("0 * * * *"), .job = {.kind = "report"}});
         std::int64_t mine = 0;
         for (int pass = 0; pass <= 3 * 60 * 3; ++pass)
           for (const auto& tick : periodic.enqueue_due(store, t0 + pass * 20s).ticks) mine += tick.result.created;
         say("created " + std::to_string(mine));
       }))
    created += std::stoll(words(line).at(1));

  auto store = open();
  std::map<std::string, std::set<errand::time_point>> ticks;
  std::size_t jobs = 0;
  for (const auto& row : store.query({.limit = 1000})) {
    ++jobs;
    CHECK(ticks[row.kind].insert(row.run_at).second);
  }
  CHECK(ticks["tick"].size() == 3 * 60 + 1);
  CHECK(ticks["report"].size() == 4);
  CHECK(created == static_cast<std::int64_t>(jobs));
}

}  // namespace process_races
