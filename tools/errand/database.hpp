#pragma once
// What the errand command sees of a database: the jobs, their history, the
// operator's writes (each one a report(), so decide() and a compare-and-set
// like every other writer) and the transitions other processes commit.
// Commands and the dashboard are written against this interface only; each
// backend opens its database and fills it in (sqlite_database.cpp,
// postgres_database.cpp). A persisted user machine would be another
// implementation of the same reads.

#include <errand/lifecycle.hpp>
#include <errand/queue_settings.hpp>
#include <errand/report.hpp>
#include <errand/store.hpp>
#include <errand/subscription.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace errand_tool {

// The exit statuses a script can rely on (docs/operators.md lists them).
enum exit_status : int {
  success = 0,
  failed = 1,             // the database answered with an error in the middle of the command
  usage = 2,              // a bad option or argument: nothing was read or written
  unusable_database = 3,  // --db names no errand database this errand can use: nothing was written
  no_such_job = 4,        // a job named on the command line does not exist
  refused = 5             // the lifecycle refused a change for at least one job
};

// An error whose message says everything: printed as "errand: <message>",
// ending the command with `status`.
struct tool_error : std::runtime_error {
  tool_error(exit_status s, const std::string& message) : std::runtime_error(message), status(s) {}
  exit_status status;
};

// What --db, --prefix and --schema say.
struct database_options {
  std::string location;  // a SQLite file or a postgresql:// URL
  std::string table_prefix = "errand_";
  std::string schema = "public";  // PostgreSQL only
};

bool is_postgres_url(const std::string& location);

// One migration this errand knows, and when the database applied it.
struct migration_step {
  int version = 0;
  std::string description;
  std::optional<std::string> applied_at;  // as the database wrote it; absent: not applied
};

// The schema as found, read without writing anything.
struct schema_state {
  std::string database;  // how the database is named in messages (no password)
  std::string jobs_table;
  bool has_jobs_table = false;
  std::vector<std::string> elsewhere;  // errand tables the database holds under other names, as options
  int found = 0;                       // the version it is at; 0 when errand's tables are missing or predate versions
  int known = 0;                       // the version this errand writes
  std::vector<migration_step> steps;
};

// Opens --db to read and write jobs. A missing file, a server that cannot be
// reached, a database without errand's tables and a schema version other
// than this errand's are refused with tool_error(unusable_database) before
// anything is written.
class database;
std::unique_ptr<database> open_database(const database_options& options);

// The schema, read without writing (errand migrate); tool_error as above for
// a database that cannot be opened at all.
schema_state inspect_schema(const database_options& options);

// Applies the migrations the database lacks; refuses a newer schema.
schema_state apply_migrations(const database_options& options);

// Stops following transitions when destroyed.
class following {
 public:
  virtual ~following() = default;
};

class database {
 public:
  virtual ~database() = default;

  const std::string& name() const { return name_; }

  virtual std::optional<errand::job> get(std::int64_t id) = 0;
  virtual std::vector<errand::job> query(const errand::job_query& q) = 0;
  virtual std::vector<errand::history_record> history(std::int64_t id) = 0;
  virtual std::vector<errand::error_group> error_groups(const errand::error_group_query& q) = 0;
  virtual std::vector<errand::queue_summary> summarize(const errand::summary_request& r) = 0;
  virtual errand::prune_result prune(const errand::prune_request& r) = 0;
  virtual errand::report_result report(std::int64_t id, const errand::requeue& e, errand::time_point now) = 0;
  virtual errand::report_result report(std::int64_t id, const errand::cancel& e, errand::time_point now) = 0;

  // Queues paused or limited for every runner of the database (queue_settings.hpp).
  virtual std::vector<errand::queue_setting> queue_settings() = 0;
  virtual errand::queue_setting pause_queue(const std::string& queue, errand::time_point now) = 0;
  virtual errand::queue_setting resume_queue(const std::string& queue, errand::time_point now) = 0;
  virtual errand::queue_setting set_queue_limit(const std::string& queue, std::optional<std::int32_t> max_running,
                                                errand::time_point now) = 0;

  // Calls on_transition, on a thread of the database's, for every transition
  // any process commits from now on, until the result is destroyed; a call in
  // progress then finishes before the destructor returns.
  virtual std::unique_ptr<following> follow(errand::listener on_transition) = 0;

 protected:
  explicit database(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

}  // namespace errand_tool
