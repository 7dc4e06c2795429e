#pragma once
// What the errand command and the dashboard show, as values: each view is
// built once from the database and then printed as a table, written as JSON
// (--json, and the dashboard's /api), or both. The JSON field names are the
// members' names; docs/operators.md shows each shape.

#include "database.hpp"
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>
#include <errand/store.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace errand_tool {

// A page of `errand jobs`; `next` continues it (--after, or ?after= on the dashboard).
struct jobs_page {
  std::vector<errand::job> jobs;
  std::optional<std::string> next;
};
BOOST_DESCRIBE_STRUCT(jobs_page, (), (jobs, next))

// `errand show`: the row, its history oldest first, and every error in it.
struct job_report {
  errand::job job;
  std::vector<errand::history_record> history;
  std::vector<errand::error_info> errors;
  std::vector<std::int64_t> unreadable;  // seq of history records whose payload errand cannot read
};
BOOST_DESCRIBE_STRUCT(job_report, (), (job, history, errors, unreadable))

// One transition as `errand tail --json` prints it and the dashboard streams it.
struct transition_view {
  errand::job job;
  errand::history_record record;
  std::optional<errand::error_info> error;  // when the transition recorded one
};
BOOST_DESCRIBE_STRUCT(transition_view, (), (job, record, error))

struct queue_view {
  std::string queue;
  std::map<std::string, std::int64_t> jobs;  // state name: jobs in it
  std::int64_t due = 0;
  std::optional<std::int64_t> oldest_due_id;
  std::optional<errand::time_point> oldest_due_at;
  std::optional<std::int64_t> oldest_due_waiting_seconds;
};
BOOST_DESCRIBE_STRUCT(queue_view, (), (queue, jobs, due, oldest_due_id, oldest_due_at, oldest_due_waiting_seconds))

// `errand stats`: jobs per state and queue, and the rate they finished at recently.
struct stats_view {
  std::string database;
  errand::time_point now;
  std::int64_t window_seconds = 0;
  std::map<std::string, std::int64_t> jobs;  // every queue together; every state named, 0 included
  std::vector<queue_view> queues;
  std::int64_t succeeded_in_window = 0;
  std::int64_t failed_in_window = 0;
  double finished_per_minute = 0;
};
BOOST_DESCRIBE_STRUCT(stats_view, (),
                      (database, now, window_seconds, jobs, queues, succeeded_in_window, failed_in_window,
                       finished_per_minute))

// What `errand retry` and `errand cancel` did (or, in a dry run, would do) to one job.
struct change_view {
  std::int64_t id = 0;
  std::string outcome;                // applied, duplicate, rejected, not_found; "would_apply" in a dry run
  std::optional<std::string> reason;  // why it was rejected
  std::optional<errand::job> before;
  std::optional<errand::job> after;
};
BOOST_DESCRIBE_STRUCT(change_view, (), (id, outcome, reason, before, after))

struct changes_view {
  std::string event;  // requeue or cancel
  bool dry_run = false;
  std::vector<change_view> jobs;
};
BOOST_DESCRIBE_STRUCT(changes_view, (), (event, dry_run, jobs))

struct errors_view {
  std::vector<errand::error_group> groups;
};
BOOST_DESCRIBE_STRUCT(errors_view, (), (groups))

// The cursor a jobs_page hands out: "<id>@<updated_at>".
std::string cursor_text(const errand::job& last);
std::optional<errand::update_cursor> parse_cursor(const std::string& text);

jobs_page list_jobs(database& db, errand::job_query query);
std::optional<job_report> report_on(database& db, std::int64_t id);  // nullopt: no such job
transition_view view_of(const errand::notification& n);
stats_view stats_of(database& db, errand::time_point now, errand::duration window);
errors_view errors_of(database& db, const errand::error_group_query& query);

// One operator change through report(), or in a dry run through decide() alone.
template <class Event>
change_view change(database& db, std::int64_t id, const Event& e, errand::time_point now, bool dry_run);

// The exit status for a set of changes: no_such_job, else refused, else success.
exit_status status_of(const changes_view& changes);

}  // namespace errand_tool
