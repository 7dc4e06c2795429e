// errand retry, cancel, prune and migrate: the commands that write. Retry
// and cancel are reports (decide() and a compare-and-set), safe while
// workers run; their dry runs decide without writing.

#include "commands.hpp"
#include "text.hpp"
#include "views.hpp"
#include <errand/codec.hpp>
#include <errand/enum_name.hpp>

#include <boost/describe/class.hpp>

#include <charconv>
#include <iostream>

namespace errand_tool {

struct prune_view {
  std::int64_t jobs_deleted = 0;
  std::int64_t history_deleted = 0;
};
BOOST_DESCRIBE_STRUCT(prune_view, (), (jobs_deleted, history_deleted))
BOOST_DESCRIBE_STRUCT(migration_step, (), (version, description, applied_at))
BOOST_DESCRIBE_STRUCT(schema_state, (), (database, jobs_table, has_jobs_table, found, known, steps, elsewhere))

namespace {

// The ids a selection names, in id order, read before anything is written.
std::vector<std::int64_t> selected(database& db, errand::job_query q) {
  std::vector<std::int64_t> ids;
  q.limit = 500;
  for (;;) {
    const auto page = db.query(q);
    for (const auto& row : page) ids.push_back(row.id);
    if (page.size() < q.limit) return ids;
    q.after_id = page.back().id;
  }
}

int print_changes(const changes_view& view, const std::string& verb, bool json) {
  if (json) {
    std::cout << errand::to_json(view) << "\n";
    return status_of(view);
  }
  text_table table({"id", "kind", "state", "result"});
  std::size_t done = 0, refused_count = 0, missing = 0;
  for (const auto& c : view.jobs) {
    std::string result;
    if (c.outcome == "not_found") {
      ++missing;
      result = "no such job";
    } else if (c.outcome == "rejected") {
      ++refused_count;
      result = "refused: " + one_line(c.reason.value_or(""), 100);
    } else {
      ++done;
      result = (view.dry_run ? "would be " : "") + verb;
      if (c.after && c.before && c.after->max_attempts != c.before->max_attempts)
        result +=
            ", max_attempts " + std::to_string(c.before->max_attempts) + " → " + std::to_string(c.after->max_attempts);
    }
    const std::string before = c.before ? state_name(c.before->state) : "-";
    const std::string after = c.after && c.outcome != "rejected" ? " → " + state_name(c.after->state) : "";
    table.add({std::to_string(c.id), c.before ? one_line(c.before->kind, 30) : "-", before + after, result});
  }
  if (view.jobs.empty()) {
    std::cout << "No job matches.\n";
    return success;
  }
  table.print(std::cout);
  std::cout << (view.dry_run ? "dry run, nothing written: " : "") << done << " " << (view.dry_run ? "to be " : "")
            << verb;
  if (refused_count) std::cout << ", " << refused_count << " refused";
  if (missing) std::cout << ", " << missing << " not found";
  std::cout << "\n";
  return status_of(view);
}

}  // namespace

int retry_command(database& db, const retry_options& o, bool json) {
  const bool selecting = o.state || o.queue || o.kind;
  if (o.ids.empty() == !selecting)
    throw tool_error(usage, o.ids.empty() ? "retry: name job ids, or select jobs with --state, --queue and --kind "
                                            "(--state failed retries every failed job)"
                                          : "retry: name job ids or select jobs with --state, --queue and --kind, "
                                            "not both");
  if (o.attempts < 1) throw tool_error(usage, "--attempts " + std::to_string(o.attempts) + ": grant at least 1");
  const auto ids =
      selecting ? selected(db, {.state = o.state.value_or(errand::job_state::failed), .queue = o.queue, .kind = o.kind})
                : o.ids;
  const auto now = errand::system_clock{}.now();
  changes_view view{"requeue", o.dry_run, {}};
  for (const auto id : ids) view.jobs.push_back(change(db, id, errand::requeue{o.reason, o.attempts}, now, o.dry_run));
  return print_changes(view, "retried", json);
}

int cancel_command(database& db, const cancel_options& o, bool json) {
  if (o.reason.empty()) throw tool_error(usage, "cancel: --reason must say why (it becomes the job's last_error)");
  const auto now = errand::system_clock{}.now();
  changes_view view{"cancel", o.dry_run, {}};
  for (const auto id : o.ids) view.jobs.push_back(change(db, id, errand::cancel{o.reason}, now, o.dry_run));
  return print_changes(view, "cancelled", json);
}

int prune_command(database& db, const prune_options& o, bool json) {
  if (!o.finished_before && !o.keep_history)
    throw tool_error(usage,
                     "prune: say what to delete: --finished-before AGE (succeeded and failed jobs last "
                     "changed before then, with their history) and/or --keep-history N (each job's last N "
                     "history records)");
  errand::prune_request request;
  if (o.finished_before)
    request.finished_before = time_option("--finished-before", *o.finished_before, errand::system_clock{}.now());
  request.keep_history = o.keep_history;
  const auto result = db.prune(request);
  if (json)
    std::cout << errand::to_json(prune_view{result.jobs_deleted, result.history_deleted}) << "\n";
  else
    std::cout << "deleted " << result.jobs_deleted << " finished job(s) and " << result.history_deleted
              << " history record(s)\n";
  return success;
}

int queues_command(database& db, const queues_options& o, bool json) {
  std::vector<errand::queue_setting> shown;
  if (o.action) {
    if (!o.queue) throw tool_error(usage, "queues " + *o.action + ": name the queue");
    const auto now = errand::system_clock{}.now();
    if (*o.action == "limit") {
      if (!o.limit) throw tool_error(usage, "queues limit: say how many jobs may run at once, or none");
      std::optional<std::int32_t> limit;
      if (*o.limit != "none") {
        std::int32_t n = 0;
        const auto [end, error] = std::from_chars(o.limit->data(), o.limit->data() + o.limit->size(), n);
        if (error != std::errc{} || end != o.limit->data() + o.limit->size() || n < 1)
          throw tool_error(usage, "queues limit: '" + *o.limit + "' is not a number of jobs from 1 up, or none");
        limit = n;
      }
      shown.push_back(db.set_queue_limit(*o.queue, limit, now));
    } else {
      if (o.limit) throw tool_error(usage, "queues " + *o.action + " takes a queue and nothing more");
      shown.push_back(*o.action == "pause" ? db.pause_queue(*o.queue, now) : db.resume_queue(*o.queue, now));
    }
  } else {
    shown = db.queue_settings();
  }
  if (json) {
    std::cout << errand::to_json(shown) << "\n";
    return success;
  }
  if (!o.action && shown.empty()) {
    std::cout << "no queue is paused or limited\n";
    return success;
  }
  text_table table({"queue", "paused", "at most running", "changed"});
  for (const auto& q : shown)
    table.add({one_line(q.queue, 40), q.paused ? "yes" : "no", q.max_running ? std::to_string(*q.max_running) : "-",
               errand::to_iso8601(q.updated_at)});
  table.print(std::cout);
  return success;
}

int migrate_command(const database_options& where, bool apply, bool check, bool json) {
  const auto schema = apply ? apply_migrations(where) : inspect_schema(where);
  const bool newer = schema.found > schema.known;
  const bool current = schema.found == schema.known && schema.has_jobs_table;
  if (json) {
    std::cout << errand::to_json(schema) << "\n";
  } else {
    std::cout << terminal_safe(schema.database) << ": schema version " << schema.found << "; this errand writes "
              << schema.known << ": "
              << (current ? "up to date"
                  : newer ? "NEWER than this errand knows"
                  : apply ? "not migrated"
                          : "behind; `errand migrate --apply` upgrades it")
              << "\n";
    text_table table({"version", "description", "applied"});
    for (const auto& step : schema.steps)
      table.add({std::to_string(step.version), step.description, step.applied_at.value_or("not yet")});
    table.print(std::cout);
  }
  if (newer)
    throw tool_error(unusable_database, schema.database + " is at schema version " + std::to_string(schema.found) +
                                            ", newer than this errand knows (" + std::to_string(schema.known) + ")");
  return check && !current ? unusable_database : success;
}

}  // namespace errand_tool
