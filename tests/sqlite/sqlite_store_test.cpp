// errand::sqlite_store beyond the conformance suite: how it opens a database,
// what it refuses, and how it behaves when another connection holds the lock.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();

errand::job_spec spec(std::string payload = "{}") {
  errand::job_spec s;
  s.kind = "work";
  s.payload = std::move(payload);
  return s;
}

}  // namespace

TEST_CASE("sqlite_store: a file is opened in WAL mode, and WAL can be switched off", "[sqlite]") {
  temp_database wal;
  { errand::sqlite_store store(wal.path()); }
  CHECK(raw_connection(wal.path()).text("PRAGMA journal_mode") == "wal");

  temp_database rollback;
  {
    errand::sqlite_store store(rollback.path(), {.write_ahead_log = false});
    store.enqueue(spec(), t0);
  }
  CHECK(raw_connection(rollback.path()).text("PRAGMA journal_mode") == "delete");
}

TEST_CASE("sqlite_store: synchronous FULL is one setting away and changes nothing else", "[sqlite]") {
  temp_database db;
  errand::sqlite_store store(db.path(), {.synchronous = errand::sqlite_synchronous::full});
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->id == id);
}

TEST_CASE("sqlite_store: two table prefixes share one file without seeing each other", "[sqlite]") {
  temp_database db;
  errand::sqlite_store billing(db.path(), {.table_prefix = "billing_"});
  errand::sqlite_store mail(db.path(), {.table_prefix = "mail_"});
  CHECK(billing.tables().jobs == "billing_jobs");
  CHECK(mail.tables().history == "mail_history");
  billing.enqueue(spec(), t0);
  billing.enqueue(spec(), t0);
  mail.enqueue(spec(), t0);
  CHECK(billing.count_by_state().at(job_state::pending) == 2);
  CHECK(mail.count_by_state().at(job_state::pending) == 1);
  CHECK(mail.claim({"w", 30s, t0, {}})->id == 1);
  CHECK(raw_connection(db.path()).text("SELECT count(*) FROM billing_jobs WHERE state = 'pending'") == "2");
}

TEST_CASE("sqlite_store: an adopted connection is used, not closed", "[sqlite]") {
  temp_database db;
  raw_connection app(db.path());
  REQUIRE(app.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)") == SQLITE_OK);
  {
    errand::sqlite_store store(errand::adopt_connection, app.handle());
    store.enqueue(spec(), t0);
    CHECK(store.get(1)->state == job_state::pending);
  }
  // The store is gone; the application's connection still works, on both its tables and errand's.
  CHECK(app.execute("INSERT INTO invoices (total) VALUES (12)") == SQLITE_OK);
  CHECK(app.text("SELECT count(*) FROM errand_jobs") == "1");
  CHECK(app.text("PRAGMA journal_mode") == "delete");  // the store set no PRAGMA on it
}

TEST_CASE("sqlite_store: bad options and paths are refused with a clear error", "[sqlite][bad-input]") {
  temp_database db;
  for (const std::string prefix : {"", "1jobs_", "my-jobs_", "x; DROP TABLE y; --", "jobs "}) {
    INFO("prefix '" << prefix << "'");
    try {
      errand::sqlite_store store(db.path(), {.table_prefix = prefix});
      FAIL("the prefix was accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("'" + prefix + "' is not a plain identifier") != std::string::npos);
    }
  }
  CHECK_FALSE(std::filesystem::exists(db.path()));  // nothing was created for a refused prefix

  const std::string nowhere = "/nonexistent-errand-dir/jobs.db";
  try {
    errand::sqlite_store store(nowhere);
    FAIL("a path in a missing directory was opened");
  } catch (const errand::store_error& e) {
    CHECK(std::string(e.what()).find("cannot open '" + nowhere + "'") != std::string::npos);
  }

  CHECK_THROWS_AS(errand::sqlite_store(errand::adopt_connection, nullptr), std::invalid_argument);
}

TEST_CASE("sqlite_store: a file that is not a database is reported and left as it was", "[sqlite][bad-input]") {
  temp_database db;
  const std::string text = "these are my notes, not a database; please keep them\n";
  std::ofstream(db.path()) << text;
  CHECK_THROWS_WITH(errand::sqlite_store(db.path()), contains_text("cannot open '" + db.path() + "'") &&
                                                         contains_text("file is not a database"));
  std::stringstream kept;
  kept << std::ifstream(db.path()).rdbuf();
  CHECK(kept.str() == text);
}

TEST_CASE("sqlite_store: a decision that was not applied cannot be written", "[sqlite][bad-input]") {
  temp_database db;
  errand::sqlite_store store(db.path());
  const auto id = store.enqueue(spec(), t0).id;
  const auto claimed = store.claim({"w", 30s, t0, {}});
  const auto ok = errand::decide(*claimed, errand::succeed{claimed->attempt, "w", {}}, {}, t0);
  const auto stale = errand::decide(*claimed, errand::succeed{claimed->attempt + 1, "w", {}}, {}, t0);
  REQUIRE(ok.applied());
  REQUIRE_FALSE(stale.applied());

  CHECK_THROWS_AS(store.apply(stale), std::invalid_argument);
  CHECK_THROWS_AS(store.apply_batch(std::vector<errand::decision>{ok, stale}), std::invalid_argument);
  CHECK(store.get(id)->state == job_state::running);
  CHECK(store.history(id).size() == 1);
  CHECK(store.apply(ok) == errand::write_result::applied);
}

TEST_CASE("sqlite_store: a database locked by someone else gives a bounded, clear error and loses nothing",
          "[sqlite][busy]") {
  temp_database db;
  errand::sqlite_store store(db.path(), {.busy_timeout = 0ms, .max_busy_retries = 2});
  const auto first = store.enqueue(spec(), t0).id;

  raw_connection other(db.path());
  REQUIRE(other.execute("BEGIN IMMEDIATE") == SQLITE_OK);
  try {
    store.enqueue(spec(), t0);
    FAIL("the write went through while another connection held the lock");
  } catch (const errand::store_error& e) {
    const std::string what = e.what();
    CHECK(what.find("database is locked") != std::string::npos);
    CHECK(what.find("still busy after 3 tries, nothing was written") != std::string::npos);
  }
  CHECK_THROWS_AS(store.claim({"w", 30s, t0, {}}), errand::store_error);
  CHECK(store.get(first)->state == job_state::pending);  // WAL: reads go on beside the writer
  REQUIRE(other.execute("COMMIT") == SQLITE_OK);

  const auto second = store.enqueue(spec(), t0).id;
  CHECK(second == first + 1);
  CHECK(store.claim({"w", 30s, t0, {}})->id == first);
  CHECK(store.count_by_state().at(job_state::pending) == 1);
}

TEST_CASE("sqlite_store: a listener hears nothing from a batch that rolled back", "[sqlite]") {
  temp_database db;
  errand::sqlite_store store(db.path());
  store.enqueue_batch(std::vector<errand::job_spec>{spec(), spec()}, t0);
  const auto claimed = store.claim_batch({"w", 30s, t0, {}}, 2);
  REQUIRE(claimed.size() == 2);
  std::vector<std::string> heard;
  auto subscription = store.subscribe([&](const errand::notification& n) { heard.push_back(n.record.event); });
  std::vector<errand::decision> batch;
  for (const auto& row : claimed) batch.push_back(errand::decide(row, errand::succeed{1, "w", {}}, {}, t0));
  batch[1].expected_version = 99;
  const auto refused = store.apply_batch(batch);
  CHECK(refused == std::vector<errand::write_result>{errand::write_result::conflict, errand::write_result::conflict});
  CHECK(heard.empty());
  CHECK(store.history(claimed[0].id).size() == 1);
}

TEST_CASE("sqlite_store: a job's payload is the user's JSON text, kept byte for byte", "[sqlite]") {
  temp_database db;
  const std::vector<std::string> payloads{R"({"note":"a\u0000b"})", R"({ "spaced" :  1.50 , "z":2,"a":1 })",
                                          "\"" + std::string(1 << 20, 'p') + "\"", "[]"};
  std::vector<std::int64_t> ids;
  {
    errand::sqlite_store store(db.path());
    for (const auto& p : payloads) ids.push_back(store.enqueue(spec(p), t0).id);
  }
  errand::sqlite_store store(db.path());
  for (std::size_t i = 0; i < payloads.size(); ++i) CHECK(store.get(ids[i])->payload == payloads[i]);
  CHECK(store.claim({"w", 30s, t0, {}})->payload == payloads[0]);
}

TEST_CASE("sqlite_store: claims are served by the partial indexes, without sorting", "[sqlite]") {
  temp_database db;
  { errand::sqlite_store store(db.path()); }
  raw_connection raw(db.path());
  const std::string due = "SELECT id FROM errand_jobs WHERE state IN " + errand::sqlite_claimable_states() +
                          " AND run_at <= '2026-01-01T00:00:00.000000Z'";
  const std::string any_queue = raw.text("EXPLAIN QUERY PLAN " + due + " ORDER BY priority, run_at, id");
  CHECK(any_queue.find("USING INDEX errand_jobs_due_any_queue") != std::string::npos);
  CHECK(any_queue.find("TEMP B-TREE") == std::string::npos);
  const std::string one_queue =
      raw.text("EXPLAIN QUERY PLAN " + due + " AND queue IN ('mail') ORDER BY priority, run_at, id");
  CHECK(one_queue.find("USING INDEX errand_jobs_due ") != std::string::npos);
  CHECK(one_queue.find("TEMP B-TREE") == std::string::npos);
  const std::string leases = raw.text(
      "EXPLAIN QUERY PLAN SELECT id FROM errand_jobs WHERE state = 'running' AND lease_until <= "
      "'2026-01-01T00:00:00.000000Z' ORDER BY lease_until, id");
  CHECK(leases.find("USING INDEX errand_jobs_leases") != std::string::npos);
  // With paused or full queues left out, and looking up who holds a unique key.
  const std::string except =
      raw.text("EXPLAIN QUERY PLAN " + due + " AND queue NOT IN ('paused') ORDER BY priority, run_at, id");
  CHECK(except.find("USING INDEX errand_jobs_due_any_queue") != std::string::npos);
  CHECK(except.find("TEMP B-TREE") == std::string::npos);
  const std::string holder = raw.text(
      "EXPLAIN QUERY PLAN SELECT id FROM errand_jobs WHERE unique_key = 'k' AND instr(',pending,', ',' || state || "
      "',') > 0 AND created_at > '2026-01-01T00:00:00.000000Z' ORDER BY id DESC LIMIT 1");
  CHECK(holder.find("USING INDEX errand_jobs_by_unique_key (unique_key=?)") != std::string::npos);
  CHECK(holder.find("TEMP B-TREE") == std::string::npos);
}

TEST_CASE("sqlite_store: times are ISO-8601 text an operator reads with the sqlite3 shell", "[sqlite]") {
  temp_database db;
  {
    errand::sqlite_store store(db.path());
    auto s = spec();
    s.run_at = t0 + 1500ms;
    store.enqueue(s, t0);
  }
  const auto shown = sqlite3_cli(db.path(), "SELECT run_at, typeof(run_at), created_at FROM errand_jobs;");
  CHECK(shown.status == 0);
  CHECK(shown.output == "2026-01-01T00:00:01.500000Z|text|2026-01-01T00:00:00.000000Z\n");
}

TEST_CASE("sqlite_store: the history feed hands a follower every record other stores commit, once, in order",
          "[sqlite]") {
  temp_database db;
  errand::sqlite_store follower(db.path());
  errand::sqlite_store worker(db.path());
  CHECK(follower.history_position() == 0);
  CHECK(follower.history_after(0, 10).empty());

  const errand::retry_policy policy;
  const auto first = worker.enqueue(spec(), t0).id;
  const auto second = worker.enqueue(spec(), t0).id;
  const auto claimed = worker.claim({"w", 30s, t0, {}});
  REQUIRE(claimed->id == first);
  errand::report(worker, first, errand::fail{1, "w", {"disk full"}}, policy, t0 + 1s);
  errand::report(worker, second, errand::cancel{"not needed"}, policy, t0 + 2s);

  const auto records = follower.history_after(0, 10);
  REQUIRE(records.size() == 3);
  CHECK(records[0].record.event == "claim");
  CHECK(records[1].record.event == "fail");
  CHECK(records[1].record.job_id == first);
  CHECK(records[2].record.job_id == second);
  CHECK(records[2].record.to == job_state::failed);
  CHECK(records[0].position < records[1].position);
  CHECK(records[1].position < records[2].position);
  CHECK(follower.history_position() == records[2].position);

  const auto page = follower.history_after(records[0].position, 1);
  REQUIRE(page.size() == 1);
  CHECK(page[0].position == records[1].position);
  CHECK(follower.history_after(records[2].position, 10).empty());

  // Pruning the newest records hands their positions out again: the feed's
  // position goes back, which a follower past it takes as its cue to rewind.
  worker.prune({.keep_history = 0});
  CHECK(follower.history_position() < records[2].position);
}
