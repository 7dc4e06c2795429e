#pragma once
// errand's tables in SQLite, as versioned migrations. A store opening a
// database applies the migrations it has not applied yet, in one BEGIN
// IMMEDIATE transaction, so two processes opening the same file at once
// migrate it once. docs/backends/sqlite.md describes every column.
//
// Times are ISO-8601 UTC text ("2026-01-01T00:00:00.000000Z", always 27
// characters), so the sqlite3 CLI shows them as they are and comparing the
// text compares the times.

#include <errand/detail/text.hpp>
#include <errand/enum_name.hpp>
#include <errand/lifecycle.hpp>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace errand {

// The tables of one errand instance: prefix + "jobs", "history", "schema_version", "queues".
struct sqlite_tables {
  std::string prefix;
  std::string jobs = prefix + "jobs";
  std::string history = prefix + "history";
  std::string schema_version = prefix + "schema_version";
  std::string queues = prefix + "queues";
};

// A prefix is spliced into SQL as part of identifiers, so only plain
// identifier characters are accepted.
inline sqlite_tables sqlite_tables_for(std::string_view prefix) {
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool valid = !prefix.empty() && letter(prefix.front());
  for (const char c : prefix) valid = valid && (letter(c) || digit(c));
  if (!valid)
    throw std::invalid_argument("errand sqlite: table prefix '" + std::string(prefix) +
                                "' is not a plain identifier (letters, digits and '_', not starting with a digit)");
  return sqlite_tables{std::string(prefix)};
}

// A name as SQL quotes it: "name", so that a field called `order` or `from`
// is a column like any other.
inline std::string sqlite_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (const char c : name) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  quoted += '"';
  return quoted;
}

// "('pending', 'running', ...)": the lifecycle's state names as an SQL
// list, for queries of the application's own.
inline std::string sqlite_state_list() { return detail::quoted_names(enumerators<job_state>()); }

// "column = 'a' OR column = 'b' OR …": what a CHECK constraint says of a
// column that holds one of `names` (NULL passes, as a CHECK lets it). Not
// `column IN ('a', 'b', …)`: SQLite checks an IN list of more than two
// constants by building a temporary b-tree of them, every time a statement
// writes the row, and that was a third of a transition's cost
// (docs/backends/sqlite.md, "The state CHECK lists no IN").
template <class Names>
std::string sqlite_is_one_of(std::string_view column, const Names& names) {
  std::string check;
  for (const auto& name : names)
    check += detail::concat(check.empty() ? "" : " OR ", column, " = ", detail::quoted(name));
  return check.empty() ? "0" : check;  // no name: nothing passes, as `IN ()` says
}

// The same for a column holding one of `E`'s described names.
template <described_enum E>
std::string sqlite_is_enumerator(std::string_view column) {
  return sqlite_is_one_of(column, detail::enumerator_names<E>());
}

// The states a claim picks from. The claim query repeats this text exactly:
// SQLite uses a partial index only for a query whose WHERE names its terms.
inline std::string sqlite_claimable_states() { return detail::quoted_names(claimable_states); }

// "state = 'running'": a job holding a lease, as the lease index and the
// queries that use it say it (the same text, for the same reason).
inline std::string sqlite_is_leased() { return "state = '" + std::string(*name_of(leased_states.front())) + "'"; }

// The states prune deletes a job in.
inline std::string sqlite_finished_states() { return detail::quoted_names(finished_states); }

// A column a migration adds to a table that does not have it yet.
struct sqlite_added_column {
  std::string table;
  std::string name;
  std::string definition;  // the type and constraints after the name
};

// A column a migration drops from a table that still has it.
struct sqlite_dropped_column {
  std::string table;
  std::string name;
};

struct sqlite_migration {
  int version = 0;
  std::string description;
  std::vector<sqlite_added_column> added_columns;      // added first, each only when missing
  std::vector<std::string> statements;                 // idempotent DDL, run after the columns
  std::vector<sqlite_dropped_column> dropped_columns;  // dropped last, each only when present
};

// Every migration, oldest first. Each one is idempotent on its own (CREATE …
// IF NOT EXISTS, columns added only when missing and dropped only when
// present), so a database whose tables predate the schema_version table is
// upgraded too.
inline std::vector<sqlite_migration> sqlite_migrations(const sqlite_tables& t) {
  const std::string claimable = sqlite_claimable_states();
  std::vector<sqlite_migration> migrations;

  // The DDL is laid out as the tables it creates.
  // clang-format off
  migrations.push_back(
      {1,
       "jobs, history and the claim indexes",
       {},
       {"CREATE TABLE IF NOT EXISTS " + t.jobs +
            " (\n"
            "  id           INTEGER PRIMARY KEY AUTOINCREMENT,\n"
            "  queue        TEXT    NOT NULL,\n"
            "  kind         TEXT    NOT NULL,\n"
            "  payload      TEXT    NOT NULL,\n"
            "  state        TEXT    NOT NULL CHECK (" + sqlite_is_enumerator<job_state>("state") + "),\n"
            "  priority     INTEGER NOT NULL,\n"
            "  attempt      INTEGER NOT NULL,\n"
            "  max_attempts INTEGER NOT NULL,\n"
            "  run_at       TEXT    NOT NULL,\n"
            "  worker       TEXT,\n"
            "  lease_until  TEXT,\n"
            "  heartbeat_at TEXT,\n"
            "  version      INTEGER NOT NULL,\n"
            "  unique_key   TEXT,\n"
            "  created_at   TEXT    NOT NULL,\n"
            "  updated_at   TEXT    NOT NULL,\n"
            "  last_seq     INTEGER NOT NULL DEFAULT 0\n"
            ")",
        "CREATE TABLE IF NOT EXISTS " + t.history +
            " (\n"
            "  job_id     INTEGER NOT NULL REFERENCES " + t.jobs + " (id),\n"
            "  seq        INTEGER NOT NULL,\n"
            "  from_state TEXT    NOT NULL CHECK (" + sqlite_is_enumerator<job_state>("from_state") + "),\n"
            "  to_state   TEXT    NOT NULL CHECK (" + sqlite_is_enumerator<job_state>("to_state") + "),\n"
            "  event      TEXT    NOT NULL,\n"
            "  payload    TEXT    NOT NULL,\n"
            "  attempt    INTEGER NOT NULL,\n"
            "  worker     TEXT,\n"
            "  at         TEXT    NOT NULL,\n"
            "  PRIMARY KEY (job_id, seq)\n"
            ")",
        "CREATE INDEX IF NOT EXISTS " + t.jobs + "_due ON " + t.jobs +
            " (queue, priority, run_at, id) WHERE state IN " + claimable,
        "CREATE INDEX IF NOT EXISTS " + t.jobs + "_due_any_queue ON " + t.jobs +
            " (priority, run_at, id) WHERE state IN " + claimable,
        "CREATE INDEX IF NOT EXISTS " + t.jobs + "_leases ON " + t.jobs + " (lease_until, id) WHERE " + sqlite_is_leased(),
        "CREATE UNIQUE INDEX IF NOT EXISTS " + t.jobs + "_unique_key ON " + t.jobs +
            " (unique_key) WHERE unique_key IS NOT NULL"},
       {}});

  migrations.push_back({2,
                        "error columns and success detail",
                        {{t.jobs, "last_error", "TEXT CHECK (last_error <> '')"},
                         {t.jobs, "last_error_kind", "TEXT"},
                         {t.jobs, "last_error_at", "TEXT"},
                         {t.jobs, "detail", "TEXT"}},
                        {},
                        {}});

  // A unique key may now be held only while a job is in some states or for a
  // period (job_spec::unique_states, unique_period), so two jobs can carry
  // one key and the unique index gives way to a plain one; enqueue looks for
  // a holder inside its write transaction.
  migrations.push_back(
      {3,
       "queue settings; unique keys held for a scope",
       {},
       {"CREATE TABLE IF NOT EXISTS " + t.queues +
            " (\n"
            "  queue       TEXT    PRIMARY KEY,\n"
            "  paused      INTEGER NOT NULL CHECK (paused IN (0, 1)),\n"
            "  max_running INTEGER CHECK (max_running >= 1),\n"
            "  updated_at  TEXT    NOT NULL\n"
            ")",
        "DROP INDEX IF EXISTS " + t.jobs + "_unique_key",
        "CREATE INDEX IF NOT EXISTS " + t.jobs + "_by_unique_key ON " + t.jobs +
            " (unique_key, id) WHERE unique_key IS NOT NULL"},
       {}});
  // clang-format on

  // History is numbered from the history itself (its job's highest seq + 1,
  // detail/transitions.hpp), as every record's is, so the counter on the job
  // row goes: a column nobody keeps would mislead whoever reads it, and this
  // version stops an errand that numbered from it from opening the file.
  migrations.push_back(
      {4, "history seq from the history itself: jobs.last_seq dropped", {}, {}, {{t.jobs, "last_seq"}}});
  return migrations;
}

// The version a fully migrated database is at.
inline constexpr int sqlite_schema_version = 4;

}  // namespace errand
