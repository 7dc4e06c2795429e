// postgres_store beyond the conformance suite: options, bad input end to
// end (contract 7 of docs/concepts.md against TEXT and JSONB), rows written behind errand's
// back, notifications between two stores (two connections, as two
// processes would have), and the plans the server makes for the claim.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <errand/postgres/detail/statements.hpp>
#include <errand/postgres/detail/transitions.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();
const errand::retry_policy policy{std::chrono::seconds{10}, 2.0, std::chrono::minutes{5}, 0.0, 7};

errand::job_spec spec(std::string kind = "work", std::string payload = R"({"order":42})") {
  errand::job_spec s;
  s.kind = std::move(kind);
  s.payload = std::move(payload);
  return s;
}

errand::fail failure(const errand::job& row, std::string message, bool retryable = false) {
  return {row.attempt, *row.worker, {std::move(message), "reported", retryable, {}}};
}

// Collects notifications from any thread; waits for them with a generous
// bound (cross-process delivery is asynchronous), never asserting on time.
struct heard_list {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<errand::notification> heard;

  errand::listener listener() {
    return [this](const errand::notification& n) {
      std::scoped_lock lock(mutex);
      heard.push_back(n);
      changed.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 60s, [&] { return heard.size() >= n; });
  }
  std::vector<errand::notification> copy() {
    std::scoped_lock lock(mutex);
    return heard;
  }
};

}  // namespace

TEST_CASE("options: schema and prefix must be plain identifiers that fit", "[postgres][options]") {
  auto options = [](std::string schema, std::string prefix) {
    errand::postgres_options o;
    o.url = pg_test::url();
    o.schema = std::move(schema);
    o.table_prefix = std::move(prefix);
    return o;
  };
  CHECK_THROWS_AS(errand::postgres_store(options("Jobs", "errand_")), std::invalid_argument);
  CHECK_THROWS_AS(errand::postgres_store(options("public", "x\"; DROP TABLE y; --")), std::invalid_argument);
  CHECK_THROWS_AS(errand::postgres_store(options("9lives", "")), std::invalid_argument);
  CHECK_THROWS_AS(errand::postgres_store(options(std::string(60, 's'), "errand_")), std::invalid_argument);
  CHECK_NOTHROW(errand::postgres_tables_for("jobs", ""));
  const auto t = errand::postgres_tables_for("ops", "queue_");
  CHECK(t.jobs == "\"ops\".\"queue_jobs\"");
  CHECK(t.history == "\"ops\".\"queue_history\"");
  CHECK(t.channel == "ops.queue_events");
}

TEST_CASE("options: an unreachable server is tried connect_attempts times; the error hides the password",
          "[postgres][options]") {
  errand::postgres_options o;
  o.url = "postgresql://worker:hunter2@127.0.0.1:1/app?connect_timeout=5";
  o.connect_attempts = 2;
  o.reconnect_backoff = 1ms;
  try {
    errand::postgres_store store(o);
    FAIL("opening a store on a closed port succeeded");
  } catch (const errand::postgres_connection_error& e) {
    const std::string what = e.what();
    CHECK(what.find("after 2 attempts: ") != std::string::npos);
    CHECK(what.find("worker:***@127.0.0.1:1") != std::string::npos);
    CHECK(what.find("hunter2") == std::string::npos);
  }
  CHECK(errand::detail::pg::redacted("host=db password=s3cret user=w") == "host=db password=*** user=w");
}

TEST_CASE("options: with migrate off, unmigrated tables are refused", "[postgres][options]") {
  pg_test::scratch_schema schema;
  auto o = schema.options();
  o.migrate = false;
  CHECK_THROWS_WITH(
      errand::postgres_store(o),
      contains_text("schema version 0 of " + std::to_string(errand::postgres_schema_version)));
  errand::postgres_migrate(schema.options());
  errand::postgres_store store(o);
  CHECK(store.enqueue(spec(), t0).created);
}

TEST_CASE("payloads are stored as the producer wrote them, \\u0000 included", "[postgres][bad-input]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  const std::string spaced = "{ \"b\" : [1, 2.50, {\"a\":null}],\n  \"a\": \"x\" }";
  const std::string escaped_nul = R"({"note":"a\u0000b","path":"C:\\u0000"})";
  const auto a = store.enqueue(spec("spaced", spaced), t0).id;
  const auto b = store.enqueue(spec("nul", escaped_nul), t0).id;
  CHECK(store.get(a)->payload == spaced);
  CHECK(store.get(b)->payload == escaped_nul);
  // JSON, not text: operators can query it.
  CHECK(*pg_test::sql("SELECT payload->>'a' FROM " + store.tables().jobs + " WHERE id = " + std::to_string(a))
             .at(0)
             .at(0) == "x");
}

TEST_CASE("contract 7: hostile error text reaches the row and the JSONB history intact", "[postgres][contract]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  std::string hostile = "quote ' double \" backslash \\ nul ";
  hostile += '\0';
  hostile += " \\u0000 literal, bad utf8 \xC3\x28 \xFF\xFE, control \x01\x1F, emoji \xF0\x9F\x92\xA5 end";
  std::string huge(1 << 20, 'x');
  huge[5000] = '\0';
  huge[7000] = '\xFF';
  std::string detail = "posted nothing ";
  detail += '\0';
  detail += " \xC0\xAF";

  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(store.enqueue(spec(), t0).id);
  const auto a = *store.claim({"w", 30s, t0, {}});
  const auto b = *store.claim({"w", 30s, t0, {}});
  const auto c = *store.claim({"w", 30s, t0, {}});
  REQUIRE(errand::report(store, a.id, failure(a, hostile), policy, t0).applied());
  REQUIRE(errand::report(store, b.id, failure(b, huge), policy, t0).applied());
  REQUIRE(errand::report(store, c.id, errand::succeed{c.attempt, "w", detail}, policy, t0).applied());

  const auto ra = store.get(a.id);
  CHECK(ra->last_error == errand::storable_error_text(hostile));
  const auto rb = store.get(b.id);
  CHECK(rb->last_error->size() <= errand::max_error_bytes);
  CHECK(rb->last_error->find("[truncated from 1048576 bytes]") != std::string::npos);
  CHECK(store.get(c.id)->detail == errand::storable_error_text(detail));

  // What an operator sees with psql: the same text in the row and in history.
  const auto& t = store.tables();
  for (const auto& row : {*ra, *rb}) {
    const auto cells = pg_test::sql(
        "SELECT j.last_error = (h.payload->'error'->>'message'), jsonb_typeof(h.payload)"
        " FROM " +
        t.jobs + " j JOIN " + t.history +
        " h ON h.job_id = j.id AND h.event = 'fail' WHERE j.id = " + std::to_string(row.id));
    REQUIRE(cells.size() == 1);
    CHECK(cells[0].at(0) == "t");
    CHECK(cells[0].at(1) == "object");
    CHECK(errand::errors_of(store.history(row.id)).at(0).message == *row.last_error);
  }
  CHECK(store.latest_outcome(c.id)->text == errand::storable_error_text(detail));
}

TEST_CASE("text that looks like array syntax survives batches unchanged", "[postgres][bad-input]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  // Batches travel as PostgreSQL array literals: quotes, backslashes, braces,
  // commas, the word NULL and empty strings must all come back as they went.
  const std::vector<std::string> tricky{"NULL", "", "{a,b}", "say \"hi\"", "back\\slash\\", " , ", "}{\"\\"};
  std::vector<errand::job_spec> specs;
  for (const auto& text : tricky) {
    auto s =
        spec(text.empty() ? "empty" : text, R"({"text":")" + std::string(text == "say \"hi\"" ? "q" : "x") + R"("})");
    s.queue = text;
    s.unique_key = "key " + text;
    specs.push_back(s);
  }
  const auto added = store.enqueue_batch(specs, t0);
  REQUIRE(added.size() == tricky.size());
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    const auto row = store.get(added[i].id);
    CHECK(row->queue == tricky[i]);
    CHECK(row->kind == specs[i].kind);
    CHECK(row->unique_key == "key " + tricky[i]);
  }

  const auto claimed = store.claim_batch({"w", 30s, t0, {}}, tricky.size());
  REQUIRE(claimed.size() == tricky.size());
  std::vector<errand::decision> failures;
  for (std::size_t i = 0; i < claimed.size(); ++i)
    failures.push_back(errand::decide(claimed[i], failure(claimed[i], tricky[i] + " failed"), policy, t0));
  const auto results = store.apply_batch(failures);
  CHECK(std::count(results.begin(), results.end(), errand::write_result::applied) ==
        static_cast<std::ptrdiff_t>(tricky.size()));
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    CHECK(store.get(claimed[i].id)->last_error == tricky[i] + " failed");
    CHECK(errand::errors_of(store.history(claimed[i].id)).at(0).message == tricky[i] + " failed");
  }
}

TEST_CASE("a row written behind errand's back: refused by constraints, or reported with its id",
          "[postgres][bad-input]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  const auto& t = store.tables();
  const auto bad = store.enqueue(spec("bad"), t0).id;
  const auto good = store.enqueue(spec("good"), t0).id;
  const std::string where = " WHERE id = " + std::to_string(bad);

  CHECK_THROWS_WITH(pg_test::sql("UPDATE " + t.jobs + " SET state = 'exploded'" + where),
                    contains_text("jobs_state_check"));
  CHECK_THROWS_WITH(pg_test::sql("UPDATE " + t.jobs + " SET state = 'failed'" + where),
                    contains_text("jobs_failure_has_reason"));
  CHECK_THROWS_WITH(pg_test::sql("UPDATE " + t.jobs + " SET last_error = ''" + where),
                    contains_text("jobs_last_error_not_empty"));
  CHECK(store.get(bad)->state == job_state::pending);

  // A state the constraint no longer guards (an older errand's, or a hand edit).
  pg_test::sql("ALTER TABLE " + t.jobs + " DROP CONSTRAINT " + t.object("jobs_state_check"));
  pg_test::sql("UPDATE " + t.jobs + " SET state = 'exploded'" + where);
  CHECK_THROWS_AS(store.get(bad), errand::corrupt_row);
  CHECK_THROWS_WITH(store.get(bad),
                    contains_text("job " + std::to_string(bad)) && contains_text("'exploded'"));
  CHECK_THROWS_WITH(store.query({}), contains_text("job " + std::to_string(bad)));
  CHECK_THROWS_WITH(store.count_by_state(), contains_text("job " + std::to_string(bad)));

  // Every other job keeps working.
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->id == good);
  CHECK(errand::report(store, good, errand::succeed{claimed->attempt, "w", {}}, policy, t0).applied());
  CHECK(store.query({.state = job_state::succeeded}).size() == 1);

  // A history payload that is JSON, but not the event errand wrote.
  pg_test::sql("UPDATE " + t.history + " SET payload = '{\"attempt\": \"three\"}' WHERE job_id = " +
               std::to_string(good) + " AND event = 'succeed'");
  CHECK_THROWS_WITH(store.latest_outcome(good), contains_text("job " + std::to_string(good)) &&
                                                    contains_text("history record 2 ('succeed')"));
}

TEST_CASE("a new unique key repeated within one batch creates one job", "[postgres]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  std::vector<errand::job_spec> batch{spec("a"), spec("b"), spec("c"), spec("d")};
  batch[1].unique_key = batch[3].unique_key = "twice";
  const auto results = store.enqueue_batch(batch, t0);
  REQUIRE(results.size() == 4);
  CHECK(results[0].created);
  CHECK(results[1].created);
  CHECK(results[2].created);
  CHECK(results[3] == errand::enqueued{results[1].id, false});
  CHECK(results[0].id < results[1].id);
  CHECK(results[1].id < results[2].id);
  CHECK(store.get(results[2].id)->kind == "c");
  CHECK(store.get(results[1].id)->kind == "b");
}

TEST_CASE("concurrent enqueues of one unique key create one job", "[postgres][concurrency]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  std::mutex mutex;
  std::vector<errand::enqueued> results;
  std::vector<std::thread> producers;
  for (int i = 0; i < 6; ++i)
    producers.emplace_back([&] {
      auto s = spec();
      s.unique_key = "nightly-report";
      const auto r = store.enqueue(s, t0);
      std::scoped_lock lock(mutex);
      results.push_back(r);
    });
  for (auto& p : producers) p.join();
  REQUIRE(results.size() == 6);
  CHECK(std::count_if(results.begin(), results.end(), [](const auto& r) { return r.created; }) == 1);
  for (const auto& r : results) CHECK(r.id == results.front().id);
  CHECK(store.count_by_state().at(job_state::pending) == 1);
}

TEST_CASE("contract 8 across connections: a subscriber hears what another store committed", "[postgres][notify]") {
  pg_test::scratch_schema schema;
  errand::postgres_store writer(schema.options());
  errand::postgres_store reader(schema.options());
  heard_list here, there;
  auto own = writer.subscribe(here.listener());
  auto other = reader.subscribe(there.listener());

  const auto id = writer.enqueue(spec(), t0).id;
  const auto claimed = *writer.claim({"w", 30s, t0, {}});
  REQUIRE(errand::report(writer, id, failure(claimed, "upstream 503", true), policy, t0 + 1s).applied());

  REQUIRE(there.wait_for(2));
  const auto remote = there.copy();
  REQUIRE(remote.size() == 2);
  CHECK(remote[0].record.event == "claim");
  CHECK(remote[0].record.seq == 1);
  CHECK(remote[1].record.event == "fail");
  CHECK(remote[1].record.seq == 2);
  CHECK(remote[1].record.to == job_state::retry_pending);
  CHECK(remote[1].row.id == id);
  CHECK(remote[1].row.last_error == "upstream 503");
  CHECK(errand::from_json<errand::fail>(remote[1].record.payload).error.message == "upstream 503");

  // The writer's own subscriber heard each commit once, on the committing thread.
  const auto local = here.copy();
  REQUIRE(local.size() == 2);
  CHECK(local[1].record.seq == 2);
}

TEST_CASE("a batch is announced in a few notifications, and another store hears every transition in it",
          "[postgres][notify]") {
  pg_test::scratch_schema schema;
  errand::postgres_store writer(schema.options());
  errand::postgres_store reader(schema.options());
  heard_list there;
  auto other = reader.subscribe(there.listener());
  pg_test::announcements announced(writer.tables().channel);

  constexpr std::size_t jobs = 400;
  writer.enqueue_batch(std::vector<errand::job_spec>(jobs, spec()), t0);
  const auto claimed = writer.claim_batch({"w", 30s, t0, {}}, jobs);
  REQUIRE(claimed.size() == jobs);
  std::vector<errand::decision> done;
  for (const auto& row : claimed) done.push_back(errand::decide(row, errand::succeed{row.attempt, "w", {}}, policy, t0));
  REQUIRE(writer.apply_batch(done) == std::vector<errand::write_result>(jobs, errand::write_result::applied));

  REQUIRE(there.wait_for(2 * jobs));
  std::map<std::int64_t, std::vector<std::string>> events;
  for (const auto& n : there.copy()) {
    CHECK(n.record.seq == static_cast<std::int64_t>(events[n.row.id].size()) + 1);
    events[n.row.id].push_back(n.record.event);
  }
  CHECK(events.size() == jobs);
  for (const auto& [id, names] : events) CHECK(names == std::vector<std::string>{"claim", "succeed"});

  // An enqueue, then 400 claims and 400 successes, 150 to a notification.
  const auto payloads = announced.until_marker();
  CHECK(payloads.size() == 1 + 3 + 3);
  std::size_t named = 0;
  for (const auto& payload : payloads) {
    const auto heard = errand::detail::pg::read_announcements(payload, "t");
    CHECK(heard.size() <= errand::detail::pg::transitions_per_announcement);
    named += heard.size();
  }
  CHECK(named == 2 * jobs);
}

TEST_CASE("announce_every_transition off: other processes hear enqueues, retries and failures, nothing else",
          "[postgres][notify]") {
  pg_test::scratch_schema schema;
  auto quiet = schema.options();
  quiet.announce_every_transition = false;
  errand::postgres_store writer(quiet);
  errand::postgres_store reader(schema.options());
  heard_list here, there;
  auto own = writer.subscribe(here.listener());
  auto other = reader.subscribe(there.listener());
  pg_test::announcements announced(writer.tables().channel);
  const auto woken = reader.work_epoch();

  const auto first = writer.enqueue(spec(), t0).id;
  const auto second = writer.enqueue(spec(), t0).id;
  const auto third = writer.enqueue(spec(), t0).id;
  const auto claimed = writer.claim_batch({"w", 30s, t0, {}}, 3);
  REQUIRE(claimed.size() == 3);
  REQUIRE(errand::report(writer, first, errand::succeed{claimed[0].attempt, "w", {}}, policy, t0).applied());
  REQUIRE(errand::report(writer, second, failure(claimed[1], "upstream 503", true), policy, t0).applied());
  REQUIRE(errand::report(writer, third, failure(claimed[2], "bad input"), policy, t0).applied());

  CHECK(reader.wait_for_work(woken, 60s));
  REQUIRE(there.wait_for(2));
  const auto payloads = announced.until_marker();
  CHECK(payloads.size() == 5);  // three enqueues, the retry and the failure
  const auto remote = there.copy();
  REQUIRE(remote.size() == 2);
  CHECK(remote[0].row.id == second);
  CHECK(remote[0].record.to == job_state::retry_pending);
  CHECK(remote[1].row.id == third);
  CHECK(remote[1].record.to == job_state::failed);
  CHECK(remote[1].row.last_error == "bad input");
  CHECK(here.copy().size() == 6);  // this process hears its own commits, all of them
}

TEST_CASE("announcements: a statement's transitions, an older errand's single one, nothing from anything else",
          "[postgres][notify]") {
  using errand::detail::pg::read_announcements;
  const auto two = read_announcements("t abc 12:3,14:1 retry_pending", "t");
  REQUIRE(two.size() == 2);
  CHECK(two[0].origin == "abc");
  CHECK(two[0].id == 12);
  CHECK(two[0].seq == 3);
  CHECK(two[1].id == 14);
  CHECK(two[1].word == "retry_pending");
  const auto spaced = read_announcements("r abc 7:2 \"my schema\".\"a table\"", "r");
  REQUIRE(spaced.size() == 1);
  CHECK(spaced[0].word == "\"my schema\".\"a table\"");
  const auto older = read_announcements("t abc 12 3 running", "t");
  REQUIRE(older.size() == 1);
  CHECK(older[0].id == 12);
  CHECK(older[0].seq == 3);
  CHECK(older[0].word == "running");
  for (const char* garbage : {"", "t", "t abc", "r abc 12:3 running", "t abc 12:x running", "t abc 12:3,:4 running",
                              "t abc 12 x running", "t abc 12: running", "e abc"})
    CHECK(read_announcements(garbage, "t").empty());
}

static_assert(errand::announces_work<errand::postgres_store>);

TEST_CASE("a started runner wakes when another process enqueues", "[postgres][notify][runner]") {
  pg_test::scratch_schema schema;
  errand::postgres_store producer(schema.options());
  errand::postgres_store worker(schema.options());
  errand::manual_clock clock(t0);
  errand::runner_options o;
  o.threads = 1;
  o.worker_id = "w";
  o.poll_interval = std::chrono::hours{1};
  o.reaper_interval = std::chrono::hours{1};
  o.log = [](std::string_view) {};
  errand::runner runner(worker, o, clock);
  runner.handle("work", [](const std::string&, errand::job_context&) { return "done"; });
  heard_list heard;
  const auto subscription = worker.subscribe(heard.listener());
  runner.start();  // nothing to claim; its next pass is an hour away

  const auto id = producer.enqueue(spec(), t0).id;
  REQUIRE(heard.wait_for(2));  // the claim and the success: only the announcement can have woken it
  runner.stop();
  CHECK(worker.get(id)->detail == "done");
}

TEST_CASE("idle workers wake when another process enqueues or schedules a retry", "[postgres][notify]") {
  pg_test::scratch_schema schema;
  errand::postgres_store producer(schema.options());
  errand::postgres_store worker(schema.options());

  auto epoch = worker.work_epoch();
  CHECK_FALSE(worker.wait_for_work(epoch, 0ms));
  producer.enqueue(spec(), t0);
  CHECK(worker.wait_for_work(epoch, 60s));

  const auto claimed = *worker.claim({"w", 30s, t0, {}});
  epoch = worker.work_epoch();
  REQUIRE(
      errand::report(producer, claimed.id, failure(claimed, "retry me", true), errand::retry_policy::immediate(), t0)
          .applied());
  CHECK(worker.wait_for_work(epoch, 60s));
  CHECK(worker.claim({"w", 30s, t0, {}}));
}

TEST_CASE("enqueue in the application's transaction: a job if and only if it commits; workers wake at its commit",
          "[postgres][application-transaction]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  const std::string orders = "\"" + schema.name() + "\".orders";
  pg_test::sql("CREATE TABLE " + orders + " (id BIGINT PRIMARY KEY)");
  pg_test::announcements announced(store.tables().channel);
  const auto epoch = store.work_epoch();
  pqxx::connection application(pg_test::url());

  {
    pqxx::work tx(application);
    tx.exec("INSERT INTO " + orders + " VALUES (1)");
    store.enqueue(tx, spec("ship", R"({"order":1})"), t0);
    tx.abort();
  }
  CHECK(store.query({}).empty());

  std::int64_t shipped = 0;
  {
    pqxx::work tx(application);
    tx.exec("INSERT INTO " + orders + " VALUES (2)");
    shipped = store.enqueue(tx, spec("ship", R"({"order":2})"), t0).id;
    auto keyed = spec("invoice", R"({"order":2})");
    keyed.unique_key = "invoice-2";
    const auto first = store.enqueue(tx, keyed, t0);
    CHECK(store.enqueue_batch(tx, std::vector{keyed}, t0) == std::vector{errand::enqueued{first.id, false}});
    CHECK_FALSE(store.get(shipped).has_value());  // not committed yet
    tx.commit();
  }
  const auto jobs = store.query({});
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].id == shipped);
  CHECK(jobs[0].state == job_state::pending);
  CHECK(jobs[1].unique_key == "invoice-2");
  CHECK(*pg_test::sql("SELECT string_agg(id::text, ',') FROM " + orders).at(0).at(0) == "2");
  // Only the committed transaction announced work: once, for its whole batch.
  CHECK(announced.until_marker() == std::vector<std::string>{"e application"});
  CHECK(store.wait_for_work(epoch, 60s));
}

TEST_CASE("enqueue in the application's transaction: refused input leaves it usable; a nontransaction is refused",
          "[postgres][application-transaction][bad-input]") {
  pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  pqxx::connection application(pg_test::url());
  pqxx::work tx(application);
  CHECK_THROWS_WITH(store.enqueue(tx, spec("ship", "{not json"), t0),
                    Catch::Matchers::StartsWith("errand: job_spec (kind 'ship'): field 'payload' is not JSON"));
  const auto id = store.enqueue(tx, spec(), t0).id;
  tx.commit();
  CHECK(store.get(id).has_value());
  pqxx::nontransaction autocommit(application);
  CHECK_THROWS_WITH(store.enqueue(autocommit, spec(), t0), contains_text("pqxx::work"));
  CHECK(store.query({}).size() == 1);
}

namespace {

// The plans the server makes for the claim statements, by name, with the
// values a claim of `limit` jobs at t0 sends.
std::map<std::string, std::string> claim_plans(const errand::postgres_tables& tables, std::int64_t limit) {
  namespace pg = errand::detail::pg;
  pg::connection c(pg_test::url());
  return c.autocommit([&](pg::transaction& tx) {
    const pg::statements sql(tables, pg::job_transitions(tx, tables, true, true));
    const auto values = pg::claim_parameters(errand::claim{"planner", 30s}, t0);
    const auto& target = sql.transitions.target;
    const std::pair<const pg::statement*, std::vector<pg::cell>> claims[] = {
        {&sql.claim_any, pg::one_statement_claim_parameters(values, t0, limit, {}, target, "test")},
        {&sql.claim_in, pg::one_statement_claim_parameters(values, t0, limit, "{default}", target, "test")},
        {&sql.claimable_any, {pg::text_of(t0), pg::text_of(limit)}}};
    std::map<std::string, std::string> plans;
    for (const auto& [statement, params] : claims)
      for (const auto& line : tx.exec_params("EXPLAIN " + statement->sql, params))
        plans[statement->name] += line.at(0).value_or("") + "\n";
    return plans;
  });
}

}  // namespace

TEST_CASE("the claim reads due jobs in the claim index's order, on a table never analysed and on one analysed",
          "[postgres][plan]") {
  pg_test::scratch_schema schema;
  const auto tables = errand::postgres_store(schema.options()).tables();
  pg_test::sql("ALTER TABLE " + tables.jobs + " SET (autovacuum_enabled = false)");
  const auto add_due = [&](int jobs) {
    pg_test::sql("INSERT INTO " + tables.jobs +
                 " (queue, kind, payload, state, priority, attempt, max_attempts, run_at, version, created_at,"
                 " updated_at) SELECT 'default', 'work', '{}', 'pending', 0, 0, 3, '" +
                 errand::to_iso8601(t0 - 1h) + "', 1, now(), now() FROM generate_series(1, " + std::to_string(jobs) +
                 ")");
  };

  // A deployment's first minutes: a backlog the planner has no statistics
  // for. A claim from a list of queues sorts the due jobs of those queues:
  // an index on (queue, …) yields no single order across several queues.
  add_due(20000);
  for (const auto& [name, plan] : claim_plans(tables, 500)) {
    INFO(name << ", never analysed:\n" << plan);
    CHECK_THAT(plan, !contains_text("Bitmap Heap Scan on errand_jobs j"));
    if (name != "errand_claim_in") CHECK_THAT(plan, !contains_text("Sort Key: j.priority"));
  }

  // Statistics that say the backlog is long: the claimed rows are still found by primary key.
  add_due(80000);
  pg_test::sql("ANALYZE " + tables.jobs);
  for (const auto& [name, plan] : claim_plans(tables, 500)) {
    INFO(name << ", analysed:\n" << plan);
    CHECK_THAT(plan, !contains_text("Seq Scan on errand_jobs"));
    CHECK_THAT(plan, !contains_text("Hash Join"));
    if (name != "errand_claim_in") CHECK_THAT(plan, !contains_text("Sort Key: j.priority"));
  }
}
