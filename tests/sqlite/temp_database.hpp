#pragma once
// A database file of its own for one test, removed (with its -wal and -shm
// files) when the test ends.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

class temp_database {
 public:
  temp_database() {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("errand-sqlite-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".db"))
                .string();
    remove();
  }
  temp_database(const temp_database&) = delete;
  temp_database& operator=(const temp_database&) = delete;
  ~temp_database() { remove(); }

  const std::string& path() const { return path_; }

 private:
  void remove() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path_ + suffix, ignored);
  }

  std::string path_;
};
