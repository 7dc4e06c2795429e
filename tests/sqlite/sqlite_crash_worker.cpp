// A worker process for sqlite_crash_test: several threads share one
// sqlite_store on the test's file, claim jobs until none is due, "run" each
// (append "<id> <attempt> <worker>" to a log: the side effect a second run of
// the same attempt would repeat) and report success. Time is fixed by the
// test, so nothing here waits on a clock.
//
//   sqlite_crash_worker <database> <name> <threads> <now, µs since epoch> <log> [victim]
//
// A victim's first thread, after its first claim, writes "<id> <attempt>\n"
// to fd 3 and then holds the job forever: the test kills the process there.
// Its other threads claim only after that.

#include <errand/sqlite.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) std::_Exit(3);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: %s <database> <name> <threads> <now-us> <log> [victim]\n", argv[0]);
    return 2;
  }
  const std::string name = argv[2];
  const int thread_count = std::atoi(argv[3]);
  const errand::time_point now{errand::duration{std::atoll(argv[4])}};
  const int log = ::open(argv[5], O_WRONLY | O_CREAT | O_APPEND, 0644);
  const bool victim = argc == 7;
  if (log < 0) return 2;

  try {
    errand::sqlite_store store(argv[1]);
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    // A victim's other threads start claiming once its first thread holds a
    // job: on a loaded machine they could otherwise drain the queue first.
    std::atomic<bool> first_holds{!victim};
    const auto let_others_claim = [&] {
      first_holds = true;
      first_holds.notify_all();
    };
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        const std::string worker = name + "-t" + std::to_string(t);
        if (t > 0) first_holds.wait(false);
        try {
          while (const auto job = store.claim({worker, std::chrono::seconds{30}, now, {}})) {
            write_all(log, std::to_string(job->id) + " " + std::to_string(job->attempt) + " " + worker + "\n");
            if (victim && t == 0) {
              write_all(3, std::to_string(job->id) + " " + std::to_string(job->attempt) + "\n");
              let_others_claim();
              for (;;) ::pause();  // holds the job until SIGKILL
            }
            const auto result =
                errand::report(store, job->id, errand::succeed{job->attempt, worker, {}}, errand::retry_policy{}, now);
            if (!result.applied()) throw std::runtime_error("report refused: " + result.reason);
          }
        } catch (const std::exception& e) {
          std::scoped_lock lock(failures_mutex);
          failures.push_back(worker + ": " + e.what());
        }
        if (t == 0) let_others_claim();  // it holds nothing (it failed, or found nothing due)
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failures) std::fprintf(stderr, "%s\n", f.c_str());
    return failures.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
