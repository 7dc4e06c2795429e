// errand::sqlite_record_store beyond the record conformance suite: the tables
// it builds from a row type, adopting a table the application already has,
// rows it cannot read, reopening and two stores on one file, and writing
// inside the application's own transaction (records and jobs): everything
// there if it commits, nothing of errand's if it rolls back.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/conformance/record_machines.hpp>
#include <errand/sqlite.hpp>
#include <errand/sqlite/sqlite_record_store.hpp>
#include <errand/sqlite/sqlite_transaction.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::conformance::chat;
using errand::conformance::chat_status;
using errand::conformance::chats;
using errand::conformance::deployment;
using errand::conformance::deployment_state;
using errand::conformance::deployments;
using errand::conformance::order_state;
using errand::conformance::work_order;
using errand::conformance::work_orders;
namespace chat_events = errand::conformance::chat_events;
namespace order_events = errand::conformance::order_events;
namespace deployment_events = errand::conformance::deployment_events;

using chat_store = errand::sqlite_record_store<chats>;
using order_store = errand::sqlite_record_store<work_orders>;

const errand::time_point t0 = *errand::from_iso8601("2026-11-30T10:00:00.000000Z");

chat new_chat(std::string title = "support request") {
  chat c;
  c.title = std::move(title);
  return c;
}

deployment new_deployment(std::string revision, std::int64_t id = 0) {
  deployment d;
  d.id = id;
  d.service = "api";
  d.revision = std::move(revision);
  return d;
}

// Every table and index of the file with its SQL: what "nothing was changed" compares.
std::string schema_of(raw_connection& db) { return db.text("SELECT type, name, sql FROM sqlite_master ORDER BY name"); }

std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no exception";
}

// The table an application already has for its work orders: the columns the
// definition maps ("order_status", "on_hold_because"), two of its own
// ("customer", "notes"), no lock_version and no CHECK.
const std::string existing_orders_table =
    "CREATE TABLE conformance_work_orders (id INTEGER PRIMARY KEY, order_status TEXT NOT NULL, "
    "priority INTEGER NOT NULL, estimate_minutes INTEGER, due TEXT, crew TEXT, cost REAL NOT NULL, "
    "urgent INTEGER NOT NULL, on_hold_because TEXT, held_at TEXT, customer TEXT NOT NULL DEFAULT 'walk-in', "
    "notes TEXT)";

}  // namespace

static_assert(errand::record_store<chat_store>);
static_assert(errand::record_store<order_store>);

// --- the tables ---------------------------------------------------------------

TEST_CASE("sqlite records: a new table has one column per field, typed by its kind", "[sqlite][records]") {
  temp_database db;
  order_store store(db.path());
  raw_connection raw(db.path());
  CHECK(raw.text("SELECT name, type, \"notnull\", pk FROM pragma_table_info('conformance_work_orders')") ==
        "id|INTEGER|0|1\n"
        "order_status|TEXT|1|0\n"
        "priority|INTEGER|1|0\n"
        "estimate_minutes|INTEGER|0|0\n"
        "due|TEXT|0|0\n"
        "crew|TEXT|0|0\n"
        "cost|REAL|1|0\n"
        "urgent|INTEGER|1|0\n"
        "on_hold_because|TEXT|0|0\n"
        "held_at|TEXT|0|0\n"
        "lock_version|INTEGER|1|0");
  CHECK(raw.text("SELECT name, type, \"notnull\", pk FROM pragma_table_info('conformance_work_orders_history')") ==
        "record_id|INTEGER|1|1\n"
        "seq|INTEGER|1|2\n"
        "from_state|TEXT|1|0\n"
        "to_state|TEXT|1|0\n"
        "event|TEXT|1|0\n"
        "payload|TEXT|1|0\n"
        "idempotency_key|TEXT|0|0\n"
        "at|TEXT|1|0");
  CHECK(raw.text("SELECT record_table, version FROM errand_record_schema_version") == "conformance_work_orders|1");

  // Values as the sqlite3 shell shows them: names, ISO-8601 times, 0/1.
  work_order fresh;
  fresh.priority = 3;
  fresh.cost = 1.5;
  fresh.urgent = true;
  const auto order = store.create(fresh, t0);
  store.fire(order.id, order_events::schedule{t0 + 48h, errand::conformance::crew_kind::plumbing}, t0);
  CHECK(raw.text("SELECT id, order_status, priority, estimate_minutes, due, crew, cost, urgent, on_hold_because, "
                 "lock_version FROM conformance_work_orders") ==
        "1|scheduled|3|NULL|2026-12-02T10:00:00.000000Z|plumbing|1.5|1|NULL|2");
  CHECK(raw.text("SELECT seq, from_state, to_state, event, payload, at FROM conformance_work_orders_history") ==
        "1|open|open|create|{}|2026-11-30T10:00:00.000000Z\n"
        "2|open|scheduled|schedule|{\"due\":\"2026-12-02T10:00:00.000000Z\",\"crew\":\"plumbing\"}|"
        "2026-11-30T10:00:00.000000Z");
}

TEST_CASE("sqlite records: CHECK constraints refuse a state, an enum value or a boolean no field can hold",
          "[sqlite][records]") {
  temp_database db;
  order_store store(db.path());
  const auto order = store.create(work_order{}, t0);
  raw_connection raw(db.path());
  const auto refused = [&](const std::string& sql) {
    CHECK(raw.execute(sql) == SQLITE_CONSTRAINT);
    return raw.error();
  };
  CHECK_THAT(refused("UPDATE conformance_work_orders SET order_status = 'exploded'"),
             contains_text("CHECK constraint failed"));
  CHECK_THAT(refused("UPDATE conformance_work_orders SET crew = 'astronauts'"), contains_text("crew"));
  CHECK_THAT(refused("UPDATE conformance_work_orders SET urgent = 2"), contains_text("urgent"));
  CHECK_THAT(refused("INSERT INTO conformance_work_orders_history VALUES (1, 2, 'open', 'gone', 'x', '{}', NULL, "
                     "'2026-11-30T10:00:00.000000Z')"),
             contains_text("to_state"));
  CHECK_THAT(refused("UPDATE conformance_work_orders SET priority = NULL"), contains_text("NOT NULL"));
  CHECK(store.get(order.id) == order);
  CHECK(store.history(order.id).size() == 1);
}

TEST_CASE("sqlite records: writing a record or its history checks its enums without a temporary table",
          "[sqlite][records]") {
  temp_database db;
  order_store store(db.path());
  raw_connection raw(db.path());
  const std::string update =
      raw.text("EXPLAIN UPDATE conformance_work_orders SET order_status = 'scheduled', crew = 'plumbing' WHERE id = 1");
  const std::string append = raw.text(
      "EXPLAIN INSERT INTO conformance_work_orders_history VALUES (1, 2, 'open', 'scheduled', 'x', '{}', NULL, "
      "'2026-11-30T10:00:00.000000Z')");
  CHECK(update.find("|Halt|") != std::string::npos);  // the program was read
  CHECK(update.find("OpenEphemeral") == std::string::npos);
  CHECK(append.find("OpenEphemeral") == std::string::npos);
}

TEST_CASE("sqlite records: reopening keeps records and history, and migrates nothing again", "[sqlite][records]") {
  temp_database db;
  chat created;
  std::vector<errand::history_entry<chat_status>> history;
  {
    chat_store store(db.path());
    created = store.create(new_chat(), t0);
    store.fire(created.id, chat_events::acquire{"w1"}, t0 + 1s);
    store.fire(created.id, chat_events::processing_failed{"model timed out"}, t0 + 2s, {.idempotency_key = "k1"});
    history = store.history(created.id);
  }
  chat_store reopened(db.path());
  const auto row = reopened.get(created.id);
  REQUIRE(row);
  CHECK(row->status == chat_status::error);
  CHECK(row->last_error == "model timed out");
  CHECK(row->last_error_at == t0 + 2s);
  CHECK(row->version == 3);
  CHECK(reopened.history(created.id) == history);
  // The key is remembered across the reopening.
  CHECK(reopened.fire(created.id, chat_events::processing_failed{"again"}, t0 + 3s, {.idempotency_key = "k1"}).status ==
        errand::fire_status::duplicate);
  CHECK(raw_connection(db.path()).text("SELECT count(*) FROM errand_record_schema_version") == "1");
}

TEST_CASE("sqlite records: two stores on one file see each other's commits and never both win a version",
          "[sqlite][records]") {
  temp_database db;
  chat_store first(db.path());
  chat_store second(db.path());
  const auto created = first.create(new_chat(), t0);
  CHECK(second.get(created.id) == created);
  const auto acquired = second.fire(created.id, chat_events::acquire{"w2"}, t0 + 1s);
  REQUIRE(acquired.status == errand::fire_status::applied);
  CHECK(first.get(created.id) == acquired.row);

  // Both read version 2; the first to write wins, the other is told.
  const auto won = first.fire(created.id, chat_events::turn_done{}, t0 + 2s, {.expected_version = 2});
  const auto lost = second.fire(created.id, chat_events::processing_failed{"late"}, t0 + 2s, {.expected_version = 2});
  CHECK(won.status == errand::fire_status::applied);
  CHECK(lost.status == errand::fire_status::conflict);
  CHECK(lost.row->version == 3);
  std::vector<std::int64_t> seqs;
  for (const auto& entry : second.history(created.id)) seqs.push_back(entry.seq);
  CHECK(seqs == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("sqlite records: ids are SQLite's, never reused after prune; an explicit id is kept, once",
          "[sqlite][records]") {
  temp_database db;
  errand::sqlite_record_store<deployments> store(db.path());
  const auto first = store.create(new_deployment("a1"), t0);
  auto second = store.create(new_deployment("a2"), t0);
  CHECK(second.id == first.id + 1);
  store.fire(second.id, deployment_events::deploy{}, t0);
  store.fire(second.id, deployment_events::went_live{}, t0);
  CHECK(store.prune({.unchanged_since = t0 + 1h}) == errand::record_prune_result{1, 3});
  CHECK(store.create(new_deployment("a3"), t0).id == second.id + 1);

  CHECK(store.create(new_deployment("b1", 42), t0).id == 42);
  CHECK(message_of([&] { store.create(new_deployment("b2", 42), t0); }) ==
        "errand: conformance_deployments record 42 exists already; nothing was written");
  CHECK(store.get(42)->revision == "b1");
  CHECK(store.history(42).size() == 1);
  CHECK(store.create(new_deployment("b3"), t0).id == 43);
}

TEST_CASE("sqlite records: a record schema version newer than this errand is refused", "[sqlite][records]") {
  temp_database db;
  { chat_store store(db.path()); }
  raw_connection raw(db.path());
  REQUIRE(raw.execute("INSERT INTO errand_record_schema_version VALUES ('conformance_chats', 2, 'future', "
                      "'2030-01-01T00:00:00.000000Z')") == SQLITE_OK);
  CHECK(message_of([&] { chat_store store(db.path()); }) ==
        "errand sqlite: cannot open '" + db.path() +
            "': errand_record_schema_version says table 'conformance_chats' is at version 2, newer than this "
            "errand understands (1); refusing to write to it");
}

TEST_CASE("sqlite records: an adopted connection is used, not closed or configured", "[sqlite][records]") {
  temp_database db;
  raw_connection app(db.path());
  {
    chat_store store(errand::adopt_connection, app.handle());
    store.create(new_chat(), t0);
  }
  CHECK(app.text("SELECT title FROM conformance_chats") == "support request");
  CHECK(app.text("PRAGMA journal_mode") == "delete");
  CHECK_THROWS_AS(chat_store(errand::adopt_connection, nullptr), std::invalid_argument);
}

// --- adopting an existing table -----------------------------------------------

TEST_CASE("sqlite records: an existing table is adopted: its rows, other columns and constraints stay",
          "[sqlite][records]") {
  temp_database db;
  raw_connection raw(db.path());
  REQUIRE(raw.execute(existing_orders_table) == SQLITE_OK);
  REQUIRE(raw.execute("INSERT INTO conformance_work_orders (id, order_status, priority, cost, urgent, customer, notes) "
                      "VALUES (7, 'open', 1, 0.0, 0, 'acme', 'call first'), "
                      "(8, 'in_progress', 2, 12.5, 1, 'globex', NULL)") == SQLITE_OK);
  const std::string table_sql = raw.text("SELECT sql FROM sqlite_master WHERE name = 'conformance_work_orders'");

  order_store store(db.path());

  // The version column was missing: added, and every existing row is at version 1.
  CHECK(raw.text("SELECT id, lock_version FROM conformance_work_orders ORDER BY id") == "7|1\n8|1");
  // Nothing but that column: no CHECK, no other change to the table.
  CHECK(raw.text("SELECT sql FROM sqlite_master WHERE name = 'conformance_work_orders'") ==
        table_sql.substr(0, table_sql.size() - 1) + ", \"lock_version\" INTEGER NOT NULL DEFAULT 1)");

  const auto existing = store.get(8);
  REQUIRE(existing);
  CHECK(existing->state == order_state::in_progress);
  CHECK(existing->cost == 12.5);
  CHECK(existing->urgent);
  CHECK(existing->lock_version == 1);
  CHECK(store.history(8).empty());  // rows errand did not write have no history

  const auto held = store.fire(8, order_events::hold{"waiting for parts"}, t0);
  REQUIRE(held.status == errand::fire_status::applied);
  CHECK(held.entry->seq == 1);
  CHECK(raw.text("SELECT order_status, on_hold_because, held_at, lock_version, customer FROM conformance_work_orders "
                 "WHERE id = 8") == "on_hold|waiting for parts|2026-11-30T10:00:00.000000Z|2|globex");

  // A new record takes the next id and the application's defaults for its own columns.
  work_order fresh;
  fresh.priority = 5;
  const auto created = store.create(fresh, t0);
  CHECK(created.id == 9);
  CHECK(raw.text("SELECT customer, notes FROM conformance_work_orders WHERE id = 9") == "walk-in|NULL");
  CHECK(raw.text("SELECT notes FROM conformance_work_orders WHERE id = 7") == "call first");

  // Opening it again changes nothing more.
  const std::string adopted = schema_of(raw);
  { order_store again(db.path()); }
  CHECK(schema_of(raw) == adopted);
}

TEST_CASE("sqlite records: an existing table missing a mapped column is refused, and nothing is changed",
          "[sqlite][records]") {
  temp_database db;
  raw_connection raw(db.path());
  // "hold_reason" where the definition maps the field to "on_hold_because".
  REQUIRE(raw.execute("CREATE TABLE conformance_work_orders (id INTEGER PRIMARY KEY, order_status TEXT NOT NULL, "
                      "priority INTEGER NOT NULL, estimate_minutes INTEGER, due TEXT, crew TEXT, cost REAL NOT NULL, "
                      "urgent INTEGER NOT NULL, hold_reason TEXT, held_at TEXT)") == SQLITE_OK);
  REQUIRE(raw.execute("INSERT INTO conformance_work_orders (order_status, priority, cost, urgent) VALUES "
                      "('open', 1, 0, 0)") == SQLITE_OK);
  const std::string before = schema_of(raw);

  CHECK(message_of([&] { order_store store(db.path()); }) ==
        "errand sqlite: cannot open '" + db.path() +
            "': table 'conformance_work_orders' has no column 'on_hold_because' for the record's field "
            "'hold_reason'; nothing was changed");
  CHECK(schema_of(raw) == before);
  CHECK(raw.text("SELECT count(*) FROM conformance_work_orders") == "1");
}

TEST_CASE("sqlite records: an existing table whose id is not its INTEGER PRIMARY KEY is refused", "[sqlite][records]") {
  temp_database db;
  raw_connection raw(db.path());
  REQUIRE(raw.execute("CREATE TABLE conformance_chats (id TEXT PRIMARY KEY, status TEXT, title TEXT, worker TEXT, "
                      "heartbeat_at TEXT, last_error TEXT, last_error_at TEXT, version INTEGER)") == SQLITE_OK);
  const std::string before = schema_of(raw);
  CHECK(message_of([&] { chat_store store(db.path()); }) ==
        "errand sqlite: cannot open '" + db.path() +
            "': table 'conformance_chats' column 'id' (the record's field 'id') is not the table's INTEGER "
            "PRIMARY KEY, which errand needs to assign ids; nothing was changed");
  CHECK(schema_of(raw) == before);
}

// --- rows errand cannot read --------------------------------------------------

TEST_CASE("sqlite records: a row written by hand that no field can take is a corrupt_record naming the column",
          "[sqlite][records]") {
  temp_database db;
  order_store store(db.path());
  const auto order = store.create(work_order{}, t0);
  raw_connection raw(db.path());
  const auto corrupt = [&](const std::string& set) {
    REQUIRE(raw.execute("PRAGMA ignore_check_constraints = ON; UPDATE conformance_work_orders SET " + set +
                        "; PRAGMA ignore_check_constraints = OFF") == SQLITE_OK);
    std::string message;
    try {
      store.get(order.id);
    } catch (const errand::corrupt_record& e) {
      CHECK(e.id == order.id);
      message = e.what();
    }
    CHECK_THROWS_AS(store.query({}), errand::corrupt_record);
    // A fire cannot decide on it either, and writes nothing.
    CHECK_THROWS_AS(store.fire(order.id, order_events::cancel{"no"}, t0), errand::corrupt_record);
    CHECK(store.history(order.id).size() == 1);
    REQUIRE(raw.execute("UPDATE conformance_work_orders SET order_status = 'open', due = NULL, priority = 0, "
                        "cost = 0, crew = NULL") == SQLITE_OK);
    return message;
  };
  const std::string prefix = "errand: conformance_work_orders record 1 cannot be read: column ";
  CHECK(corrupt("order_status = 'exploded'") ==
        prefix + "'order_status' holds 'exploded', which is not one of its enum's names");
  CHECK(corrupt("due = 'next tuesday'") == prefix + "'due' holds 'next tuesday', which is not an ISO-8601 UTC time");
  CHECK(corrupt("priority = 'high'") == prefix + "'priority' holds something that is not an integer");
  CHECK(corrupt("priority = 9999999999") == prefix + "'priority' holds 9999999999, out of its field's range");
  CHECK(corrupt("cost = X'00ff'") == prefix + "'cost' holds a blob");
  CHECK(store.get(order.id) == order);
}

TEST_CASE("sqlite records: a history entry written by hand that cannot be read names the entry and column",
          "[sqlite][records]") {
  temp_database db;
  chat_store store(db.path());
  const auto created = store.create(new_chat(), t0);
  raw_connection raw(db.path());
  REQUIRE(raw.execute("UPDATE conformance_chats_history SET at = 'later'") == SQLITE_OK);
  std::string message;
  try {
    store.history(created.id);
  } catch (const errand::corrupt_record& e) {
    CHECK(e.id == created.id);
    message = e.what();
  }
  CHECK(message ==
        "errand: conformance_chats_history record 1 cannot be read: history entry 1: column 'at' holds 'later', "
        "which is not an ISO-8601 UTC time");
}

TEST_CASE("sqlite records: an UPDATE a trigger refuses is a store_error, and nothing is written", "[sqlite][records]") {
  temp_database db;
  chat_store store(db.path());
  const auto created = store.create(new_chat(), t0);
  raw_connection raw(db.path());
  REQUIRE(raw.execute("CREATE TRIGGER frozen BEFORE UPDATE ON conformance_chats BEGIN SELECT RAISE(IGNORE); END") ==
          SQLITE_OK);
  CHECK(message_of([&] { store.fire(created.id, chat_events::acquire{"w1"}, t0); }) ==
        "errand sqlite: the UPDATE of conformance_chats record 1 at version 1 changed no row: a trigger on the "
        "table refused it; nothing was written");
  CHECK(store.get(created.id) == created);
  CHECK(store.history(created.id).size() == 1);
}

// --- the application's own transaction ----------------------------------------

namespace {

// A database with the application's "orders" table beside errand's chats and jobs.
struct shop {
  temp_database db;
  chat_store chats{db.path()};
  errand::sqlite_store jobs{db.path()};
  raw_connection app{db.path()};
  std::vector<errand::record_notification<errand::conformance::chats>> heard;
  errand::subscription listening = chats.subscribe([this](const auto& n) { heard.push_back(n); });

  shop() { REQUIRE(app.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)") == SQLITE_OK); }

  std::string count(const std::string& table) { return app.text("SELECT count(*) FROM " + table); }
  void run(const std::string& sql) { REQUIRE(app.execute(sql) == SQLITE_OK); }
};

errand::job_spec order_job(std::string key = "order-1") {
  errand::job_spec spec;
  spec.kind = "send_confirmation";
  spec.unique_key = std::move(key);
  return spec;
}

}  // namespace

TEST_CASE("sqlite records: create, fire and enqueue in the application's transaction commit with it",
          "[sqlite][records][app-transaction]") {
  shop s;
  s.run("BEGIN IMMEDIATE");
  s.run("INSERT INTO orders (total) VALUES (120)");
  const auto created = s.chats.create(s.app.handle(), new_chat("order 1"), t0);
  const auto acquired = s.chats.fire(s.app.handle(), created.id, chat_events::acquire{"w1"}, t0 + 1s);
  const auto job = s.jobs.enqueue(s.app.handle(), order_job(), t0);
  REQUIRE(acquired.status == errand::fire_status::applied);
  CHECK(job.created);
  // Not committed yet: another connection sees none of it.
  CHECK_FALSE(s.chats.get(created.id));
  CHECK_FALSE(s.jobs.get(job.id));
  s.run("COMMIT");

  CHECK(s.chats.get(created.id) == acquired.row);
  const auto history = s.chats.history(created.id);
  REQUIRE(history.size() == 2);
  CHECK(history[0].event == "create");
  CHECK(history[1] == *acquired.entry);
  CHECK(s.jobs.get(job.id)->state == errand::job_state::pending);
  CHECK(s.jobs.history(job.id).empty());  // an enqueue writes no history, in any transaction
  CHECK(s.count("orders") == "1");
  // Subscribers are told only through an sqlite_transaction (below): the store cannot know when this one commits.
  CHECK(s.heard.empty());
}

TEST_CASE("sqlite records: when the application's transaction rolls back, nothing of errand's is left",
          "[sqlite][records][app-transaction]") {
  shop s;
  const auto existing = s.chats.create(new_chat("before"), t0);
  s.heard.clear();
  const std::string ids_before = s.app.text("SELECT name, seq FROM sqlite_sequence ORDER BY name");

  s.run("BEGIN IMMEDIATE");
  s.run("INSERT INTO orders (total) VALUES (120)");
  s.chats.create(s.app.handle(), new_chat("order 1"), t0);
  REQUIRE(s.chats.fire(s.app.handle(), existing.id, chat_events::acquire{"w1"}, t0, {.idempotency_key = "k1"}).status ==
          errand::fire_status::applied);
  REQUIRE(s.jobs.enqueue(s.app.handle(), order_job(), t0).created);
  s.run("ROLLBACK");

  CHECK(s.count("orders") == "0");
  CHECK(s.count("conformance_chats") == "1");
  CHECK(s.chats.get(existing.id) == existing);
  CHECK(s.chats.history(existing.id).size() == 1);
  CHECK(s.count("conformance_chats_history") == "1");
  CHECK(s.count("errand_jobs") == "0");
  CHECK(s.app.text("SELECT name, seq FROM sqlite_sequence ORDER BY name") == ids_before);
  CHECK(s.heard.empty());
  // The idempotency key and the unique key went with the transaction.
  CHECK(s.chats.fire(existing.id, chat_events::acquire{"w1"}, t0, {.idempotency_key = "k1"}).status ==
        errand::fire_status::applied);
  CHECK(s.jobs.enqueue(order_job(), t0).created);
}

TEST_CASE("sqlite records: outside a transaction of the application's, the overloads refuse and write nothing",
          "[sqlite][records][app-transaction]") {
  shop s;
  const auto existing = s.chats.create(new_chat(), t0);
  CHECK(message_of([&] { s.chats.create(s.app.handle(), new_chat(), t0); }) ==
        "errand sqlite: create on the application's connection runs inside the application's own transaction, and "
        "none is open there (BEGIN first); nothing was written");
  CHECK_THROWS_AS(s.chats.fire(s.app.handle(), existing.id, chat_events::acquire{"w1"}, t0), std::invalid_argument);
  CHECK_THROWS_AS(s.jobs.enqueue(s.app.handle(), order_job(), t0), std::invalid_argument);
  CHECK_THROWS_AS(s.chats.create(static_cast<sqlite3*>(nullptr), new_chat(), t0), std::invalid_argument);
  CHECK(s.count("conformance_chats") == "1");
  CHECK(s.chats.get(existing.id) == existing);
  CHECK(s.count("errand_jobs") == "0");
}

TEST_CASE("sqlite records: a refused or failed errand write leaves the application's transaction as it was",
          "[sqlite][records][app-transaction]") {
  shop s;
  const auto existing = s.chats.create(new_chat(), t0);
  // Makes the history INSERT of a create fail after its row INSERT succeeded.
  s.run(
      "CREATE TRIGGER refuse_creates BEFORE INSERT ON conformance_chats_history WHEN NEW.event = 'create' "
      "BEGIN SELECT RAISE(ABORT, 'creates are closed'); END");

  s.run("BEGIN IMMEDIATE");
  s.run("INSERT INTO orders (total) VALUES (1)");
  CHECK(s.chats.fire(s.app.handle(), 999, chat_events::acquire{"w1"}, t0).status == errand::fire_status::not_found);
  CHECK(s.chats.fire(s.app.handle(), existing.id, chat_events::turn_done{}, t0).status ==
        errand::fire_status::rejected);
  auto clash = new_chat("clash");
  clash.id = existing.id;
  CHECK_THROWS_AS(s.chats.create(s.app.handle(), clash, t0), errand::store_error);
  auto running = new_chat("running");
  running.status = chat_status::running;
  CHECK_THROWS_AS(s.chats.create(s.app.handle(), running, t0), std::invalid_argument);
  CHECK_THROWS_WITH(s.chats.create(s.app.handle(), new_chat("half written"), t0),
                    contains_text("creates are closed"));
  CHECK_THROWS_AS(s.jobs.enqueue(s.app.handle(), errand::job_spec{}, t0), std::invalid_argument);
  // Still the application's transaction, with its own write and nothing of the failed ones.
  CHECK(sqlite3_get_autocommit(s.app.handle()) == 0);
  CHECK(s.count("conformance_chats") == "1");
  s.run("INSERT INTO orders (total) VALUES (2)");
  s.run("COMMIT");

  CHECK(s.count("orders") == "2");
  CHECK(s.count("conformance_chats") == "1");
  CHECK(s.chats.get(existing.id) == existing);
  CHECK(s.count("conformance_chats_history") == "1");
}

TEST_CASE(
    "sqlite records: a deferred application transaction overtaken by another writer is refused, and can "
    "run again",
    "[sqlite][records][app-transaction]") {
  shop s;
  const auto created = s.chats.create(new_chat(), t0);
  s.run("BEGIN");  // deferred: reads from a snapshot until its first write
  CHECK(s.count("conformance_chats") == "1");
  // Another connection moves the chat after that snapshot was taken.
  REQUIRE(s.chats.fire(created.id, chat_events::acquire{"w1"}, t0).status == errand::fire_status::applied);
  // Its snapshot still shows the chat pending, where acquire is legal; the write is refused.
  CHECK_THROWS_WITH(s.chats.fire(s.app.handle(), created.id, chat_events::acquire{"w2"}, t0),
                    contains_text("database is locked (SQLite code 517)"));
  CHECK(sqlite3_get_autocommit(s.app.handle()) == 0);  // still the application's to end
  s.run("ROLLBACK");
  CHECK(s.chats.history(created.id).size() == 2);

  s.run("BEGIN");
  CHECK(s.chats.fire(s.app.handle(), created.id, chat_events::turn_done{}, t0).status == errand::fire_status::applied);
  s.run("COMMIT");
  CHECK(s.chats.get(created.id)->status == chat_status::waiting);
  CHECK(s.chats.history(created.id).size() == 3);
}

TEST_CASE(
    "sqlite records: through an sqlite_transaction, subscribers hear of a commit after it, and never of a "
    "rollback",
    "[sqlite][records][app-transaction]") {
  shop s;
  const auto existing = s.chats.create(new_chat("before"), t0);
  s.heard.clear();
  // What a subscriber sees when it is told: the commit is visible to every connection.
  std::vector<bool> visible;
  const auto looking = s.chats.subscribe([&](const auto& n) { visible.push_back(s.chats.get(n.row.id) == n.row); });

  SECTION("commit") {
    errand::sqlite_transaction tx(s.app.handle());
    REQUIRE(sqlite3_exec(tx.handle(), "INSERT INTO orders (total) VALUES (5)", nullptr, nullptr, nullptr) == SQLITE_OK);
    const auto created = s.chats.create(tx, new_chat("order 5"), t0);
    const auto acquired = s.chats.fire(tx, existing.id, chat_events::acquire{"w1"}, t0 + 1s);
    const auto refused = s.chats.fire(tx, existing.id, chat_events::acquire{"w2"}, t0 + 2s);
    const auto job = s.jobs.enqueue(tx.handle(), order_job(), t0);
    CHECK(refused.status == errand::fire_status::rejected);
    CHECK(s.heard.empty());
    tx.commit();

    REQUIRE(s.heard.size() == 2);
    CHECK(s.heard[0].row == created);
    CHECK(s.heard[0].entry.event == "create");
    CHECK(s.heard[1].row == *acquired.row);
    CHECK(s.heard[1].entry == *acquired.entry);
    CHECK(visible == std::vector<bool>{true, true});
    CHECK(s.jobs.get(job.id));
    CHECK(s.count("orders") == "1");
  }
  SECTION("rollback by leaving the scope") {
    {
      errand::sqlite_transaction tx(s.app.handle());
      s.chats.create(tx, new_chat("order 5"), t0);
      s.chats.fire(tx, existing.id, chat_events::acquire{"w1"}, t0 + 1s);
      s.jobs.enqueue(tx.handle(), order_job(), t0);
    }
    CHECK(s.heard.empty());
    CHECK(visible.empty());
    CHECK(s.count("conformance_chats") == "1");
    CHECK(s.count("conformance_chats_history") == "1");
    CHECK(s.count("errand_jobs") == "0");
    CHECK(sqlite3_get_autocommit(s.app.handle()) == 1);
  }
  SECTION("rollback()") {
    errand::sqlite_transaction tx(s.app.handle());
    s.chats.fire(tx, existing.id, chat_events::acquire{"w1"}, t0 + 1s);
    tx.rollback();
    CHECK(s.heard.empty());
    CHECK(s.chats.get(existing.id) == existing);
  }
}

TEST_CASE("sqlite records: an sqlite_transaction outlives a store it wrote through, and refuses a second BEGIN",
          "[sqlite][records][app-transaction]") {
  temp_database db;
  raw_connection app(db.path());
  auto store = std::make_unique<chat_store>(db.path());
  auto listening = store->subscribe([](const auto&) { FAIL("the store is gone; nobody is told"); });
  errand::sqlite_transaction tx(app.handle());
  store->create(tx, new_chat(), t0);
  store.reset();
  tx.commit();
  CHECK(app.text("SELECT count(*) FROM conformance_chats") == "1");

  REQUIRE(app.execute("BEGIN") == SQLITE_OK);
  CHECK_THROWS_AS(errand::sqlite_transaction(app.handle()), std::invalid_argument);
  REQUIRE(app.execute("ROLLBACK") == SQLITE_OK);
}
