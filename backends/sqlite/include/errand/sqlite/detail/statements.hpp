#pragma once
// The SQL an sqlite_store runs, built once for its table names and prepared
// on its connection at first use. Values are always parameters; only the
// tables' names are spliced in. A transition's compare-and-set and history
// append are not here: the job queue writes them through
// detail/transitions.hpp, as every record store does.

#include <errand/job.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/schema.hpp>

#include <array>
#include <string>
#include <string_view>

namespace errand::detail::sqlite {

// The job's identity, fixed at enqueue: decide() never changes it, so a
// transition does not rewrite it (nor a large payload with it).
inline constexpr std::array<std::string_view, 6> fixed_at_enqueue{"queue",    "kind",       "payload",
                                                                  "priority", "unique_key", "created_at"};

struct statements {
  explicit statements(const sqlite_tables& t)
      : select_jobs("SELECT " + column_list<job>() + " FROM " + t.jobs),
        get{select_jobs + " WHERE id = ?1"},
        version_of{"SELECT version FROM " + t.jobs + " WHERE id = ?1"},
        find_holder{"SELECT id FROM " + t.jobs +
                    " WHERE unique_key = ?1 AND (?2 IS NULL OR instr(?2, ',' || state || ',') > 0)"
                    " AND (?3 IS NULL OR created_at > ?3) ORDER BY id DESC LIMIT 1"},
        insert{"INSERT INTO " + t.jobs +
               " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version, unique_key,"
               " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id"},
        due(select_jobs + " WHERE state IN " + sqlite_claimable_states() + " AND run_at <= ?1"),
        due_order(" ORDER BY priority, run_at, id"),
        due_in_any_queue{due + due_order},
        // Asked only by an idle runner, when nothing claimable is due: it reads
        // the claim index's rows, which are then the jobs scheduled for later.
        next_run_at{"SELECT min(run_at) FROM " + t.jobs + " WHERE state IN " + sqlite_claimable_states() +
                    " AND run_at > ?1"},
        expired{select_jobs + " WHERE " + sqlite_is_leased() + " AND lease_until <= ?1 ORDER BY lease_until, id"},
        history{"SELECT " + column_list<history_record>() + " FROM " + t.history + " WHERE job_id = ?1 ORDER BY seq"},
        history_position{"SELECT coalesce(max(rowid), 0) FROM " + t.history},
        history_after{"SELECT rowid, " + column_list<history_record>() + " FROM " + t.history +
                      " WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"},
        counts{"SELECT state, count(*), min(id) FROM " + t.jobs + " GROUP BY state"},
        summary{"SELECT queue, state, count(*), sum(updated_at >= ?1), sum(state IN " + sqlite_claimable_states() +
                " AND run_at <= ?2), min(id) FROM " + t.jobs + " GROUP BY queue, state"},
        // SQLite fills a bare column beside min() from the row holding the minimum.
        oldest_due{"SELECT queue, id, min(run_at) FROM " + t.jobs + " WHERE state IN " + sqlite_claimable_states() +
                   " AND run_at <= ?1 GROUP BY queue"},
        // After "WITH failing AS (<the failing jobs>": ?1 groups, ?2 examples per group.
        error_groups_tail(
            "), groups AS (SELECT k, m, count(*) AS n, min(at) AS first_at, max(at) AS last_at FROM failing"
            " GROUP BY k, m ORDER BY last_at DESC, n DESC, k, m LIMIT ?1),"
            " ranked AS (SELECT f.k, f.m, f.id, row_number() OVER (PARTITION BY f.k, f.m ORDER BY f.at DESC,"
            " f.id DESC) AS r FROM failing AS f JOIN groups AS g ON g.k = f.k AND g.m = f.m)"
            " SELECT g.k, g.m, g.n, g.first_at, g.last_at, r.id FROM groups AS g LEFT JOIN ranked AS r"
            " ON r.k = g.k AND r.m = g.m AND r.r <= ?2 ORDER BY g.last_at DESC, g.n DESC, g.k, g.m, r.r"),
        prune_finished_history{"DELETE FROM " + t.history + " WHERE job_id IN (SELECT id FROM " + t.jobs +
                               " WHERE state IN " + sqlite_finished_states() + " AND updated_at < ?1)"},
        prune_finished_jobs{"DELETE FROM " + t.jobs + " WHERE state IN " + sqlite_finished_states() +
                            " AND updated_at < ?1"},
        queue_settings{"SELECT queue, paused, max_running, updated_at FROM " + t.queues + " ORDER BY queue"},
        queue_setting_of{"SELECT queue, paused, max_running, updated_at FROM " + t.queues + " WHERE queue = ?1"},
        put_queue_setting{"INSERT OR REPLACE INTO " + t.queues +
                          " (queue, paused, max_running, updated_at) VALUES (?1, ?2, ?3, ?4)"},
        delete_queue_setting{"DELETE FROM " + t.queues + " WHERE queue = ?1"},
        running_in_queue{"SELECT count(*) FROM " + t.jobs + " WHERE " + sqlite_is_leased() + " AND queue = ?1"} {}

  using fixed = fixed_statement;
  std::string select_jobs;
  fixed get, version_of, find_holder, insert;
  std::string due, due_order;
  fixed due_in_any_queue, next_run_at, expired, history, history_position, history_after, counts, summary, oldest_due;
  std::string error_groups_tail;
  fixed prune_finished_history, prune_finished_jobs;
  fixed queue_settings, queue_setting_of, put_queue_setting, delete_queue_setting, running_in_queue;
};

}  // namespace errand::detail::sqlite
