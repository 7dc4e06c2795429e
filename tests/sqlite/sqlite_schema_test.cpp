// The schema and its migrations (errand/sqlite/schema.hpp): what a fresh
// database holds, that opening again changes nothing, and that tables written
// by an older release are upgraded with their rows intact.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>
#include <errand/sqlite/detail/rows.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();

std::set<std::string> columns_of(raw_connection& raw, const std::string& table) {
  const std::string names = raw.text("SELECT name FROM pragma_table_info('" + table + "')");
  std::set<std::string> out;
  std::stringstream lines(names);
  for (std::string line; std::getline(lines, line);) out.insert(line);
  return out;
}

template <class Row>
std::set<std::string> members_of() {
  std::set<std::string> out;
  boost::mp11::mp_for_each<boost::describe::describe_members<Row, boost::describe::mod_public>>(
      [&](auto m) { out.insert(std::string(errand::detail::sqlite::column_name(m.name))); });
  return out;
}

// The tables errand 0.0 (schema version 1) created, written out by hand as that
// release had them: no last_error, last_error_kind, last_error_at or detail.
const char* const legacy_schema = R"(
CREATE TABLE errand_jobs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  queue        TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  payload      TEXT    NOT NULL,
  state        TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'retry_pending', 'failed', 'succeeded')),
  priority     INTEGER NOT NULL,
  attempt      INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  run_at       TEXT    NOT NULL,
  worker       TEXT,
  lease_until  TEXT,
  heartbeat_at TEXT,
  version      INTEGER NOT NULL,
  unique_key   TEXT,
  created_at   TEXT    NOT NULL,
  updated_at   TEXT    NOT NULL,
  last_seq     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE errand_history (
  job_id     INTEGER NOT NULL REFERENCES errand_jobs (id),
  seq        INTEGER NOT NULL,
  from_state TEXT    NOT NULL,
  to_state   TEXT    NOT NULL,
  event      TEXT    NOT NULL,
  payload    TEXT    NOT NULL,
  attempt    INTEGER NOT NULL,
  worker     TEXT,
  at         TEXT    NOT NULL,
  PRIMARY KEY (job_id, seq)
);
CREATE INDEX errand_jobs_due ON errand_jobs (queue, priority, run_at, id) WHERE state IN ('pending', 'retry_pending');
INSERT INTO errand_jobs (queue, kind, payload, state, priority, attempt, max_attempts, run_at, worker, version,
                         created_at, updated_at, last_seq)
VALUES ('default', 'old-pending', '{"n":1}', 'pending', 0, 0, 3, '2025-06-01T00:00:00.000000Z', NULL, 1,
        '2025-06-01T00:00:00.000000Z', '2025-06-01T00:00:00.000000Z', 0),
       ('default', 'old-failed', '{"n":2}', 'failed', 0, 3, 3, '2025-06-01T00:00:00.000000Z', 'w-old', 7,
        '2025-06-01T00:00:00.000000Z', '2025-06-02T00:00:00.000000Z', 2);
INSERT INTO errand_history VALUES
  (2, 1, 'pending', 'running', 'claim', '{"worker":"w-old","lease":30000000}', 1, 'w-old', '2025-06-01T00:00:00.000000Z'),
  (2, 2, 'running', 'failed', 'fail',
   '{"attempt":1,"worker":"w-old","error":{"message":"the reason an old release kept","kind":"reported","retryable":false,"trace":null}}',
   1, 'w-old', '2025-06-02T00:00:00.000000Z');
)";

}  // namespace

TEST_CASE("schema: a fresh database has every column, the generated CHECK, the indexes and version 4",
          "[sqlite][schema]") {
  temp_database db;
  { errand::sqlite_store store(db.path()); }
  raw_connection raw(db.path());

  CHECK(columns_of(raw, "errand_jobs") == members_of<errand::job>());
  CHECK(columns_of(raw, "errand_history") == members_of<errand::history_record>());

  const std::string table_sql = raw.text("SELECT sql FROM sqlite_master WHERE name = 'errand_jobs'");
  CHECK(table_sql.find("CHECK (state = 'pending' OR state = 'running' OR state = 'retry_pending' OR state = "
                       "'failed' OR state = 'succeeded')") != std::string::npos);
  CHECK(errand::sqlite_state_list() == "('pending', 'running', 'retry_pending', 'failed', 'succeeded')");
  CHECK(raw.text("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'errand_%' ORDER BY name") ==
        "errand_jobs_by_unique_key\nerrand_jobs_due\nerrand_jobs_due_any_queue\nerrand_jobs_leases");
  CHECK(raw.text("SELECT version, description FROM errand_schema_version ORDER BY version") ==
        "1|jobs, history and the claim indexes\n2|error columns and success detail\n"
        "3|queue settings; unique keys held for a scope\n4|history seq from the history itself: jobs.last_seq dropped");
  CHECK(columns_of(raw, "errand_queues") == std::set<std::string>{"queue", "paused", "max_running", "updated_at"});
  CHECK(errand::sqlite_schema_version == 4);
}

TEST_CASE("schema: opening again migrates nothing and keeps every row", "[sqlite][schema]") {
  temp_database db;
  for (int i = 0; i < 3; ++i) {
    errand::sqlite_store store(db.path());
    store.enqueue({.kind = "work"}, t0);
  }
  raw_connection raw(db.path());
  CHECK(raw.text("SELECT count(*) FROM errand_schema_version") == "4");
  CHECK(raw.text("SELECT count(*) FROM errand_jobs") == "3");
}

TEST_CASE("schema: processes opening a fresh file at the same moment migrate it once", "[sqlite][schema]") {
  temp_database db;
  std::vector<std::thread> openers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&] {
      try {
        errand::sqlite_store store(db.path());
        store.enqueue({.kind = "work"}, t0);
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : openers) t.join();
  CHECK(failures.load() == 0);
  raw_connection raw(db.path());
  CHECK(raw.text("SELECT group_concat(version) FROM errand_schema_version") == "1,2,3,4");
  CHECK(raw.text("SELECT count(*) FROM errand_jobs") == "4");
}

TEST_CASE("schema: a legacy table without error columns is upgraded; its rows read NULL last_error",
          "[sqlite][schema]") {
  temp_database db;
  {
    raw_connection old_release(db.path());
    REQUIRE(old_release.execute(legacy_schema) == SQLITE_OK);
    REQUIRE(old_release.execute("CREATE TABLE errand_schema_version (version INTEGER PRIMARY KEY, "
                                "description TEXT NOT NULL, applied_at TEXT NOT NULL);"
                                "INSERT INTO errand_schema_version VALUES (1, 'errand 0.0', "
                                "'2025-06-01T00:00:00.000000Z')") == SQLITE_OK);
    REQUIRE(columns_of(old_release, "errand_jobs").count("last_error") == 0);
  }

  errand::sqlite_store store(db.path());
  raw_connection raw(db.path());
  CHECK(columns_of(raw, "errand_jobs").count("last_error") == 1);
  CHECK(columns_of(raw, "errand_jobs").count("last_seq") == 0);
  CHECK(raw.text("SELECT group_concat(version) FROM errand_schema_version") == "1,2,3,4");

  const auto old_failed = store.get(2);
  REQUIRE(old_failed);
  CHECK(old_failed->state == job_state::failed);
  CHECK(old_failed->attempt == 3);
  CHECK_FALSE(old_failed->last_error);
  CHECK_FALSE(old_failed->last_error_kind);
  CHECK_FALSE(old_failed->last_error_at);
  CHECK_FALSE(old_failed->detail);
  // The reason the old release kept only in its history is still there.
  CHECK(errand::errors_of(store.history(2)).at(0).message == "the reason an old release kept");
  CHECK(store.latest_outcome(2)->text == "the reason an old release kept");

  // The old pending job runs under the new schema and its failure reason is now kept on the row.
  const auto claimed = store.claim({"w-new", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->kind == "old-pending");
  CHECK(errand::report(store, claimed->id,
                       errand::fail{claimed->attempt, "w-new", {"upstream 503", "reported", true, {}}}, {}, t0)
            .applied());
  CHECK(store.get(claimed->id)->last_error == "upstream 503");

  // And an operator can requeue the old failed job; its history continues at seq 3.
  REQUIRE(errand::report(store, 2, errand::requeue{"retry after upgrade", 1}, {}, t0).applied());
  CHECK(store.history(2).back().seq == 3);
  CHECK(store.get(2)->state == job_state::pending);
}

TEST_CASE("schema: tables that predate the schema_version table are upgraded too", "[sqlite][schema]") {
  temp_database db;
  REQUIRE(raw_connection(db.path()).execute(legacy_schema) == SQLITE_OK);
  errand::sqlite_store store(db.path());
  CHECK_FALSE(store.get(2)->last_error);
  CHECK(store.get(1)->kind == "old-pending");
  CHECK(raw_connection(db.path()).text("SELECT group_concat(version) FROM errand_schema_version") == "1,2,3,4");
}

TEST_CASE("schema: a version 2 database is upgraded: unique keys it holds still hold, queues can be paused",
          "[sqlite][schema]") {
  temp_database db;
  {
    raw_connection old_release(db.path());
    REQUIRE(old_release.execute(legacy_schema) == SQLITE_OK);
    // What version 2 added: the error columns, the other indexes, a unique key index.
    REQUIRE(
        old_release.execute(
            "ALTER TABLE errand_jobs ADD COLUMN last_error TEXT CHECK (last_error <> '');"
            "ALTER TABLE errand_jobs ADD COLUMN last_error_kind TEXT;"
            "ALTER TABLE errand_jobs ADD COLUMN last_error_at TEXT;"
            "ALTER TABLE errand_jobs ADD COLUMN detail TEXT;"
            "CREATE INDEX errand_jobs_due_any_queue ON errand_jobs (priority, run_at, id)"
            "  WHERE state IN ('pending', 'retry_pending');"
            "CREATE INDEX errand_jobs_leases ON errand_jobs (lease_until, id) WHERE state = 'running';"
            "CREATE UNIQUE INDEX errand_jobs_unique_key ON errand_jobs (unique_key) WHERE unique_key IS NOT NULL;"
            "UPDATE errand_jobs SET unique_key = 'nightly:2025-06-01', state = 'succeeded', attempt = 1 WHERE id = 1;"
            "CREATE TABLE errand_schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            "  applied_at TEXT NOT NULL);"
            "INSERT INTO errand_schema_version VALUES (1, 'jobs', '2025-06-01T00:00:00.000000Z'),"
            "  (2, 'errors', '2025-06-01T00:00:00.000000Z')") == SQLITE_OK);
  }

  errand::sqlite_store store(db.path());
  raw_connection raw(db.path());
  CHECK(raw.text("SELECT group_concat(version) FROM errand_schema_version") == "1,2,3,4");
  CHECK(raw.text("SELECT group_concat(name) FROM sqlite_master WHERE name LIKE 'errand_jobs_%unique_key'") ==
        "errand_jobs_by_unique_key");
  CHECK(raw.text("SELECT count(*) FROM errand_queues") == "0");

  // The old job keeps its key for as long as it exists, as it did under version 2 ...
  errand::job_spec nightly{.kind = "report", .unique_key = "nightly:2025-06-01"};
  CHECK(store.enqueue(nightly, t0) == errand::enqueued{1, false});
  // ... and a spec scoped to unfinished jobs finds it finished.
  nightly.unique_states = errand::unfinished_states;
  const auto again = store.enqueue(nightly, t0);
  CHECK(again.created);
  CHECK(raw.text("SELECT count(*) FROM errand_jobs WHERE unique_key = 'nightly:2025-06-01'") == "2");

  store.pause_queue("default", t0);
  CHECK_FALSE(store.claim({"w", 30s, t0, {}}));
  CHECK(raw.text("SELECT queue, paused, max_running IS NULL FROM errand_queues") == "default|1|1");
}

TEST_CASE("schema: a version 3 database is upgraded: last_seq goes, history goes on from its highest seq",
          "[sqlite][schema]") {
  temp_database db;
  std::int64_t id = 0;
  {
    errand::sqlite_store store(db.path());
    id = store.enqueue({.kind = "flaky", .max_attempts = 5}, t0).id;
    for (int i = 0; i < 2; ++i) {
      const auto claimed = store.claim({"w", 30s, t0, {}});
      REQUIRE(claimed);
      REQUIRE(errand::report(store, id, errand::fail{claimed->attempt, "w", {"try again", "reported", true, {}}},
                             errand::retry_policy::immediate(), t0)
                  .applied());
    }
  }
  {
    // What version 3 had beside it: a counter on the job row, the seq of the job's latest record.
    raw_connection old_release(db.path());
    REQUIRE(old_release.execute(
                "ALTER TABLE errand_jobs ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"
                "UPDATE errand_jobs SET last_seq = (SELECT max(seq) FROM errand_history WHERE job_id = errand_jobs.id);"
                "DELETE FROM errand_schema_version WHERE version = 4") == SQLITE_OK);
    REQUIRE(old_release.text("SELECT last_seq FROM errand_jobs") == "4");
  }

  errand::sqlite_store store(db.path());
  raw_connection raw(db.path());
  CHECK(raw.text("SELECT group_concat(version) FROM errand_schema_version") == "1,2,3,4");
  CHECK(columns_of(raw, "errand_jobs") == members_of<errand::job>());
  REQUIRE(store.history(id).size() == 4);

  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  REQUIRE(errand::report(store, id, errand::succeed{claimed->attempt, "w"}, {}, t0).applied());
  std::vector<std::int64_t> seqs;
  for (const auto& record : store.history(id)) seqs.push_back(record.seq);
  CHECK(seqs == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});

  // Keeping the last two records keeps the two highest numbers.
  CHECK(store.prune({.keep_history = 2}).history_deleted == 4);
  seqs.clear();
  for (const auto& record : store.history(id)) seqs.push_back(record.seq);
  CHECK(seqs == std::vector<std::int64_t>{5, 6});
}

TEST_CASE("schema: a database written by a newer errand is refused and left untouched", "[sqlite][schema][bad-input]") {
  temp_database db;
  { errand::sqlite_store store(db.path()); }
  REQUIRE(raw_connection(db.path()).execute("INSERT INTO errand_schema_version VALUES (5, 'from the future', "
                                            "'2030-01-01T00:00:00.000000Z')") == SQLITE_OK);
  CHECK_THROWS_WITH(errand::sqlite_store(db.path()),
                    contains_text("says version 5, newer than this errand understands (4)"));
  CHECK(raw_connection(db.path()).text("SELECT count(*) FROM errand_schema_version") == "5");
}

// SQLite checks `state IN (five names)` by building a temporary b-tree of the
// names each time a statement writes the row; a third of a transition's cost.
TEST_CASE("schema: writing a job or its history checks its states without a temporary table", "[sqlite][schema]") {
  temp_database db;
  { errand::sqlite_store store(db.path()); }
  raw_connection raw(db.path());
  const auto program = [&](const std::string& statement) { return raw.text("EXPLAIN " + statement); };
  const std::string update = program("UPDATE errand_jobs SET state = 'running' WHERE id = 1");
  const std::string append = program(
      "INSERT INTO errand_history (job_id, seq, from_state, to_state, event, payload, attempt, worker, at) "
      "VALUES (1, 1, 'pending', 'running', 'claim', '{}', 1, 'w', '2026-01-01T00:00:00Z')");
  CHECK(update.find("|Halt|") != std::string::npos);  // the program was read
  CHECK(update.find("OpenEphemeral") == std::string::npos);
  CHECK(append.find("OpenEphemeral") == std::string::npos);
}

TEST_CASE("schema: the constraints refuse an unknown state and an empty last_error", "[sqlite][schema]") {
  temp_database db;
  {
    errand::sqlite_store store(db.path());
    store.enqueue({.kind = "work"}, t0);
  }
  raw_connection raw(db.path());
  CHECK(raw.execute("UPDATE errand_jobs SET state = 'exploded'") == SQLITE_CONSTRAINT);
  CHECK(raw.error().find("CHECK constraint failed") != std::string::npos);
  CHECK(raw.execute("INSERT INTO errand_history (job_id, seq, from_state, to_state, event, payload, attempt, at) "
                    "VALUES (1, 9, 'pending', 'exploded', 'claim', '{}', 1, '2026-01-01T00:00:00Z')") ==
        SQLITE_CONSTRAINT);
  CHECK(raw.execute("UPDATE errand_jobs SET last_error = ''") == SQLITE_CONSTRAINT);
  CHECK(raw.text("SELECT state, last_error IS NULL FROM errand_jobs") == "pending|1");
}
