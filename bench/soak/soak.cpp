// The soak harness: many jobs through several worker processes on one
// database, with a mixed workload and a supervisor that kills workers at
// random, then a checker that reads every job's row and history and verifies
// that nothing was lost.
//
//   soak --db jobs.db --jobs 200000 --workers 3 --threads 4 --kill-every 5
//   soak --db postgresql://... --jobs 1000000 --workers 3
//
// What the workers meet (by job number, so a run is repeatable):
//   ok        succeeds
//   flaky     fails its first attempt (retryable), then succeeds
//   doomed    fails for good (not retryable); an operator requeues some once
//   throws    throws on its first attempt, then succeeds
//   slow      outlives its deadline on its first attempt (timed out), then succeeds
//   crash     kills its own process on its first attempt (the reaper recovers it), then succeeds
// Besides: the supervisor SIGKILLs a random worker every --kill-every seconds
// and starts another; an operator thread cancels some pending jobs and
// requeues some failed ones; a pruner deletes finished jobs older than a few
// seconds while all this runs.
//
// Every handler appends "<job> <attempt> <pid>" to a log before it does
// anything, so a second run of one attempt would show. The checker then
// verifies, for every job left: it is succeeded or failed (nothing is left
// running or waiting); a failed job has a non-empty reason and its time; its
// history runs seq 1..n from pending to its state, with a reason on every
// failure; the row's attempt is the number of claims in its history; and no
// (job, attempt) ran twice; and the jobs counted equal those enqueued minus
// those pruned. It prints throughput over time, the workers' resident memory
// and the database's size, and exits 1 on any violation.
//
// `soak worker ...` is the worker process the supervisor starts; not for users.

#include <errand/errand.hpp>
#include <errand/postgres.hpp>
#include <errand/sqlite.hpp>

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;
using steady = std::chrono::steady_clock;

struct settings {
  std::string db;
  std::int64_t jobs = 20000;
  int workers = 3;
  int threads = 4;
  double kill_every = 5.0;  // seconds; 0: never
  int max_minutes = 60;
  std::string log_dir = "/tmp/errand-soak";
};

// The kinds, by job number.
std::string kind_of(std::int64_t n) {
  // Out of every hundred jobs, the first count of each kind in this order.
  static const std::vector<std::pair<int, std::string>> mix{{60, "ok"},     {15, "flaky"}, {5, "doomed"},
                                                            {10, "throws"}, {3, "slow"},   {2, "crash"}};
  int at = static_cast<int>(n % 100);
  for (const auto& [count, kind] : mix) {
    if (at < count) return kind;
    at -= count;
  }
  return "ok";
}

using any_store = std::variant<std::unique_ptr<errand::sqlite_store>, std::unique_ptr<errand::postgres_store>>;

any_store open_store(const std::string& db) {
  if (db.starts_with("postgresql://") || db.starts_with("postgres://")) {
    errand::postgres_options options;
    options.url = db;
    options.max_connections = 8;
    return std::make_unique<errand::postgres_store>(options);
  }
  return std::make_unique<errand::sqlite_store>(db);
}

template <class F>
decltype(auto) with_store(any_store& store, F&& f) {
  return std::visit([&](auto& s) -> decltype(auto) { return f(*s); }, store);
}

void append(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
}

errand::retry_policy quick_retry() { return {.base = 20ms, .multiplier = 2.0, .cap = 200ms, .jitter = 0.1}; }

// ---- worker process -------------------------------------------------------

std::atomic<bool> stop_requested{false};

int run_worker(const settings& s, const std::string& log_path) {
  ::signal(SIGTERM, [](int) { stop_requested = true; });
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return 2;
  auto store = open_store(s.db);
  return with_store(store, [&](auto& st) {
    errand::runner_options o;
    o.threads = static_cast<std::size_t>(s.threads);
    o.worker_id = "soak-" + std::to_string(::getpid());
    o.lease = 2s;
    o.poll_interval = 50ms;
    o.reaper_interval = 1s;
    o.deadline = 30s;
    o.shutdown_grace = 2s;
    o.retry = quick_retry();
    o.log = [](std::string_view) {};
    errand::runner runner(st, o);
    const auto record = [log](const errand::job_context& ctx, std::int64_t id) {
      append(log, std::to_string(id) + " " + std::to_string(ctx.attempt()) + " " + std::to_string(::getpid()) + "\n");
    };
    const auto handler = [&](std::string kind) {
      return [&, kind](const std::string&, errand::job_context& ctx) -> errand::job_result {
        record(ctx, ctx.job_id());
        const bool first = ctx.attempt() == 1;
        if (kind == "flaky" && first) return errand::failure{.message = "upstream 503", .kind = "http"};
        if (kind == "doomed") return errand::failure{.message = "bad manifest", .kind = "validation", .retryable = false};
        if (kind == "throws" && first) throw std::runtime_error("connection reset by peer");
        if (kind == "crash" && first) ::kill(::getpid(), SIGKILL);
        if (kind == "slow" && first) {
          while (!ctx.stop_requested()) std::this_thread::sleep_for(5ms);
          return errand::failure{.message = "interrupted", .kind = "stopped"};
        }
        return errand::job_result{};
      };
    };
    for (const char* kind : {"ok", "flaky", "doomed", "throws", "crash"}) runner.handle(kind, handler(kind));
    runner.handle("slow", handler("slow"), errand::handler_options{100ms});
    runner.start();
    while (!stop_requested) std::this_thread::sleep_for(50ms);
    runner.stop();
    return 0;
  });
}

// ---- supervisor -----------------------------------------------------------

long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  return 0;
}

struct fleet {
  const settings& s;
  std::string self;
  std::vector<pid_t> pids;
  int started = 0;

  pid_t spawn() {
    const std::string log = s.log_dir + "/worker-" + std::to_string(started++) + ".log";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execl(self.c_str(), self.c_str(), "worker", "--db", s.db.c_str(), "--threads",
              std::to_string(s.threads).c_str(), "--log", log.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    return pid;
  }
  // Reaps workers that died (a "crash" job kills its own process) and replaces them.
  int replace_dead() {
    int died = 0;
    for (auto& pid : pids) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = spawn();
        ++died;
      }
    }
    return died;
  }
};

std::int64_t database_bytes(const std::string& db) {
  if (db.starts_with("postgres")) {
    std::int64_t bytes = 0;
    // The store has no size to report; the server has, through psql.
    const std::string command = "psql -Atq '" + db + "' -c 'SELECT pg_database_size(current_database())'";
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buffer[64] = {};
      if (std::fgets(buffer, sizeof buffer, p)) bytes = std::atoll(buffer);
      ::pclose(p);
    }
    return bytes;
  }
  std::int64_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ignored;
    const auto size = std::filesystem::file_size(db + suffix, ignored);
    if (!ignored) bytes += static_cast<std::int64_t>(size);
  }
  return bytes;
}

struct check_result {
  std::int64_t jobs = 0, failed = 0, histories = 0, records = 0;
  std::vector<std::string> violations;
  void violated(std::string what) {
    if (violations.size() < 20) violations.push_back(std::move(what));
    else if (violations.size() == 20) violations.push_back("(more violations not shown)");
  }
};

template <class Store>
check_result check(Store& store, const settings& s) {
  check_result r;
  std::set<std::pair<std::int64_t, std::int32_t>> ran;
  for (const auto& entry : std::filesystem::directory_iterator(s.log_dir)) {
    std::ifstream log(entry.path());
    std::int64_t id;
    std::int32_t attempt;
    long pid;
    while (log >> id >> attempt >> pid)
      if (!ran.insert({id, attempt}).second)
        r.violated("job " + std::to_string(id) + " attempt " + std::to_string(attempt) + " ran twice");
  }
  for (std::int64_t after = 0;;) {
    const auto page = store.query({.after_id = after, .limit = 1000});
    if (page.empty()) break;
    after = page.back().id;
    for (const auto& row : page) {
      ++r.jobs;
      const std::string name = "job " + std::to_string(row.id) + " (" + row.kind + ")";
      if (row.state != job_state::succeeded && row.state != job_state::failed)
        r.violated(name + " ended in " + std::string(*errand::name_of(row.state)));
      if (row.state == job_state::failed) {
        ++r.failed;
        if (!row.last_error || row.last_error->empty() || !row.last_error_at) r.violated(name + " failed without a reason");
      }
      if (row.last_error && row.last_error->empty()) r.violated(name + " has an empty last_error");
      const auto history = store.history(row.id);
      ++r.histories;
      r.records += static_cast<std::int64_t>(history.size());
      job_state at = job_state::pending;
      std::int32_t claims = 0;
      for (std::size_t i = 0; i < history.size(); ++i) {
        const auto& h = history[i];
        if (h.seq != static_cast<std::int64_t>(i + 1)) r.violated(name + " history skips to seq " + std::to_string(h.seq));
        if (h.from != at) r.violated(name + " history record " + std::to_string(h.seq) + " starts elsewhere");
        at = h.to;
        if (h.event == "claim") ++claims;
        if (h.to == job_state::failed || h.to == job_state::retry_pending) {
          const auto error = errand::error_of(h);
          if (!error || error->message.empty()) r.violated(name + " record " + std::to_string(h.seq) + " has no reason");
        }
      }
      if (at != row.state) r.violated(name + ": history ends elsewhere than the row");
      if (claims != row.attempt) r.violated(name + ": " + std::to_string(claims) + " claims for attempt " + std::to_string(row.attempt));
    }
  }
  return r;
}

int run_supervisor(settings s, const std::string& self) {
  std::filesystem::remove_all(s.log_dir);
  std::filesystem::create_directories(s.log_dir);
  auto store = open_store(s.db);
  return with_store(store, [&](auto& st) {
    fleet workers{s, self, {}, 0};
    for (int i = 0; i < s.workers; ++i) workers.pids.push_back(workers.spawn());

    std::atomic<bool> done{false};
    std::atomic<std::int64_t> pruned{0}, cancelled{0}, requeued{0};
    std::thread operator_thread([&] {
      std::mt19937_64 random(7);
      while (!done) {
        std::this_thread::sleep_for(200ms);
        const auto now = errand::system_clock{}.now();
        for (const auto& row : st.query({.state = job_state::pending, .limit = 5}))
          if (random() % 20 == 0 && errand::report(st, row.id, errand::cancel{"soak operator"}, quick_retry(), now).applied())
            ++cancelled;
        for (const auto& row : st.query({.state = job_state::failed, .kind = std::string("doomed"), .limit = 3}))
          if (random() % 4 == 0 && errand::report(st, row.id, errand::requeue{"soak operator"}, quick_retry(), now).applied())
            ++requeued;
        pruned += st.prune({.finished_before = now - 5s}).jobs_deleted;
      }
    });

    const auto began = steady::now();
    std::int64_t enqueued = 0;
    std::mt19937_64 random(42);
    auto next_kill = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.kill_every));
    auto next_report = steady::now();
    int kills = 0, crashes = 0;
    long peak_rss = 0;
    std::int64_t last_finished = 0;
    auto last_report = steady::now();
    std::printf("%8s %12s %12s %10s %12s %10s\n", "seconds", "enqueued", "finished", "jobs/s", "worker RSS", "db MiB");
    bool all_finished = false;
    while (steady::now() - began < std::chrono::minutes(s.max_minutes)) {
      if (enqueued < s.jobs) {
        const auto counts = st.count_by_state();
        const auto waiting = counts.contains(job_state::pending) ? counts.at(job_state::pending) : 0;
        if (waiting < 20000) {
          std::vector<errand::job_spec> batch;
          for (int i = 0; i < 5000 && enqueued < s.jobs; ++i, ++enqueued)
            batch.push_back({.kind = kind_of(enqueued), .payload = "{\"n\":" + std::to_string(enqueued) + "}",
                             .max_attempts = 3});
          st.enqueue_batch(batch, errand::system_clock{}.now());
        }
      }
      crashes += workers.replace_dead();
      if (s.kill_every > 0 && steady::now() >= next_kill) {
        auto& victim = workers.pids[random() % workers.pids.size()];
        ::kill(victim, SIGKILL);
        ::waitpid(victim, nullptr, 0);
        victim = workers.spawn();
        ++kills;
        next_kill += std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.kill_every));
      }
      const auto counts = st.count_by_state();
      const auto count = [&](job_state state) { return counts.contains(state) ? counts.at(state) : 0; };
      const std::int64_t finished = count(job_state::succeeded) + count(job_state::failed) + pruned.load();
      if (steady::now() >= next_report) {
        long rss = 0;
        for (const auto pid : workers.pids) rss += resident_kib(pid);
        peak_rss = std::max(peak_rss, rss);
        const double seconds = std::chrono::duration<double>(steady::now() - last_report).count();
        std::printf("%8.0f %12lld %12lld %10.0f %9ld KiB %10.1f\n",
                    std::chrono::duration<double>(steady::now() - began).count(), static_cast<long long>(enqueued),
                    static_cast<long long>(finished), seconds > 0 ? (finished - last_finished) / seconds : 0.0, rss,
                    static_cast<double>(database_bytes(s.db)) / (1 << 20));
        std::fflush(stdout);
        last_finished = finished;
        last_report = steady::now();
        next_report += 10s;
      }
      if (enqueued == s.jobs && count(job_state::pending) + count(job_state::running) + count(job_state::retry_pending) == 0) {
        all_finished = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    done = true;
    operator_thread.join();
    // The operator may have requeued a job after the count above: the workers finish it too.
    const auto unfinished = [&] {
      const auto counts = st.count_by_state();
      std::int64_t n = 0;
      for (const auto state : {job_state::pending, job_state::running, job_state::retry_pending})
        n += counts.contains(state) ? counts.at(state) : 0;
      return n;
    };
    while (all_finished && unfinished() > 0) {
      if (steady::now() - began >= std::chrono::minutes(s.max_minutes)) {
        all_finished = false;
        break;
      }
      crashes += workers.replace_dead();
      std::this_thread::sleep_for(100ms);
    }
    for (const auto pid : workers.pids) ::kill(pid, SIGTERM);
    for (const auto pid : workers.pids) ::waitpid(pid, nullptr, 0);
    const double seconds = std::chrono::duration<double>(steady::now() - began).count();

    const auto result = check(st, s);
    const std::int64_t expected = enqueued - pruned.load();
    std::printf("\n%lld jobs enqueued in %.0f s (%.0f jobs/s end to end), %d workers x %d threads\n",
                static_cast<long long>(enqueued), seconds, static_cast<double>(enqueued) / seconds, s.workers, s.threads);
    std::printf("faults: %d SIGKILLs by the supervisor, %d workers killed by their own crash jobs; operator: %lld "
                "cancelled, %lld requeued; pruner: %lld jobs deleted\n",
                kills, crashes, static_cast<long long>(cancelled.load()), static_cast<long long>(requeued.load()),
                static_cast<long long>(pruned.load()));
    std::printf("peak resident memory of the workers: %ld KiB in all; database: %.1f MiB at the end\n", peak_rss,
                static_cast<double>(database_bytes(s.db)) / (1 << 20));
    std::printf("checked: %lld jobs (%lld failed), %lld history records\n", static_cast<long long>(result.jobs),
                static_cast<long long>(result.failed), static_cast<long long>(result.records));
    bool ok = all_finished && result.violations.empty() && result.jobs == expected;
    if (!all_finished) std::printf("VIOLATION: not every job finished within %d minutes\n", s.max_minutes);
    if (result.jobs != expected)
      std::printf("VIOLATION: %lld jobs in the database, %lld enqueued - %lld pruned = %lld expected\n",
                  static_cast<long long>(result.jobs), static_cast<long long>(enqueued),
                  static_cast<long long>(pruned.load()), static_cast<long long>(expected));
    for (const auto& v : result.violations) std::printf("VIOLATION: %s\n", v.c_str());
    std::printf("%s\n", ok ? "soak: every check passed" : "soak: FAILED");
    return ok ? 0 : 1;
  });
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  std::string log;
  CLI::App app{"errand soak: many jobs through worker processes that get killed, then a check that nothing was lost"};
  app.add_option("--db", s.db, "a SQLite file or a postgresql:// URL");
  app.add_option("--jobs", s.jobs, "jobs to enqueue")->capture_default_str();
  app.add_option("--workers", s.workers, "worker processes")->capture_default_str();
  app.add_option("--threads", s.threads, "runner threads per worker")->capture_default_str();
  app.add_option("--kill-every", s.kill_every, "seconds between SIGKILLs of a random worker; 0: none")
      ->capture_default_str();
  app.add_option("--max-minutes", s.max_minutes, "give up after this long")->capture_default_str();
  app.add_option("--log-dir", s.log_dir, "where workers log the attempts they run")->capture_default_str();
  auto* worker = app.add_subcommand("worker", "a worker process (started by the supervisor)");
  worker->add_option("--db", s.db)->required();
  worker->add_option("--threads", s.threads);
  worker->add_option("--log", log)->required();
  CLI11_PARSE(app, argc, argv);
  if (s.db.empty()) {
    std::fprintf(stderr, "soak: --db is required\n%s", app.help().c_str());
    return 2;
  }
  try {
    return worker->parsed() ? run_worker(s, log) : run_supervisor(s, std::filesystem::read_symlink("/proc/self/exe"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 1;
  }
}
