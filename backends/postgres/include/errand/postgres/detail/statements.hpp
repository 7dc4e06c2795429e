#pragma once
// The SQL a postgres_store runs, prepared once per connection. Statements that
// handle many jobs take one array parameter per column and unnest them, so a
// batch of any size is one statement and one round trip.
//
// Decisions are written as every transition is (transitions.hpp): the job
// lifecycle is a record definition, errand::job_records, on the jobs and
// history tables.

#include <errand/enum_name.hpp>
#include <errand/job.hpp>
#include <errand/job_records.hpp>
#include <errand/postgres/detail/claim.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/detail/transitions.hpp>
#include <errand/postgres/record_schema.hpp>
#include <errand/postgres/schema.hpp>

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// What enqueue fixes and decide() never changes: a transition leaves these
// columns as they are, so that its cost does not grow with the payload.
inline constexpr std::array<std::string_view, 6> fixed_at_enqueue{"queue",    "kind",       "payload",
                                                                  "priority", "unique_key", "created_at"};

// Where the job queue's transitions go: its tables as the catalog has them.
// Unless every transition is announced, only those that make a job
// claimable (they wake idle workers) or record an error (operators watch
// for them) are.
inline transition_target job_transitions(transaction& tx, const postgres_tables& t, bool notify,
                                         bool every_transition) {
  const std::string woken_or_failed = concat("word IN ", postgres_claimable_states(), " OR word IN ",
                                             detail::quoted_names(job_lifecycle::error_state_list));
  return transition_target_for<history_record>(
      tx, t.jobs, inspect_record_table<job_records>(tx, t.jobs, false), fixed_at_enqueue, t.history,
      {t.channel, notify, "t", "to_state", every_transition ? "true" : woken_or_failed}, "the decision for job");
}

struct statements {
  statements(const postgres_tables& t, transition_target target) : tables(t), transitions(std::move(target)) {}

  postgres_tables tables;
  transition_sql transitions;
  std::string job_columns = select_list<job>();
  std::string claimable = postgres_claimable_states();

  // $1 id
  statement get{"errand_get", "SELECT " + job_columns + " FROM " + tables.jobs + " WHERE id = $1"};

  // Specs without a unique key. Arrays, one element per spec: $1 queue,
  // $2 kind, $3 payload, $4 priority, $5 run_at, $6 max_attempts,
  // $7 unique_key (NULL); $8 now, $9 channel, $10 the announcement,
  // $11 announce?. Returns the ids created in the order of the specs (ids
  // grow in insertion order).
  statement enqueue{"errand_enqueue",
                    "WITH input AS (\n"
                    "  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::timestamptz[],\n"
                    "                       $6::integer[], $7::text[]) WITH ORDINALITY\n"
                    "    AS i(queue, kind, payload, priority, run_at, max_attempts, unique_key, ord)\n"
                    "), added AS (\n"
                    "  INSERT INTO " +
                        tables.jobs +
                        " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version,\n"
                        "                      unique_key, created_at, updated_at)\n"
                        "  SELECT queue, kind, payload::json, '" +
                        std::string(*name_of(job_state::pending)) +
                        "', priority, 0, max_attempts, run_at, 1,\n"
                        "         unique_key, $8::timestamptz, $8::timestamptz\n"
                        "  FROM input ORDER BY ord\n"
                        "  RETURNING id, unique_key\n"
                        "), announced AS (\n"
                        "  SELECT pg_notify($9::text, $10::text) WHERE $11::boolean AND EXISTS (SELECT 1 FROM added)\n"
                        ")\n"
                        "SELECT id, unique_key FROM added WHERE (SELECT count(*) FROM announced) >= 0 ORDER BY id"};

  // $1 lock names, one per unique key: a transaction-scoped advisory lock on
  // each, taken in one order by every enqueuer so that two never deadlock.
  statement lock_unique_keys{"errand_lock_unique_keys",
                             "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
                             " FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) AS keys"};

  // One spec, with its unique key locked: inserted unless a job holds the key.
  // $1 queue, $2 kind, $3 payload, $4 priority, $5 run_at, $6 max_attempts,
  // $7 unique_key, $8 now, $9 the states that hold the key (NULL: any),
  // $10 held only by jobs enqueued after this (NULL: any time), $11 channel,
  // $12 the announcement, $13 announce?. Returns the id, and whether it is new.
  statement enqueue_unique{
      "errand_enqueue_unique",
      "WITH holder AS (\n"
      "  SELECT id FROM " +
          tables.jobs +
          " WHERE unique_key = $7::text AND ($9::text[] IS NULL OR state = ANY($9::text[]))\n"
          "    AND ($10::timestamptz IS NULL OR created_at > $10::timestamptz) ORDER BY id DESC LIMIT 1\n"
          "), added AS (\n"
          "  INSERT INTO " +
          tables.jobs +
          " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version,\n"
          "                      unique_key, created_at, updated_at)\n"
          "  SELECT $1::text, $2::text, $3::json, '" +
          std::string(*name_of(job_state::pending)) +
          "', $4::integer, 0, $6::integer, $5::timestamptz, 1,\n"
          "         $7::text, $8::timestamptz, $8::timestamptz\n"
          "  WHERE NOT EXISTS (SELECT 1 FROM holder)\n"
          "  RETURNING id\n"
          "), announced AS (\n"
          "  SELECT pg_notify($11::text, $12::text) WHERE $13::boolean AND EXISTS (SELECT 1 FROM added)\n"
          ")\n"
          "SELECT * FROM (SELECT id, true FROM added UNION ALL SELECT id, false FROM holder) AS result\n"
          "WHERE (SELECT count(*) FROM announced) >= 0"};

  // $1 ids: their versions now, to say which decision of a refused batch conflicted.
  statement versions{"errand_versions", "SELECT id, version FROM " + tables.jobs + " WHERE id = ANY($1::bigint[])"};

  // $1 now, $2 limit. The WHERE repeats the claim index's predicate, and
  // leaves out paused queues (an anti-join, which keeps the ordered scan of
  // the claim index). Each row comes with its queue's limit (NULL: none). FOR
  // NO KEY UPDATE is FOR UPDATE without the key lock errand never needs (it
  // never changes an id): two claimers still exclude each other, and a
  // session holding KEY SHARE on a job (an application's foreign key to the
  // jobs table) does not hide it.
  std::string due_rows = " FROM " + tables.jobs + " AS j WHERE state IN " + claimable +
                         " AND run_at <= $1::timestamptz AND NOT EXISTS (SELECT 1 FROM " + tables.queues +
                         " AS p WHERE p.queue = j.queue AND p.paused)";
  std::string claimable_select = "SELECT " + job_columns + ", (SELECT q.max_running FROM " + tables.queues +
                                 " AS q WHERE q.queue = j.queue)" + due_rows;
  statement claimable_any{"errand_claimable_any", due_in_claim_order(claimable_select, "$2::bigint")};

  // $1 now, $2 limit, $3 queues
  statement claimable_in{"errand_claimable_in",
                         due_in_claim_order(claimable_select + " AND queue = ANY($3::text[])", "$2::bigint")};

  // The same, leaving out limited queues with no room left: $1 now, $2
  // limit, $3 those queues (and $4 the queues to take from). Statements of
  // their own, so that the usual claim's plan never weighs an array.
  statement claimable_any_except{"errand_claimable_any_except",
                                 due_in_claim_order(claimable_select + " AND queue <> ALL($3::text[])", "$2::bigint")};
  statement claimable_in_except{
      "errand_claimable_in_except",
      due_in_claim_order(claimable_select + " AND queue = ANY($4::text[]) AND queue <> ALL($3::text[])", "$2::bigint")};

  // The claim in one statement (claim.hpp), when no queue it may take from
  // has a limit: $1 now, $2 limit, ($3 queues), claim_parameters(), the
  // channel, the origin, announce?.
  statement claim_any{"errand_claim_any", one_statement_claim_sql(transitions, tables.queues, due_rows, false)};
  statement claim_in{"errand_claim_in", one_statement_claim_sql(transitions, tables.queues, due_rows, true)};

  // $1 queues (NULL: every queue): the limited ones among them, locked until
  // the claim commits, so that claimers of a limited queue count its running
  // jobs one after another.
  statement lock_limited_queues{"errand_lock_limited_queues",
                                "SELECT queue, max_running FROM " + tables.queues +
                                    " WHERE max_running IS NOT NULL AND ($1::text[] IS NULL OR queue = ANY($1::text[]))"
                                    " ORDER BY queue FOR UPDATE"};

  // $1 queues: how many jobs of each are running.
  statement running_in{"errand_running_in", "SELECT queue, count(*) FROM " + tables.jobs +
                                                " WHERE " + postgres_is_leased() + " AND queue = ANY($1::text[]) GROUP BY queue"};

  // $1 queue, $2 paused (NULL: as it is), $3 change the limit?, $4 the limit
  // (NULL: none), $5 now. A queue back to neither paused nor limited keeps its
  // row; queue_settings leaves it out.
  statement set_queue{"errand_set_queue",
                      "INSERT INTO " + tables.queues +
                          " AS q (queue, paused, max_running, updated_at)"
                          " VALUES ($1::text, coalesce($2::boolean, false), CASE WHEN $3::boolean THEN $4::integer END,"
                          " $5::timestamptz)"
                          " ON CONFLICT (queue) DO UPDATE SET paused = coalesce($2::boolean, q.paused),"
                          " max_running = CASE WHEN $3::boolean THEN $4::integer ELSE q.max_running END,"
                          " updated_at = $5::timestamptz"
                          " RETURNING queue, paused, max_running, " +
                          readable({}, "updated_at", true)};

  statement queue_settings{"errand_queue_settings", "SELECT queue, paused, max_running, " +
                                                        readable({}, "updated_at", true) + " FROM " + tables.queues +
                                                        " WHERE paused OR max_running IS NOT NULL ORDER BY queue"};

  // $1 after: the earliest run_at still to come of a claimable job, asked
  // only by an idle runner, when the claim index holds jobs scheduled for later.
  statement next_run_at{"errand_next_run_at", "SELECT " + iso8601_utc("min(run_at)") + " FROM " + tables.jobs +
                                                  " WHERE state IN " + claimable + " AND run_at > $1::timestamptz"};

  // $1 now, $2 limit
  statement expired{"errand_expired", "SELECT " + job_columns + " FROM " + tables.jobs +
                                          " WHERE " + postgres_is_leased() + " AND lease_until <= $1::timestamptz"
                                          " ORDER BY lease_until, id LIMIT $2"};

  // $1 after id, $2 state, $3 queue, $4 kind, $5 has error, $6 limit, $7 updated since, $8 updated
  // before; NULL: no filter. query_recent adds $9, $10: the updated_at and id to continue after.
  std::string query_filter =
      " WHERE id > $1 AND ($2::text IS NULL OR state = $2::text)"
      " AND ($3::text IS NULL OR queue = $3::text) AND ($4::text IS NULL OR kind = $4::text)"
      " AND ($5::boolean IS NULL OR (last_error IS NOT NULL) = $5::boolean)"
      " AND ($7::timestamptz IS NULL OR updated_at >= $7::timestamptz)"
      " AND ($8::timestamptz IS NULL OR updated_at < $8::timestamptz)";
  statement query{"errand_query",
                  "SELECT " + job_columns + " FROM " + tables.jobs + query_filter + " ORDER BY id LIMIT $6"};
  statement query_recent{"errand_query_recent",
                         "SELECT " + job_columns + " FROM " + tables.jobs + query_filter +
                             " AND ($9::timestamptz IS NULL OR (updated_at, id) < ($9::timestamptz, $10::bigint))"
                             " ORDER BY updated_at DESC, id DESC LIMIT $6"};

  // $1 since, $2 now: per queue and state, the jobs, those updated since, those due, the lowest id.
  statement summary{"errand_summary",
                    "SELECT queue, state, count(*), count(*) FILTER (WHERE updated_at >= $1::timestamptz),"
                    " count(*) FILTER (WHERE state IN " +
                        claimable + " AND run_at <= $2::timestamptz), min(id) FROM " + tables.jobs +
                        " GROUP BY queue, state"};
  // $1 now: per queue, the due job with the earliest run_at.
  statement oldest_due{"errand_oldest_due", "SELECT DISTINCT ON (queue) queue, id, " + readable("", "run_at", true) +
                                                " FROM " + tables.jobs + " WHERE state IN " + claimable +
                                                " AND run_at <= $1::timestamptz ORDER BY queue, run_at, id"};
  // $1 groups, $2 examples per group, $3 state, $4 queue, $5 kind, $6 since; NULL: no filter. Groups
  // and their examples, latest error first; kinds and messages compared byte by byte, as in SQLite.
  statement error_groups{
      "errand_error_groups",
      "WITH failing AS (\n"
      "  SELECT id, coalesce(last_error_kind, '') COLLATE \"C\" AS k, last_error COLLATE \"C\" AS m,\n"
      "         coalesce(last_error_at, updated_at) AS at FROM " +
          tables.jobs +
          "\n"
          "  WHERE last_error IS NOT NULL AND ($3::text IS NULL OR state = $3::text)\n"
          "    AND ($4::text IS NULL OR queue = $4::text) AND ($5::text IS NULL OR kind = $5::text)\n"
          "    AND ($6::timestamptz IS NULL OR coalesce(last_error_at, updated_at) >= $6::timestamptz)\n"
          "), groups AS (\n"
          "  SELECT k, m, count(*) AS n, min(at) AS first_at, max(at) AS last_at FROM failing\n"
          "  GROUP BY k, m ORDER BY last_at DESC, n DESC, k, m LIMIT $1\n"
          "), ranked AS (\n"
          "  SELECT f.k, f.m, f.id, row_number() OVER (PARTITION BY f.k, f.m ORDER BY f.at DESC, f.id DESC) AS r\n"
          "  FROM failing AS f JOIN groups AS g ON g.k = f.k AND g.m = f.m\n"
          ")\n"
          "SELECT g.k, g.m, g.n, " +
          readable("g", "first_at", true) + ", " + readable("g", "last_at", true) +
          ", r.id FROM groups AS g\n"
          "LEFT JOIN ranked AS r ON r.k = g.k AND r.m = g.m AND r.r <= $2\n"
          "ORDER BY g.last_at DESC, g.n DESC, g.k, g.m, r.r"};

  // $1 job id
  statement history{"errand_history", "SELECT " + select_list<history_record>() + " FROM " + tables.history +
                                          " WHERE job_id = $1 ORDER BY seq"};

  // $1 job id, $2 seq
  statement record{"errand_record", "SELECT " + select_list<history_record>() + " FROM " + tables.history +
                                        " WHERE job_id = $1 AND seq = $2"};

  statement counts{"errand_counts", "SELECT state, count(*), min(id) FROM " + tables.jobs + " GROUP BY state"};

  // $1 finished before: the finished jobs to delete, locked so that a
  // requeue racing the prune either happens first (and the job stays) or waits.
  statement prune_lock{"errand_prune_lock",
                       "SELECT id FROM " + tables.jobs +
                           " WHERE state IN " + postgres_finished_states() + " AND updated_at < $1::timestamptz FOR UPDATE"};
  // $1 ids
  statement prune_history_of{"errand_prune_history_of", "DELETE FROM " + tables.history +
                                                            " WHERE job_id = ANY($1::bigint[])"
                                                            " RETURNING job_id"};
  statement prune_jobs{"errand_prune_jobs",
                       "DELETE FROM " + tables.jobs + " WHERE id = ANY($1::bigint[]) RETURNING id"};
  // $1 records to keep per job
  statement trim_history{"errand_trim_history",
                         "WITH ranked AS (\n"
                         "  SELECT job_id, seq, row_number() OVER (PARTITION BY job_id ORDER BY seq DESC) AS newest\n"
                         "  FROM " +
                             tables.history +
                             "\n"
                             ")\n"
                             "DELETE FROM " +
                             tables.history +
                             " AS h USING ranked AS r\n"
                             "WHERE h.job_id = r.job_id AND h.seq = r.seq AND r.newest > $1 RETURNING h.job_id"};

  // $1 channel, $2 payload
  statement notify{"errand_notify", "SELECT pg_notify($1::text, $2::text)"};

  // $1 a payload: fails the way the enqueue did when it is not JSON.
  statement json_check{"errand_json_check", "SELECT $1::json IS NOT NULL"};

  // The server's own clock, as ISO-8601 UTC text.
  statement server_time{"errand_server_time", "SELECT " + iso8601_utc("clock_timestamp()")};

  std::vector<const statement*> all() const {
    return {&get,
            &enqueue,
            &lock_unique_keys,
            &enqueue_unique,
            &transitions.one,
            &transitions.many,
            &versions,
            &claimable_any,
            &claimable_in,
            &claimable_any_except,
            &claimable_in_except,
            &claim_any,
            &claim_in,
            &lock_limited_queues,
            &running_in,
            &next_run_at,
            &set_queue,
            &queue_settings,
            &expired,
            &query,
            &query_recent,
            &summary,
            &oldest_due,
            &error_groups,
            &history,
            &record,
            &counts,
            &prune_lock,
            &prune_history_of,
            &prune_jobs,
            &trim_history,
            &notify,
            &json_check,
            &server_time};
  }
};

}  // namespace errand::detail::pg
