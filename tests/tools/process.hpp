#pragma once
// Running the errand command as a person or a script does: a process with
// arguments, its exit status and everything it printed. Output goes to files,
// so a chatty process never blocks on a full pipe. Waiting for a process or
// for a line it prints polls with a generous deadline; nothing is timed.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace cli_test {

using namespace std::chrono_literals;

// What a process said and how it ended.
struct ran {
  int status = -1;  // the exit status; -1 when it did not exit normally
  std::string out;
  std::string err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process started in the background; killed if still running when destroyed.
class process {
 public:
  explicit process(const std::vector<std::string>& args) {
    static std::atomic<int> counter{0};
    const auto stem = std::filesystem::temp_directory_path() /
                      ("errand-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    out_ = stem.string() + ".out";
    err_ = stem.string() + ".err";
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&files, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int failed = posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (failed) throw std::runtime_error("cannot start " + args[0] + ": " + std::to_string(failed));
  }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() {
    if (!finished_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove(out_, ignored);
    std::filesystem::remove(err_, ignored);
  }

  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

  // Waits until the process printed `text` on stderr (or stdout), or ended; says whether it printed it.
  bool wait_for_output(const std::string& text, std::chrono::seconds deadline = 60s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (err().find(text) != std::string::npos || out().find(text) != std::string::npos) return true;
      if (exited()) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  void signal(int number) { ::kill(pid_, number); }

  // Waits for the process to end; nullopt when it is still running after `deadline` (it is then killed).
  std::optional<ran> finish(std::chrono::seconds deadline = 60s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!exited()) {
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
    return ran{status_, out(), err()};
  }

 private:
  bool exited() {
    if (finished_) return true;
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) != pid_) return false;
    finished_ = true;
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return true;
  }

  pid_t pid_ = -1;
  bool finished_ = false;
  int status_ = -1;
  std::string out_, err_;
};

// Runs a process to its end.
inline ran run(const std::vector<std::string>& args) {
  process p(args);
  auto result = p.finish(120s);
  if (!result) throw std::runtime_error(args[0] + " did not finish within 120 s");
  return *result;
}

}  // namespace cli_test
