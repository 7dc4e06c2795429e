#pragma once
// A SQLite database file under $TMPDIR for one benchmark: named after the
// benchmark and the process, removed with its WAL and shared-memory files
// before it is used and when it goes.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace errand_bench {

class bench_file {
 public:
  explicit bench_file(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("errand-bench-" + std::to_string(::getpid()) + "-" + name + ".db"))
                  .string()) {
    remove();
  }
  ~bench_file() { remove(); }
  bench_file(const bench_file&) = delete;
  bench_file& operator=(const bench_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  void remove() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix, ignored);
  }
  std::string path_;
};

}  // namespace errand_bench
