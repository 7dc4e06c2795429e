#pragma once
// Two ways a test touches a database behind the store's back, as an operator
// or another program would: the sqlite3 command-line shell, and a raw
// connection through the C API.

#include "errand_catch.hpp"

#include <sqlite3.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

struct cli_result {
  int status = -1;
  std::string output;
};

// Runs `sql` with `sqlite3 -bail <path>` (ERRAND_SQLITE3_CLI is the shell
// CMake found) and returns its exit status and everything it printed.
inline cli_result sqlite3_cli(const std::string& path, const std::string& sql) {
  const std::string script = path + ".cli.sql";
  const std::string printed = path + ".cli.out";
  std::ofstream(script) << sql << "\n";
  const std::string command =
      std::string(ERRAND_SQLITE3_CLI) + " -bail '" + path + "' < '" + script + "' > '" + printed + "' 2>&1";
  const int raw = std::system(command.c_str());
  std::stringstream out;
  out << std::ifstream(printed).rdbuf();
  std::remove(script.c_str());
  std::remove(printed.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out.str()};
}

// A connection of the test's own, closed when it goes out of scope.
class raw_connection {
 public:
  explicit raw_connection(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  ~raw_connection() { sqlite3_close_v2(db_); }

  sqlite3* handle() const { return db_; }

  // SQLITE_OK or the error code; the message is in error().
  int execute(const std::string& sql) {
    char* message = nullptr;
    const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    error_ = message ? message : "";
    sqlite3_free(message);
    return code;
  }

  // The rows of `sql`, columns joined with '|', rows with '\n' (as the CLI prints them).
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    std::string out;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        if (i) out += "|";
        const auto* value = sqlite3_column_text(statement, i);
        out += value ? reinterpret_cast<const char*>(value) : "NULL";
      }
    }
    sqlite3_finalize(statement);
    return out;
  }

  const std::string& error() const { return error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string error_;
};
