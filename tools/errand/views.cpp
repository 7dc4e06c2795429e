#include "views.hpp"

#include "text.hpp"
#include <errand/codec.hpp>
#include <errand/decide.hpp>
#include <errand/enum_name.hpp>
#include <errand/outcome.hpp>
#include <errand/retry_policy.hpp>

#include <charconv>
#include <chrono>

namespace errand_tool {

std::string cursor_text(const errand::job& last) {
  return std::to_string(last.id) + "@" + errand::to_iso8601(last.updated_at);
}

std::optional<errand::update_cursor> parse_cursor(const std::string& text) {
  const auto at = text.find('@');
  if (at == std::string::npos) return std::nullopt;
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + at, id);
  const auto updated_at = errand::from_iso8601(std::string_view(text).substr(at + 1));
  if (error != std::errc{} || end != text.data() + at || !updated_at) return std::nullopt;
  return errand::update_cursor{*updated_at, id};
}

jobs_page list_jobs(database& db, errand::job_query query) {
  query.order = errand::job_order::recently_updated;
  jobs_page page{db.query(query), std::nullopt};
  if (!page.jobs.empty() && page.jobs.size() == query.limit) page.next = cursor_text(page.jobs.back());
  return page;
}

std::optional<job_report> report_on(database& db, std::int64_t id) {
  auto row = db.get(id);
  if (!row) return std::nullopt;
  job_report report{std::move(*row), db.history(id), {}, {}};
  for (const auto& record : report.history) {
    try {
      if (auto e = errand::error_of(record)) report.errors.push_back(std::move(*e));
    } catch (const errand::codec_error&) {
      report.unreadable.push_back(record.seq);
    }
  }
  return report;
}

transition_view view_of(const errand::notification& n) {
  transition_view view{n.row, n.record, std::nullopt};
  try {
    view.error = errand::error_of(n.record);
  } catch (const errand::codec_error&) {
    view.error = errand::error_info{"errand cannot read this history record's payload",
                                    "unreadable",
                                    n.record.attempt,
                                    n.record.at,
                                    n.record.worker,
                                    std::nullopt};
  }
  return view;
}

stats_view stats_of(database& db, errand::time_point now, errand::duration window) {
  stats_view stats;
  stats.database = db.name();
  stats.now = now;
  stats.window_seconds = std::chrono::duration_cast<std::chrono::seconds>(window).count();
  for (const auto state : errand::enumerators<errand::job_state>()) stats.jobs[state_name(state)] = 0;
  for (const auto& summary : db.summarize({.now = now, .since = errand::shifted(now, -window)})) {
    queue_view queue{summary.queue, {}, summary.due, summary.oldest_due_id, summary.oldest_due_at, std::nullopt};
    for (const auto& [state, count] : summary.jobs) {
      queue.jobs[state_name(state)] = count;
      stats.jobs[state_name(state)] += count;
    }
    if (summary.oldest_due_at)
      queue.oldest_due_waiting_seconds =
          std::chrono::duration_cast<std::chrono::seconds>(now - *summary.oldest_due_at).count();
    const auto recent = [&](errand::job_state s) {
      const auto found = summary.updated_since.find(s);
      return found == summary.updated_since.end() ? std::int64_t{0} : found->second;
    };
    stats.succeeded_in_window += recent(errand::job_state::succeeded);
    stats.failed_in_window += recent(errand::job_state::failed);
    stats.queues.push_back(std::move(queue));
  }
  const double minutes = std::chrono::duration<double, std::ratio<60>>(window).count();
  if (minutes > 0)
    stats.finished_per_minute = static_cast<double>(stats.succeeded_in_window + stats.failed_in_window) / minutes;
  return stats;
}

errors_view errors_of(database& db, const errand::error_group_query& query) { return {db.error_groups(query)}; }

template <class Event>
change_view change(database& db, std::int64_t id, const Event& e, errand::time_point now, bool dry_run) {
  change_view view{id, "not_found", "job " + std::to_string(id) + " does not exist", db.get(id), std::nullopt};
  if (!view.before) return view;
  if (dry_run) {
    auto d = errand::decide(*view.before, e, errand::retry_policy{}, now);
    view.outcome = d.applied() ? "would_apply" : std::string(errand::name_of(d.outcome).value_or("rejected"));
    view.reason = d.applied() ? std::nullopt : std::optional(d.reason);
    view.after = std::move(d.next);
    return view;
  }
  auto result = db.report(id, e, now);
  view.outcome = result.why == errand::rejection::no_such_job
                     ? "not_found"
                     : std::string(errand::name_of(result.outcome).value_or("rejected"));
  view.reason = result.accepted() ? std::nullopt : std::optional(result.reason);
  view.after = std::move(result.row);
  return view;
}

template change_view change(database&, std::int64_t, const errand::requeue&, errand::time_point, bool);
template change_view change(database&, std::int64_t, const errand::cancel&, errand::time_point, bool);

exit_status status_of(const changes_view& changes) {
  exit_status status = success;
  for (const auto& c : changes.jobs) {
    if (c.outcome == "not_found") return no_such_job;
    if (c.outcome == "rejected") status = refused;
  }
  return status;
}

}  // namespace errand_tool
