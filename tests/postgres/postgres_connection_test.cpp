// A worker's connection killed by the server (pg_terminate_backend) in the
// middle of a transition: the transition is not half-written, the caller gets
// a clear store_error, and the store carries on with a new connection.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

// libpqxx 6.4 (Debian 12) leaks the error result of a prepared statement
// whose connection the server closed (PQexecPrepared's PGresult, 216 bytes
// and its 2 KiB block, once per killed connection). It is the library's, and
// this test kills connections on purpose; LeakSanitizer reads this hook.
extern "C" const char* __lsan_default_suppressions() { return "leak:pqxx::connection_base::exec_prepared\n"; }

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();

errand::postgres_options named(const pg_test::scratch_schema& schema, const std::string& application) {
  auto o = schema.options();
  // Appended piece by piece: GCC 12 at -O3 sees a -Wrestrict overlap in "?" + std::string(...).
  o.url += o.url.find('?') == std::string::npos ? '?' : '&';
  o.url += "application_name=";
  o.url += application;
  return o;
}

// The backend of `application` once it waits for a lock; polls the server's
// own view of its sessions (this waits for the other thread to get there; it
// asserts nothing about time).
std::string blocked_backend(const std::string& application) {
  for (int i = 0; i < 30000; ++i) {
    const auto rows = pg_test::sql("SELECT pid FROM pg_stat_activity WHERE application_name = '" + application +
                                   "' AND wait_event_type = 'Lock'");
    if (!rows.empty()) return *rows.at(0).at(0);
    std::this_thread::sleep_for(1ms);
  }
  FAIL("the worker never blocked");
  return {};
}

// Holds a transaction open on its own connection until released.
class open_transaction {
 public:
  explicit open_transaction(std::string statement) : statement_(std::move(statement)) {
    done_ = std::async(std::launch::async, [this] {
      errand::detail::pg::connection c(pg_test::url());
      c.in_transaction([&](errand::detail::pg::transaction& tx) {
        tx.exec(statement_);
        std::unique_lock lock(mutex_);
        held_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
        throw rolled_back{};  // leave nothing behind
      });
    });
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return held_ || done_.wait_for(0s) == std::future_status::ready; });
    if (!held_) done_.get();
  }
  ~open_transaction() { release(); }

  void release() {
    {
      std::scoped_lock lock(mutex_);
      if (released_) return;
      released_ = true;
    }
    changed_.notify_all();
    try {
      done_.get();
    } catch (const rolled_back&) {
    }
  }

 private:
  struct rolled_back {};
  std::string statement_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  bool released_ = false;
  std::future<void> done_;
};

}  // namespace

TEST_CASE("a connection killed mid-transition leaves no partial write; the store reconnects",
          "[postgres][connection]") {
  pg_test::scratch_schema schema;
  const std::string application = pg_test::unique_name("victim");
  errand::postgres_store store(named(schema, application));
  const auto& t = store.tables();
  const auto id = store.enqueue({.kind = "work"}, t0).id;
  const auto claimed = *store.claim({"w", 30s, t0, {}});
  const auto before = *store.get(id);
  REQUIRE(store.history(id).size() == 1);

  // Another session has written (uncommitted) the history record this
  // transition will want: the worker's statement updates the job row, then
  // waits on that record's key, inside its transaction.
  open_transaction squatter("INSERT INTO " + t.history +
                            " (job_id, seq, from_state, to_state, event, payload, attempt, at) VALUES (" +
                            std::to_string(id) + ", 2, 'running', 'succeeded', 'squat', '{}', 1, now())");
  auto report = std::async(std::launch::async, [&] {
    return errand::report(store, id, errand::succeed{claimed.attempt, "w", {}}, {}, t0 + 1s);
  });
  const auto pid = blocked_backend(application);

  // Its UPDATE has run: the row is locked by its open transaction.
  CHECK_THROWS_WITH(
      pg_test::sql("SELECT 1 FROM " + t.jobs + " WHERE id = " + std::to_string(id) + " FOR NO KEY UPDATE NOWAIT"),
      contains_text("could not obtain lock"));

  pg_test::sql("SELECT pg_terminate_backend(" + pid + ")");
  try {
    report.get();
    FAIL("the report survived its connection being killed");
  } catch (const errand::store_error& e) {
    CHECK(std::string(e.what()).find("connection lost, nothing written") != std::string::npos);
  }
  squatter.release();

  const auto after = store.get(id);  // a new connection
  CHECK(after->version == before.version);
  CHECK(after->state == job_state::running);
  CHECK(store.history(id).size() == 1);
  const auto again = errand::report(store, id, errand::succeed{claimed.attempt, "w", {}}, {}, t0 + 2s);
  CHECK(again.applied());
  CHECK(store.get(id)->state == job_state::succeeded);
  CHECK(store.history(id).size() == 2);
}

TEST_CASE("a claim whose connection is killed claims nothing", "[postgres][connection]") {
  pg_test::scratch_schema schema;
  const std::string application = pg_test::unique_name("claimer");
  errand::postgres_store store(named(schema, application));
  const auto& t = store.tables();
  const auto id = store.enqueue({.kind = "work"}, t0).id;

  open_transaction squatter("INSERT INTO " + t.history +
                            " (job_id, seq, from_state, to_state, event, payload, attempt, at) VALUES (" +
                            std::to_string(id) + ", 1, 'pending', 'running', 'squat', '{}', 1, now())");
  auto claim = std::async(std::launch::async, [&] { return store.claim({"w", 30s, t0, {}}); });
  pg_test::sql("SELECT pg_terminate_backend(" + blocked_backend(application) + ")");
  CHECK_THROWS_AS(claim.get(), errand::store_error);
  squatter.release();

  CHECK(store.get(id)->state == job_state::pending);
  CHECK(store.history(id).empty());
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->attempt == 1);
  CHECK(store.history(id).size() == 1);
}

TEST_CASE("idle connections killed by the server are replaced without a failed call", "[postgres][connection]") {
  pg_test::scratch_schema schema;
  const std::string application = pg_test::unique_name("idle");
  errand::postgres_store store(named(schema, application));
  const auto id = store.enqueue({.kind = "work"}, t0).id;
  REQUIRE(store.get(id));
  const auto killed = pg_test::sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                                   application + "'");
  CHECK_FALSE(killed.empty());

  CHECK(store.get(id)->state == job_state::pending);  // a read tries a fresh connection once
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(errand::report(store, id, errand::succeed{claimed->attempt, "w", {}}, {}, t0).applied());
}
