#pragma once
// errand's tables in PostgreSQL, as versioned migrations. A store opening a
// database applies the migrations it has not applied yet, in one transaction
// that first takes a transaction-scoped advisory lock, so processes starting
// at once migrate it once. docs/backends/postgres.md describes every column.
//
// Native types: BIGINT identity ids, TIMESTAMPTZ times, JSON for the user's
// payload (stored exactly as enqueued and validated), JSONB for history
// payloads (errand writes them; operators query them), and CHECK constraints
// listing the lifecycle's state names.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>
#include <errand/lifecycle.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace errand {

// The names of one errand instance's objects: "schema"."prefix" + jobs,
// history, schema_version, queues, and the NOTIFY channel.
struct postgres_tables {
  std::string schema;
  std::string prefix;
  std::string jobs = quoted(schema) + "." + quoted(prefix + "jobs");
  std::string history = quoted(schema) + "." + quoted(prefix + "history");
  std::string schema_version = quoted(schema) + "." + quoted(prefix + "schema_version");
  std::string queues = quoted(schema) + "." + quoted(prefix + "queues");
  // Transitions and enqueues are announced here; channels are per database,
  // so the name carries the schema.
  std::string channel = schema + "." + prefix + "events";

  // An object name in the instance's namespace, quoted: index, constraint.
  std::string object(std::string_view suffix) const { return quoted(prefix + std::string(suffix)); }

  static std::string quoted(const std::string& identifier) { return '"' + identifier + '"'; }
};

// PostgreSQL truncates identifiers (and channel names) to 63 bytes.
inline constexpr std::size_t postgres_max_identifier = 63;

// Schema and prefix are spliced into SQL, so only lower-case identifier
// characters are accepted; the longest derived name must fit in 63 bytes.
inline postgres_tables postgres_tables_for(std::string_view schema, std::string_view prefix) {
  const auto plain = [](std::string_view name, bool may_be_empty) {
    if (name.empty()) return may_be_empty;
    if (name.front() >= '0' && name.front() <= '9') return false;
    for (const char c : name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
  };
  if (!plain(schema, false))
    throw std::invalid_argument("errand postgres: schema '" + std::string(schema) +
                                "' is not a plain lower-case identifier (a-z, 0-9 and '_', not starting with a digit)");
  if (!plain(prefix, true))
    throw std::invalid_argument("errand postgres: table prefix '" + std::string(prefix) +
                                "' is not a plain lower-case identifier (a-z, 0-9 and '_', not starting with a digit)");
  postgres_tables tables{std::string(schema), std::string(prefix)};
  const std::size_t longest =
      std::max(prefix.size() + std::string_view("schema_version").size(), tables.channel.size());
  if (schema.size() > postgres_max_identifier || longest > postgres_max_identifier)
    throw std::invalid_argument("errand postgres: schema '" + std::string(schema) + "' and prefix '" +
                                std::string(prefix) + "' make names longer than PostgreSQL's 63 bytes");
  return tables;
}

// "('pending', 'running', ...)": the lifecycle's state names.
inline std::string postgres_state_list() { return detail::quoted_names(enumerators<job_state>()); }

// The states a claim picks from. The claim query repeats this text exactly,
// so the planner matches it to the partial index's predicate.
inline std::string postgres_claimable_states() { return detail::quoted_names(claimable_states); }

// "state = 'running'": a job holding a lease, as the lease index and the
// queries that use it say it (the same text, for the same reason).
inline std::string postgres_is_leased() { return "state = '" + std::string(*name_of(leased_states.front())) + "'"; }

// The states prune deletes a job in.
inline std::string postgres_finished_states() { return detail::quoted_names(finished_states); }

struct postgres_migration {
  int version = 0;
  std::string description;
  std::vector<std::string> statements;  // idempotent on their own: IF NOT EXISTS everywhere
};

namespace detail::pg {

// ALTER TABLE ... ADD CONSTRAINT has no IF NOT EXISTS. NOT VALID: the rule
// holds for every write from now on, and rows a legacy table already holds
// are left as they are (errand reports them when it reads them).
inline std::string add_check_once(const postgres_tables& t, const std::string& table, std::string_view name,
                                  const std::string& condition) {
  const std::string present = "SELECT 1 FROM pg_constraint WHERE conname = '" + t.prefix + std::string(name) +
                              "' AND conrelid = '" + table + "'::regclass";
  const std::string add =
      "ALTER TABLE " + table + " ADD CONSTRAINT " + t.object(name) + " CHECK (" + condition + ") NOT VALID";
  return "DO $errand$ BEGIN IF NOT EXISTS (" + present + ") THEN " + add + "; END IF; END $errand$";
}

}  // namespace detail::pg

// Every migration, oldest first. Each statement is idempotent, so a database
// whose tables predate the schema_version table (a legacy jobs table without
// the error columns) is upgraded too: what exists is kept, what is missing
// is added, and older rows read NULL in the new columns.
inline std::vector<postgres_migration> postgres_migrations(const postgres_tables& t) {
  const std::string states = postgres_state_list();
  const std::string claimable = postgres_claimable_states();
  std::vector<postgres_migration> migrations;

  migrations.push_back({1,
                        "jobs, history and the claim indexes",
                        {"CREATE TABLE IF NOT EXISTS " + t.jobs +
                             " (\n"
                             "  id           BIGINT      GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
                             "  queue        TEXT        NOT NULL,\n"
                             "  kind         TEXT        NOT NULL,\n"
                             "  payload      JSON        NOT NULL,\n"
                             "  state        TEXT        NOT NULL,\n"
                             "  priority     INTEGER     NOT NULL,\n"
                             "  attempt      INTEGER     NOT NULL,\n"
                             "  max_attempts INTEGER     NOT NULL,\n"
                             "  run_at       TIMESTAMPTZ NOT NULL,\n"
                             "  worker       TEXT,\n"
                             "  lease_until  TIMESTAMPTZ,\n"
                             "  heartbeat_at TIMESTAMPTZ,\n"
                             "  version      BIGINT      NOT NULL,\n"
                             "  unique_key   TEXT,\n"
                             "  created_at   TIMESTAMPTZ NOT NULL,\n"
                             "  updated_at   TIMESTAMPTZ NOT NULL\n"
                             ")",
                         // A table from before errand kept history has no sequence counter yet.
                         "ALTER TABLE " + t.jobs + " ADD COLUMN IF NOT EXISTS last_seq BIGINT NOT NULL DEFAULT 0",
                         detail::pg::add_check_once(t, t.jobs, "jobs_state_check", "state IN " + states),
                         "CREATE TABLE IF NOT EXISTS " + t.history +
                             " (\n"
                             "  job_id     BIGINT      NOT NULL REFERENCES " +
                             t.jobs +
                             " (id),\n"
                             "  seq        BIGINT      NOT NULL,\n"
                             "  from_state TEXT        NOT NULL CHECK (from_state IN " +
                             states +
                             "),\n"
                             "  to_state   TEXT        NOT NULL CHECK (to_state IN " +
                             states +
                             "),\n"
                             "  event      TEXT        NOT NULL,\n"
                             "  payload    JSONB       NOT NULL,\n"
                             "  attempt    INTEGER     NOT NULL,\n"
                             "  worker     TEXT,\n"
                             "  at         TIMESTAMPTZ NOT NULL,\n"
                             "  PRIMARY KEY (job_id, seq)\n"
                             ")",
                         "CREATE INDEX IF NOT EXISTS " + t.object("jobs_due") + " ON " + t.jobs +
                             " (queue, priority, run_at, id) WHERE state IN " + claimable,
                         "CREATE INDEX IF NOT EXISTS " + t.object("jobs_due_any_queue") + " ON " + t.jobs +
                             " (priority, run_at, id) WHERE state IN " + claimable,
                         "CREATE INDEX IF NOT EXISTS " + t.object("jobs_leases") + " ON " + t.jobs +
                             " (lease_until, id) WHERE " + postgres_is_leased(),
                         "CREATE UNIQUE INDEX IF NOT EXISTS " + t.object("jobs_unique_key") + " ON " + t.jobs +
                             " (unique_key) WHERE unique_key IS NOT NULL"}});

  migrations.push_back({2,
                        "error columns and success detail",
                        {"ALTER TABLE " + t.jobs +
                             " ADD COLUMN IF NOT EXISTS last_error TEXT,"
                             " ADD COLUMN IF NOT EXISTS last_error_kind TEXT,"
                             " ADD COLUMN IF NOT EXISTS last_error_at TIMESTAMPTZ,"
                             " ADD COLUMN IF NOT EXISTS detail TEXT",
                         // Contract 1 of docs/concepts.md, enforced by the database as well: absent is NULL,
                         // never '', and a job that failed says why.
                         detail::pg::add_check_once(t, t.jobs, "jobs_last_error_not_empty", "last_error <> ''"),
                         detail::pg::add_check_once(t, t.jobs, "jobs_failure_has_reason",
                                                    "state NOT IN " +
                                                        detail::quoted_names(job_lifecycle::error_state_list) +
                                                        " OR (last_error IS NOT NULL AND last_error_at IS NOT NULL)")}});

  // A unique key may now be held only while a job is in some states or for a
  // period (job_spec::unique_states, unique_period), so two jobs can carry
  // one key and the unique index gives way to a plain one; enqueue takes an
  // advisory lock per key and looks for a holder in the same transaction.
  migrations.push_back(
      {3,
       "queue settings; unique keys held for a scope",
       {"CREATE TABLE IF NOT EXISTS " + t.queues +
            " (\n"
            "  queue       TEXT        PRIMARY KEY,\n"
            "  paused      BOOLEAN     NOT NULL,\n"
            "  max_running INTEGER     CHECK (max_running >= 1),\n"
            "  updated_at  TIMESTAMPTZ NOT NULL\n"
            ")",
        "DROP INDEX IF EXISTS " + postgres_tables::quoted(t.schema) + "." + t.object("jobs_unique_key"),
        "CREATE INDEX IF NOT EXISTS " + t.object("jobs_by_unique_key") + " ON " + t.jobs +
            " (unique_key, id) WHERE unique_key IS NOT NULL"}});

  // A job's next history seq is its history's highest plus one, as a
  // record's is (detail/transitions.hpp): the counter on the row is no longer
  // kept, and a column that stopped following the history would mislead
  // whoever reads it. The version stops the errand that kept it from opening
  // the tables again.
  migrations.push_back({4,
                        "history seq from the history itself: jobs.last_seq dropped",
                        {"ALTER TABLE " + t.jobs + " DROP COLUMN IF EXISTS last_seq"}});

  // Every history row is inserted by the statement that moved its job, from
  // the rows that UPDATE returned, so the foreign key could only ever find
  // the job there; checking it cost each entry an index probe and a row lock
  // written to the WAL, a fifth of the server's time per transition.
  // Records' histories never had one (docs/decisions.md).
  migrations.push_back(
      {5,
       "history without a foreign key to jobs",
       {"DO $errand$ DECLARE c TEXT; BEGIN FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = '" +
        t.history + "'::regclass AND confrelid = '" + t.jobs +
        "'::regclass AND contype = 'f' LOOP EXECUTE format('ALTER TABLE " + t.history +
        " DROP CONSTRAINT %I', c); END LOOP; END $errand$"}});
  return migrations;
}

// The version a fully migrated database is at.
inline constexpr int postgres_schema_version = 5;

// Advisory lock key for migrations: the same for every process migrating the
// same tables, so they queue behind one another (pg_advisory_xact_lock).
inline std::string postgres_migration_lock_key(const postgres_tables& t) {
  return "hashtextextended('errand migrations " + t.schema + "." + t.prefix + "', 0)";
}

}  // namespace errand
