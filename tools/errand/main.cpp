// errand: the operator's command. Lists jobs and why they failed, follows
// transitions live, retries and cancels through decide() like every other
// writer, prunes, migrates, and serves the dashboard. docs/operators.md is
// its manual.

#include "commands.hpp"
#include "database.hpp"
#include <errand/enum_name.hpp>
#include <errand/lifecycle_states.hpp>
#include <errand/store.hpp>

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#ifndef ERRAND_TOOL_VERSION
#error "the build defines ERRAND_TOOL_VERSION"
#endif

namespace {

using namespace errand_tool;

std::string state_names() {
  std::string names;
  for (const auto state : errand::enumerators<errand::job_state>())
    names += (names.empty() ? "" : ", ") + std::string(*errand::name_of(state));
  return names;
}

errand::job_state state_named(const std::string& name) {
  if (const auto state = errand::from_name<errand::job_state>(name)) return *state;
  throw tool_error(usage, "'" + name + "' is not a job state; the states are " + state_names());
}

// --state, --queue and --kind, as several commands take them.
struct selection {
  std::optional<errand::job_state>& state;
  std::optional<std::string>& queue;
  std::optional<std::string>& kind;
};

void add_selection(CLI::App* command, selection s, const std::string& what) {
  command->add_option_function<std::string>(
      "--state", [s](const std::string& v) { s.state = state_named(v); },
      what + " in this state (" + state_names() + ")");
  command->add_option_function<std::string>(
      "--queue", [s](const std::string& v) { s.queue = v; }, what + " in this queue");
  command->add_option_function<std::string>(
      "--kind", [s](const std::string& v) { s.kind = v; }, what + " of this kind");
}

// Prints an error on one line of its own (libpq ends its messages with newlines) and returns `status`.
int complain(std::string message, exit_status status) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::cerr << message << std::endl;
  return status;
}

void add_text(CLI::App* command, const std::string& name, std::optional<std::string>& into, const std::string& help) {
  command->add_option_function<std::string>(
      name, [&into](const std::string& v) { into = v; }, help);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "errand: see why jobs failed, follow them live, retry or cancel them, on the SQLite file or "
      "PostgreSQL database your workers use.",
      "errand"};
  app.set_version_flag("--version", "errand " ERRAND_TOOL_VERSION);
  app.fallthrough();

  database_options where;
  bool json = false;
  app.add_option("--db", where.location, "the SQLite file or postgresql:// URL your workers use")
      ->envname("ERRAND_DB")
      ->required();
  app.add_option("--prefix", where.table_prefix, "the table prefix your workers use")->capture_default_str();
  app.add_option("--schema", where.schema, "PostgreSQL: the schema holding errand's tables")->capture_default_str();
  app.add_flag("--json", json, "print JSON for scripts instead of tables");

  std::function<int()> command;
  const auto with_database = [&](auto run) {
    return [&, run] { command = [&, run] { return run(*open_database(where)); }; };
  };

  jobs_options jobs;
  auto* jobs_cmd = app.add_subcommand("jobs", "list jobs, latest change first (by default those holding an error)");
  add_selection(jobs_cmd, {jobs.state, jobs.queue, jobs.kind}, "jobs");
  jobs_cmd->add_flag_function(
      "--has-error", [&](std::int64_t) { jobs.has_error = true; }, "only jobs holding an error");
  jobs_cmd->add_flag_function(
      "--no-error", [&](std::int64_t) { jobs.has_error = false; }, "only jobs holding no error");
  jobs_cmd->add_flag("--all", jobs.all, "every job, not only those holding an error");
  add_text(jobs_cmd, "--since", jobs.since, "changed at or after this time or age ago (2h, 2026-01-01T00:00:00Z)");
  add_text(jobs_cmd, "--before", jobs.before, "changed before this time or age ago");
  jobs_cmd->add_option("--limit", jobs.limit, "jobs per page")->capture_default_str()->check(CLI::PositiveNumber);
  add_text(jobs_cmd, "--after", jobs.after, "the next page: the cursor the previous page printed");
  jobs_cmd->callback(with_database([&](database& db) { return jobs_command(db, jobs, json); }));

  std::int64_t shown = 0;
  auto* show_cmd = app.add_subcommand("show", "one job: why it failed, its row, its history and every error");
  show_cmd->add_option("id", shown, "the job's id")->required();
  show_cmd->callback(with_database([&](database& db) { return show_command(db, shown, json); }));

  errors_options errors;
  auto* errors_cmd = app.add_subcommand("errors", "the errors jobs hold now, grouped by kind and message");
  add_selection(errors_cmd, {errors.state, errors.queue, errors.kind}, "jobs");
  add_text(errors_cmd, "--since", errors.since, "errors recorded at or after this time or age ago");
  errors_cmd->add_option("--limit", errors.limit, "groups to show")->capture_default_str()->check(CLI::PositiveNumber);
  errors_cmd->callback(with_database([&](database& db) { return errors_command(db, errors, json); }));

  retry_options retry;
  auto* retry_cmd = app.add_subcommand("retry", "retry failed jobs: by id, or every job a selection names");
  retry_cmd->add_option("ids", retry.ids, "the jobs' ids");
  add_selection(retry_cmd, {retry.state, retry.queue, retry.kind}, "retry jobs");
  retry_cmd->add_option("--attempts", retry.attempts, "attempts to grant each job")->capture_default_str();
  add_text(retry_cmd, "--reason", retry.reason, "why, recorded in the job's history");
  retry_cmd->add_flag("--dry-run", retry.dry_run, "show what would change, write nothing");
  retry_cmd->callback(with_database([&](database& db) { return retry_command(db, retry, json); }));

  cancel_options cancel;
  auto* cancel_cmd = app.add_subcommand("cancel", "give up on jobs: they fail with your reason");
  cancel_cmd->add_option("ids", cancel.ids, "the jobs' ids")->required();
  cancel_cmd->add_option("--reason", cancel.reason, "why (becomes the job's last_error)")->required();
  cancel_cmd->add_flag("--dry-run", cancel.dry_run, "show what would change, write nothing");
  cancel_cmd->callback(with_database([&](database& db) { return cancel_command(db, cancel, json); }));

  std::string window = "5m";
  auto* stats_cmd = app.add_subcommand("stats", "jobs per state and queue, the oldest due job, the recent rate");
  stats_cmd->add_option("--window", window, "how far back \"recently\" reaches")->capture_default_str();
  stats_cmd->callback(with_database([&](database& db) { return stats_command(db, window, json); }));

  tail_options tail;
  auto* tail_cmd = app.add_subcommand("tail", "follow transitions as they commit, from any process");
  add_text(tail_cmd, "--queue", tail.queue, "only jobs in this queue");
  add_text(tail_cmd, "--kind", tail.kind, "only jobs of this kind");
  tail_cmd->add_option_function<std::int64_t>(
      "--job", [&](std::int64_t id) { tail.job = id; }, "only this job");
  tail_cmd->add_flag("--errors", tail.errors_only, "only transitions that record an error");
  tail_cmd->add_option_function<std::size_t>(
      "--count", [&](std::size_t n) { tail.count = n; }, "stop after this many transitions");
  tail_cmd->callback(with_database([&](database& db) { return tail_command(db, tail, json); }));

  prune_options prune;
  auto* prune_cmd = app.add_subcommand("prune", "delete finished jobs and old history");
  add_text(prune_cmd, "--finished-before", prune.finished_before,
           "succeeded and failed jobs last changed before this time or age ago (7d)");
  prune_cmd->add_option_function<std::size_t>(
      "--keep-history", [&](std::size_t n) { prune.keep_history = n; }, "keep each job's last N history records");
  prune_cmd->callback(with_database([&](database& db) { return prune_command(db, prune, json); }));

  bool apply = false, check = false;
  auto* migrate_cmd = app.add_subcommand("migrate", "show the schema version, or apply the migrations it lacks");
  migrate_cmd->add_flag("--apply", apply, "apply the migrations the database lacks");
  migrate_cmd->add_flag("--check", check, "exit with 3 unless the schema is this errand's");
  migrate_cmd->callback([&] { command = [&] { return migrate_command(where, apply, check, json); }; });

  queues_options queues;
  auto* queues_cmd = app.add_subcommand(
      "queues", "queues paused or limited for every runner; pause, resume or limit one (at most N running)");
  queues_cmd->add_option_function<std::string>(
      "action", [&](const std::string& a) { queues.action = a; }, "pause, resume or limit")
      ->check(CLI::IsMember({"pause", "resume", "limit"}));
  add_text(queues_cmd, "queue", queues.queue, "the queue");
  queues_cmd->add_option_function<std::string>(
      "limit", [&](const std::string& n) { queues.limit = n; }, "limit: the most jobs running at once, or none");
  queues_cmd->callback(with_database([&](database& db) { return queues_command(db, queues, json); }));

  serve_options serve;
  auto* serve_cmd = app.add_subcommand("serve", "the dashboard: jobs, errors, live updates, retry and cancel");
  serve_cmd->add_option("--listen", serve.listen, "the address to listen on")->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "the port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  serve_cmd->add_flag("--read-only", serve.read_only, "no retry or cancel");
  serve_cmd
      ->add_option_function<std::string>(
          "--token", [&](const std::string& t) { serve.token = t; },
          "require this bearer token (browsers: open the URL errand prints)")
      ->envname("ERRAND_TOKEN");
  serve_cmd->callback(with_database([&](database& db) { return serve_command(db, serve); }));

  try {
    app.parse(argc, argv);
    if (!command)
      throw tool_error(usage,
                       "name a command: jobs, show, errors, retry, cancel, stats, tail, prune, "
                       "migrate, queues or serve (errand --help says what each does)");
    return command();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? success : usage;
  } catch (const tool_error& e) {
    return complain(std::string("errand: ") + e.what(), e.status);
  } catch (const std::invalid_argument& e) {
    return complain(e.what(), usage);
  } catch (const std::exception& e) {
    return complain(e.what(), failed);
  }
}
