#pragma once
// The errand command's subcommands. main.cpp reads the command line into
// these options; each command prints a table, or JSON with --json, and
// returns the exit status (database.hpp lists them).

#include "database.hpp"
#include <errand/clock.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle_states.hpp>
#include <errand/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace errand_tool {

struct jobs_options {
  std::optional<errand::job_state> state;
  std::optional<std::string> queue, kind;
  std::optional<bool> has_error;  // absent, and no --state and no --all: only jobs holding an error
  bool all = false;
  std::optional<std::string> since, before;  // ages or times
  std::size_t limit = 50;
  std::optional<std::string> after;  // a cursor a previous page printed
};

struct errors_options {
  std::optional<errand::job_state> state;
  std::optional<std::string> queue, kind, since;
  std::size_t limit = 20;
};

struct retry_options {
  std::vector<std::int64_t> ids;
  std::optional<errand::job_state> state;  // with queue and kind: select the jobs to retry
  std::optional<std::string> queue, kind;
  std::int32_t attempts = 1;
  std::optional<std::string> reason;
  bool dry_run = false;
};

struct cancel_options {
  std::vector<std::int64_t> ids;
  std::string reason;
  bool dry_run = false;
};

struct tail_options {
  std::optional<std::string> queue, kind;
  std::optional<std::int64_t> job;
  bool errors_only = false;
  std::optional<std::size_t> count;  // stop after this many transitions
};

struct prune_options {
  std::optional<std::string> finished_before;
  std::optional<std::size_t> keep_history;
};

// errand queues [pause|resume|limit QUEUE [N|none]]: with no action, lists the settings.
struct queues_options {
  std::optional<std::string> action;  // pause, resume or limit
  std::optional<std::string> queue;
  std::optional<std::string> limit;  // a number, or "none"
};

struct serve_options {
  std::string listen = "127.0.0.1";
  int port = 8080;
  bool read_only = false;
  std::optional<std::string> token;
};

// Parses a time or age option against `now`; tool_error(usage) naming the option otherwise.
errand::time_point time_option(const std::string& option, const std::string& value, errand::time_point now);

int jobs_command(database& db, const jobs_options& o, bool json);
int show_command(database& db, std::int64_t id, bool json);
int errors_command(database& db, const errors_options& o, bool json);
int stats_command(database& db, const std::string& window, bool json);
int retry_command(database& db, const retry_options& o, bool json);
int cancel_command(database& db, const cancel_options& o, bool json);
int prune_command(database& db, const prune_options& o, bool json);
int tail_command(database& db, const tail_options& o, bool json);
int migrate_command(const database_options& where, bool apply, bool check, bool json);
int queues_command(database& db, const queues_options& o, bool json);
int serve_command(database& db, const serve_options& o);

}  // namespace errand_tool
