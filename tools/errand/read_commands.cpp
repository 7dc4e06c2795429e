// errand jobs, show, errors and stats: reads only.

#include "commands.hpp"
#include "text.hpp"
#include "views.hpp"
#include <errand/codec.hpp>
#include <errand/enum_name.hpp>
#include <errand/outcome.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace errand_tool {

namespace {

constexpr std::size_t message_width = 100;

std::string or_dash(const std::optional<std::string>& text) { return text ? terminal_safe(*text) : "-"; }

std::string error_cell(const errand::error_info& e) { return one_line(e.kind + ": " + e.message, message_width); }

// Indents every line of a (terminal-safe) text.
std::string indented(const std::string& text, const std::string& by) {
  std::string out = by;
  for (const char c : text) {
    out += c;
    if (c == '\n') out += by;
  }
  return out;
}

// The first lines of `errand show`: the answer to "why did it fail?".
void print_headline(const job_report& r, std::ostream& out) {
  const auto& row = r.job;
  out << "job " << row.id << " · " << terminal_safe(row.kind) << " · queue " << terminal_safe(row.queue) << " · "
      << state_name(row.state) << ", attempt " << row.attempt << " of " << row.max_attempts << "\n";
  const auto error_line = [&](const std::string& lead) {
    out << lead << ":\n"
        << indented(terminal_safe(row.last_error.value_or("")), "  ") << "\n  ("
        << terminal_safe(row.last_error_kind.value_or("?")) << ", attempt " << row.attempt << ", "
        << when(row.last_error_at) << ", worker " << or_dash(row.worker) << ")\n";
  };
  switch (row.state) {
    case errand::job_state::failed:
      error_line("why it failed");
      break;
    case errand::job_state::retry_pending:
      error_line("why it is waiting to retry (next try at " + when(row.run_at) + ")");
      break;
    case errand::job_state::succeeded:
      out << "succeeded on attempt " << row.attempt;
      if (!r.errors.empty()) out << ", after " << r.errors.size() << " failed attempt(s) listed below";
      out << "\n";
      if (row.detail) out << "detail:\n" << indented(terminal_safe(*row.detail), "  ") << "\n";
      break;
    case errand::job_state::running:
      out << "running on worker " << or_dash(row.worker) << ", lease until " << when(row.lease_until) << "\n";
      break;
    case errand::job_state::pending:
      out << "waiting to run, due at " << when(row.run_at) << "\n";
      break;
  }
  if (!row.last_error && !r.errors.empty())
    out << "last error, before it was " << (row.state == errand::job_state::pending ? "requeued" : "retried") << ":\n"
        << indented(terminal_safe(r.errors.back().message), "  ") << "\n  (" << terminal_safe(r.errors.back().kind)
        << ", attempt " << r.errors.back().attempt << ", " << when(r.errors.back().at) << ")\n";
}

void print_report(const job_report& r, std::ostream& out) {
  print_headline(r, out);
  const auto& row = r.job;
  out << "\n";
  text_table fields({"field", "value"});
  fields.add({"payload", one_line(row.payload, 200)});
  fields.add({"priority", std::to_string(row.priority)});
  fields.add({"run_at", when(row.run_at)});
  fields.add({"worker", or_dash(row.worker)});
  fields.add({"unique_key", or_dash(row.unique_key)});
  fields.add({"created_at", when(row.created_at)});
  fields.add({"updated_at", when(row.updated_at)});
  fields.add({"version", std::to_string(row.version)});
  fields.print(out);

  out << "\nhistory, oldest first:\n";
  text_table history({"seq", "at", "transition", "event", "attempt", "worker", "error"});
  for (const auto& record : r.history) {
    std::string error;
    try {
      if (const auto e = errand::error_of(record)) error = error_cell(*e);
    } catch (const errand::codec_error&) {
      error = "(errand cannot read this record's payload)";
    }
    history.add({std::to_string(record.seq), when(record.at), state_name(record.from) + " → " + state_name(record.to),
                 terminal_safe(record.event), std::to_string(record.attempt), or_dash(record.worker), error});
  }
  if (r.history.empty())
    out << "  (none: the job has not been claimed yet)\n";
  else
    history.print(out);

  if (r.errors.empty()) return;
  out << "\nerrors, oldest first:\n";
  for (const auto& e : r.errors) {
    out << "  attempt " << e.attempt << " · " << terminal_safe(e.kind) << " · " << when(e.at) << " · worker "
        << or_dash(e.worker) << "\n"
        << indented(terminal_safe(e.message), "    ") << "\n";
    if (e.trace) out << "    trace:\n" << indented(terminal_safe(*e.trace), "      ") << "\n";
  }
}

}  // namespace

errand::time_point time_option(const std::string& option, const std::string& value, errand::time_point now) {
  if (const auto t = parse_time(value, now)) return *t;
  throw tool_error(usage, option + " '" + value +
                              "' is neither an age (90s, 15m, 2h, 7d, 1w, or several: 1h30m) nor an ISO-8601 UTC "
                              "time (2026-01-01T00:00:00Z)");
}

int jobs_command(database& db, const jobs_options& o, bool json) {
  const auto now = errand::system_clock{}.now();
  errand::job_query q;
  q.state = o.state;
  q.queue = o.queue;
  q.kind = o.kind;
  q.has_error = o.has_error;
  const bool only_errors = !o.all && !o.state && !o.has_error;
  if (only_errors) q.has_error = true;
  if (o.since) q.updated_since = time_option("--since", *o.since, now);
  if (o.before) q.updated_before = time_option("--before", *o.before, now);
  q.limit = o.limit;
  if (o.after) {
    q.after_update = parse_cursor(*o.after);
    if (!q.after_update)
      throw tool_error(usage, "--after '" + *o.after + "' is not a cursor; pass the one a previous page printed");
  }
  const auto page = list_jobs(db, q);
  if (json) {
    std::cout << errand::to_json(page) << "\n";
    return success;
  }
  if (only_errors) std::cout << "Jobs holding an error, latest change first (--all lists every job):\n";
  if (page.jobs.empty()) {
    std::cout << "  (no jobs match)\n";
    return success;
  }
  text_table table({"id", "queue", "kind", "state", "attempt", "updated", "error"});
  for (const auto& row : page.jobs)
    table.add(
        {std::to_string(row.id), one_line(row.queue, 30), one_line(row.kind, 30), state_name(row.state),
         std::to_string(row.attempt) + "/" + std::to_string(row.max_attempts), when(row.updated_at),
         row.last_error ? one_line(row.last_error_kind.value_or("?") + ": " + *row.last_error, message_width) : ""});
  table.print(std::cout);
  if (page.next) std::cout << "more: add --after " << *page.next << "\n";
  return success;
}

int show_command(database& db, std::int64_t id, bool json) {
  const auto report = report_on(db, id);
  if (!report) throw tool_error(no_such_job, "no job " + std::to_string(id) + " in " + db.name());
  if (json)
    std::cout << errand::to_json(*report) << "\n";
  else
    print_report(*report, std::cout);
  return success;
}

int errors_command(database& db, const errors_options& o, bool json) {
  errand::error_group_query q;
  q.state = o.state;
  q.queue = o.queue;
  q.kind = o.kind;
  if (o.since) q.since = time_option("--since", *o.since, errand::system_clock{}.now());
  q.limit = o.limit;
  const auto view = errors_of(db, q);
  if (json) {
    std::cout << errand::to_json(view) << "\n";
    return success;
  }
  if (view.groups.empty()) {
    std::cout << "No job holds an error.\n";
    return success;
  }
  std::cout << "Errors the jobs hold now (retry_pending and failed), latest first:\n";
  text_table table({"jobs", "kind", "error", "latest", "first", "e.g. jobs"});
  for (const auto& g : view.groups) {
    std::string examples;
    for (const auto id : g.example_ids) examples += (examples.empty() ? "" : ", ") + std::to_string(id);
    table.add({std::to_string(g.jobs), one_line(g.error_kind, 30), one_line(g.message, message_width), when(g.last_at),
               when(g.first_at), examples});
  }
  table.print(std::cout);
  return success;
}

int stats_command(database& db, const std::string& window, bool json) {
  const auto length = parse_age(window);
  if (!length || *length <= errand::duration::zero())
    throw tool_error(usage, "--window '" + window + "' is not an age (90s, 15m, 2h, 1d)");
  const auto stats = stats_of(db, errand::system_clock{}.now(), *length);
  if (json) {
    std::cout << errand::to_json(stats) << "\n";
    return success;
  }
  std::vector<std::string> headers{"queue"};
  for (const auto state : errand::enumerators<errand::job_state>()) headers.push_back(state_name(state));
  headers.insert(headers.end(), {"due", "oldest due"});
  text_table table(headers);
  const auto counts = [](const std::map<std::string, std::int64_t>& jobs, std::vector<std::string>& cells) {
    for (const auto state : errand::enumerators<errand::job_state>()) {
      const auto found = jobs.find(state_name(state));
      cells.push_back(std::to_string(found == jobs.end() ? 0 : found->second));
    }
  };
  std::int64_t due = 0;
  for (const auto& q : stats.queues) {
    std::vector<std::string> cells{one_line(q.queue, 30)};
    counts(q.jobs, cells);
    cells.push_back(std::to_string(q.due));
    cells.push_back(q.oldest_due_id ? "job " + std::to_string(*q.oldest_due_id) + ", waiting " +
                                          span(std::chrono::seconds{q.oldest_due_waiting_seconds.value_or(0)})
                                    : "-");
    due += q.due;
    table.add(std::move(cells));
  }
  std::vector<std::string> total{"(all)"};
  counts(stats.jobs, total);
  total.push_back(std::to_string(due));
  total.push_back("");
  table.add(std::move(total));
  table.print(std::cout);
  std::ostringstream rate;
  rate << std::fixed << std::setprecision(1) << stats.finished_per_minute;
  std::cout << "\nlast " << span(std::chrono::seconds{stats.window_seconds}) << ": "
            << stats.succeeded_in_window + stats.failed_in_window << " finished (" << rate.str()
            << "/min): " << stats.succeeded_in_window << " succeeded, " << stats.failed_in_window << " failed\n";
  return success;
}

}  // namespace errand_tool
