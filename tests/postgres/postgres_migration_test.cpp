// Migrations: versioned, idempotent, safe when several sessions migrate at
// once, and able to upgrade a table that predates errand's error columns.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <latch>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();
// A time in the rows tests write by hand, as SQL.
const std::string at = "'2025-12-22T02:39:54Z'";

std::vector<std::string> column(const std::string& sql) {
  std::vector<std::string> out;
  for (const auto& row : pg_test::sql(sql)) out.push_back(row.at(0).value_or("NULL"));
  return out;
}

// A scratch schema as errand built it at `version`: the migrations up to it,
// which do not change once released.
struct schema_at_version {
  explicit schema_at_version(int version) {
    pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
    pg_test::sql(
        "CREATE TABLE " + t.schema_version +
        " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    for (const auto& m : errand::postgres_migrations(t)) {
      if (m.version > version) break;
      for (const auto& statement : m.statements) pg_test::sql(statement);
      pg_test::sql("INSERT INTO " + t.schema_version + " (version, description) VALUES (" + std::to_string(m.version) +
                   ", 'as errand wrote it')");
    }
  }
  pg_test::scratch_schema schema;
  errand::postgres_tables t = errand::postgres_tables_for(schema.name(), "errand_");
};

// How many foreign keys `table` (quoted and qualified) has: "0", "1", ...
std::vector<std::string> foreign_keys_of(const std::string& table) {
  return column("SELECT count(*) FROM pg_constraint WHERE conrelid = '" + table + "'::regclass AND contype = 'f'");
}

// "1", "2", ... up to the version this errand migrates to.
std::vector<std::string> every_version() {
  std::vector<std::string> out;
  for (int v = 1; v <= errand::postgres_schema_version; ++v) out.push_back(std::to_string(v));
  return out;
}

}  // namespace

TEST_CASE("migrations: a fresh schema is created at the current version, and again is a no-op", "[postgres][migrate]") {
  pg_test::scratch_schema schema;
  CHECK(errand::postgres_migrate(schema.options()) == errand::postgres_schema_version);
  const auto t = errand::postgres_tables_for(schema.name(), "errand_");
  CHECK(column("SELECT version FROM " + t.schema_version + " ORDER BY version") == every_version());
  CHECK(errand::postgres_migrate(schema.options()) == errand::postgres_schema_version);
  CHECK(column("SELECT count(*) FROM " + t.schema_version) ==
        std::vector<std::string>{std::to_string(errand::postgres_schema_version)});
  CHECK(column("SELECT indexname FROM pg_indexes WHERE schemaname = '" + schema.name() +
               "' AND indexname LIKE '%unique_key' ORDER BY indexname") ==
        std::vector<std::string>{"errand_jobs_by_unique_key"});
  CHECK(column("SELECT column_name FROM information_schema.columns WHERE table_schema = '" + schema.name() +
               "' AND table_name = 'errand_queues' ORDER BY ordinal_position") ==
        std::vector<std::string>{"queue", "paused", "max_running", "updated_at"});
  CHECK(
      column("SELECT data_type FROM information_schema.columns WHERE table_schema = '" + schema.name() +
             "' AND table_name = 'errand_jobs' AND column_name IN ('payload', 'run_at', 'id') ORDER BY column_name") ==
      std::vector<std::string>{"bigint", "json", "timestamp with time zone"});
  CHECK(column("SELECT data_type FROM information_schema.columns WHERE table_schema = '" + schema.name() +
               "' AND table_name = 'errand_history' AND column_name = 'payload'") == std::vector<std::string>{"jsonb"});
  CHECK(column("SELECT indexdef LIKE '%WHERE (state = ANY%' FROM pg_indexes WHERE schemaname = '" + schema.name() +
               "' AND indexname = 'errand_jobs_due_any_queue'") == std::vector<std::string>{"t"});
}

TEST_CASE("migrations: sessions migrating at the same moment migrate once", "[postgres][migrate][concurrency]") {
  pg_test::scratch_schema schema;
  constexpr int sessions = 8;
  std::latch start(sessions);
  std::vector<int> versions(sessions, 0);
  std::vector<std::string> errors(sessions);
  std::vector<std::thread> threads;
  for (int i = 0; i < sessions; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        // Half migrate directly, half by opening a store: both take the advisory lock.
        if (i % 2)
          versions[i] = errand::postgres_migrate(schema.options());
        else
          versions[i] = errand::postgres_store(schema.options()).enqueue({.kind = "work"}, t0).created
                            ? errand::postgres_schema_version
                            : 0;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < sessions; ++i) {
    INFO("session " << i << ": " << errors[i]);
    CHECK(errors[i].empty());
    CHECK(versions[i] == errand::postgres_schema_version);
  }
  const auto t = errand::postgres_tables_for(schema.name(), "errand_");
  CHECK(column("SELECT version FROM " + t.schema_version + " ORDER BY version") == every_version());
  CHECK(column("SELECT count(*) FROM " + t.jobs) == std::vector<std::string>{std::to_string(sessions / 2)});
}

TEST_CASE("migrations: a legacy table without error columns is upgraded; its rows read NULL", "[postgres][migrate]") {
  pg_test::scratch_schema schema;
  const auto t = errand::postgres_tables_for(schema.name(), "errand_");
  // The table as it was before errand stored why jobs fail (the work orders bug report): no
  // last_error, no history, no schema_version table.
  pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
  pg_test::sql("CREATE TABLE " + t.jobs +
               " (id BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, kind TEXT NOT NULL, payload JSON NOT NULL,"
               " state TEXT NOT NULL, priority INTEGER NOT NULL, attempt INTEGER NOT NULL,"
               " max_attempts INTEGER NOT NULL, run_at TIMESTAMPTZ NOT NULL, worker TEXT, lease_until TIMESTAMPTZ,"
               " heartbeat_at TIMESTAMPTZ, version BIGINT NOT NULL, unique_key TEXT,"
               " created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)");
  pg_test::sql("INSERT INTO " + t.jobs +
               " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, worker, version,"
               " created_at, updated_at) VALUES"
               " ('default', 'fresh', '{}', 'pending', 0, 0, 3, " +
               at + ", NULL, 1, " + at + ", " + at +
               "),"
               " ('default', 'flaky', '{\"n\":1}', 'retry_pending', 0, 2, 3, " +
               at + ", 'agent-7', 4, " + at + ", " + at +
               "),"
               " ('default', 'broken', '{}', 'failed', 0, 3, 3, " +
               at + ", 'agent-7', 7, " + at + ", " + at +
               "),"
               " ('default', 'odd', '{}', 'archived', 0, 1, 3, " +
               at + ", NULL, 2, " + at + ", " + at + ")");

  errand::postgres_store store(schema.options());
  CHECK(column("SELECT version FROM " + t.schema_version + " ORDER BY version") == every_version());

  const auto flaky = store.get(2);
  REQUIRE(flaky);
  CHECK(flaky->state == job_state::retry_pending);
  CHECK(flaky->attempt == 2);
  CHECK(flaky->payload == R"({"n":1})");
  CHECK_FALSE(flaky->last_error);
  CHECK_FALSE(flaky->last_error_kind);
  CHECK_FALSE(flaky->last_error_at);
  CHECK_FALSE(flaky->detail);
  CHECK(flaky->run_at == *errand::from_iso8601("2025-12-22T02:39:54Z"));
  CHECK_FALSE(store.get(3)->last_error);
  CHECK_THROWS_WITH(store.get(4), contains_text("job 4") && contains_text("'archived'"));

  // The legacy jobs work on: claimed in order, with history from seq 1.
  const auto first = store.claim({"w", 30s, t0, {}});
  REQUIRE(first);
  CHECK(first->id == 1);
  const auto second = store.claim({"w", 30s, t0, {}});
  REQUIRE(second);
  CHECK(second->id == 2);
  CHECK(second->attempt == 3);
  REQUIRE(errand::report(store, 2, errand::fail{3, "w", {"still broken", "reported", true, {}}}, {}, t0).applied());
  const auto history = store.history(2);
  REQUIRE(history.size() == 2);
  CHECK(history[0].seq == 1);
  CHECK(history[1].seq == 2);
  CHECK(store.get(2)->last_error == "still broken");
  CHECK(store.get(2)->state == job_state::failed);
  REQUIRE(errand::report(store, 3, errand::requeue{"operator retry", 1}, {}, t0).applied());
  CHECK(store.get(3)->state == job_state::pending);

  // New writes are held to the contract the old rows predate.
  CHECK_THROWS_WITH(pg_test::sql("UPDATE " + t.jobs + " SET state = 'failed', last_error = NULL WHERE id = 1"),
                    contains_text("jobs_failure_has_reason"));
}

TEST_CASE("migrations: a version 2 schema is upgraded: unique keys it holds still hold, queues can be paused",
          "[postgres][migrate]") {
  // Version 2 as errand built it: migrations 1 and 2, which have not changed since.
  const schema_at_version old(2);
  const auto& [schema, t] = old;
  pg_test::sql("INSERT INTO " + t.jobs +
               " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, worker, version, unique_key,"
               " created_at, updated_at) VALUES ('default', 'report', '{}', 'succeeded', 0, 1, 3, " +
               at + ", 'w', 3, 'nightly:2025-12-22', " + at + ", " + at + ")");
  CHECK(column("SELECT count(*) FROM pg_indexes WHERE schemaname = '" + schema.name() +
               "' AND indexname = 'errand_jobs_unique_key'") == std::vector<std::string>{"1"});

  errand::postgres_store store(schema.options());
  CHECK(column("SELECT version FROM " + t.schema_version + " ORDER BY version") == every_version());
  CHECK(column("SELECT indexname FROM pg_indexes WHERE schemaname = '" + schema.name() +
               "' AND indexname LIKE '%unique_key' ORDER BY indexname") ==
        std::vector<std::string>{"errand_jobs_by_unique_key"});

  // The old job keeps its key for as long as it exists, as under version 2 ...
  errand::job_spec nightly{.kind = "report", .unique_key = "nightly:2025-12-22"};
  CHECK(store.enqueue(nightly, t0) == errand::enqueued{1, false});
  // ... and a spec scoped to unfinished jobs finds it finished.
  nightly.unique_states = errand::unfinished_states;
  CHECK(store.enqueue(nightly, t0).created);
  CHECK(column("SELECT count(*) FROM " + t.jobs + " WHERE unique_key = 'nightly:2025-12-22'") ==
        std::vector<std::string>{"2"});

  store.pause_queue("default", t0);
  CHECK_FALSE(store.claim({"w", 30s, t0, {}}));
  CHECK(column("SELECT queue || ' ' || paused FROM " + t.queues) == std::vector<std::string>{"default true"});
}

TEST_CASE("migrations: a version 3 schema is upgraded: history goes on from its own highest seq",
          "[postgres][migrate]") {
  // Version 3 as errand built it, with the jobs' sequence counter on the row (last_seq).
  const schema_at_version old(3);
  // Job 1 is running its third attempt; prune kept its last two records. Job 2's were all pruned.
  pg_test::sql("INSERT INTO " + old.t.jobs +
               " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, worker, lease_until,"
               " heartbeat_at, version, created_at, updated_at, last_seq) VALUES"
               " ('default', 'flaky', '{}', 'running', 0, 3, 3, '2025-12-22T02:39:54Z', 'w', '2025-12-22T02:39:54Z',"
               "  '2025-12-22T02:39:54Z', 6, '2025-12-22T02:39:54Z', '2025-12-22T02:39:54Z', 5),"
               " ('default', 'fresh', '{}', 'pending', 0, 0, 3, '2025-12-22T02:39:54Z', NULL, NULL, NULL, 2,"
               "  '2025-12-22T02:39:54Z', '2025-12-22T02:39:54Z', 3)");
  pg_test::sql("INSERT INTO " + old.t.history +
               " (job_id, seq, from_state, to_state, event, payload, attempt, worker, at) VALUES"
               " (1, 4, 'running', 'retry_pending', 'fail', '{}', 2, 'w', '2025-12-22T02:39:54Z'),"
               " (1, 5, 'retry_pending', 'running', 'claim', '{}', 3, 'w', '2025-12-22T02:39:54Z')");

  errand::postgres_store store(old.schema.options());
  CHECK(column("SELECT version FROM " + old.t.schema_version + " ORDER BY version") == every_version());
  CHECK(column("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + old.schema.name() +
               "' AND table_name = 'errand_jobs' AND column_name = 'last_seq'") == std::vector<std::string>{"0"});

  REQUIRE(errand::report(store, 1, errand::succeed{3, "w"}, {}, t0).applied());
  const auto kept = store.history(1);
  REQUIRE(kept.size() == 3);
  CHECK(kept[2].seq == 6);
  CHECK(kept[2].to == job_state::succeeded);

  // A job with no history left starts its sequence again; nothing it held is overwritten.
  REQUIRE(store.claim({"w", 30s, t0, {}}));
  const auto fresh = store.history(2);
  REQUIRE(fresh.size() == 1);
  CHECK(fresh[0].seq == 1);
  CHECK(fresh[0].to == job_state::running);
}

TEST_CASE("migrations: a version 4 schema is upgraded: its history loses the foreign key, and keeps its rows",
          "[postgres][migrate]") {
  const schema_at_version old(4);
  REQUIRE(foreign_keys_of(old.t.history) == std::vector<std::string>{"1"});
  pg_test::sql("INSERT INTO " + old.t.jobs +
               " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version, created_at,"
               " updated_at) VALUES ('default', 'mail', '{}', 'pending', 0, 0, 3, " +
               at + ", 1, " + at + ", " + at + ")");
  pg_test::sql("INSERT INTO " + old.t.history +
               " (job_id, seq, from_state, to_state, event, payload, attempt, at) VALUES"
               " (1, 1, 'pending', 'pending', 'enqueue', '{}', 0, " +
               at + ")");

  errand::postgres_store store(old.schema.options());
  CHECK(column("SELECT version FROM " + old.t.schema_version + " ORDER BY version") == every_version());
  CHECK(foreign_keys_of(old.t.history) == std::vector<std::string>{"0"});
  REQUIRE(store.claim({"w", 30s, t0, {}}));
  REQUIRE(errand::report(store, 1, errand::succeed{1, "w"}, {}, t0).applied());
  const auto history = store.history(1);
  REQUIRE(history.size() == 3);
  CHECK(history[0].event == "enqueue");
  CHECK(history[2].seq == 3);
  CHECK(history[2].to == job_state::succeeded);

  pg_test::scratch_schema fresh;
  errand::postgres_migrate(fresh.options());
  CHECK(foreign_keys_of(errand::postgres_tables_for(fresh.name(), "errand_").history) ==
        std::vector<std::string>{"0"});
}

TEST_CASE("migrations: a schema newer than this errand is refused, untouched", "[postgres][migrate]") {
  pg_test::scratch_schema schema;
  errand::postgres_migrate(schema.options());
  const auto t = errand::postgres_tables_for(schema.name(), "errand_");
  const auto future = std::to_string(errand::postgres_schema_version + 1);
  pg_test::sql("INSERT INTO " + t.schema_version + " (version, description) VALUES (" + future +
               ", 'from the future')");
  CHECK_THROWS_WITH(errand::postgres_store(schema.options()),
                    contains_text("schema version " + future + ", newer than this errand knows (" +
                                              std::to_string(errand::postgres_schema_version) + ")"));
  CHECK(column("SELECT count(*) FROM " + t.schema_version) == std::vector<std::string>{future});
}

TEST_CASE("migrations: a database whose encoding is not UTF8 is refused before anything is created",
          "[postgres][migrate][bad-input]") {
  for (const std::string encoding : {"LATIN1", "SQL_ASCII"}) {
    INFO(encoding);
    pg_test::scratch_database database(encoding);
    errand::postgres_options options;
    options.url = database.url();
    const auto names_encoding = contains_text("errand: database \"" + database.name() + "\" has server encoding " +
                                              encoding + "; errand stores UTF-8 text and needs a UTF8 database");
    const auto nothing_changed = contains_text("nothing was created or changed");
    CHECK_THROWS_WITH(errand::postgres_store(options), names_encoding && nothing_changed);
    CHECK_THROWS_WITH(errand::postgres_migrate(options), names_encoding && nothing_changed);
    options.migrate = false;
    CHECK_THROWS_WITH(errand::postgres_store(options), names_encoding && nothing_changed);
    CHECK(database.relations() == "0");
  }
}
