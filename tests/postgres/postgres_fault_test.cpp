// Resource faults on a real PostgreSQL server of the test's own: the server
// goes away while a runner works, an administrator sets statement_timeout or
// idle_in_transaction_session_timeout low, every connection slot is taken.
// Each gives a clear store_error; nothing committed is lost, nothing stays
// running; the store works again once the fault is gone.

#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <future>
#include <utility>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

// A server started for this test alone (its outage must not reach other
// tests), with few connection slots, stopped and deleted at the end.
class own_server {
 public:
  own_server() : state_(std::filesystem::temp_directory_path() / pg_test::unique_name("errand-fault-pg")) {
    ::setenv("ERRAND_PG_SETTINGS", "-c max_connections=12 -c superuser_reserved_connections=0", 1);
    const int status = script("start");
    ::unsetenv("ERRAND_PG_SETTINGS");
    std::ifstream file(state_ / "url");
    std::getline(file, url_);
    if (status != 0 || url_.empty() || url_.starts_with("unavailable")) pg_test::no_server("the fault test's own server: " + url_);
  }
  ~own_server() {
    script("stop");
    std::filesystem::remove_all(state_);
  }
  own_server(const own_server&) = delete;
  own_server& operator=(const own_server&) = delete;

  void pause() { REQUIRE(script("pause") == 0); }
  void resume() { REQUIRE(script("resume") == 0); }
  const std::string& url() const { return url_; }

  errand::postgres_options options() const {
    errand::postgres_options o;
    o.url = url_;
    o.max_connections = 2;
    o.connect_attempts = 2;
    o.reconnect_backoff = 20ms;
    return o;
  }

  void sql(const std::string& statement) const {
    errand::detail::pg::connection c(url_);
    c.autocommit([&](errand::detail::pg::transaction& tx) { return tx.exec(statement); });
  }

 private:
  int script(const std::string& command) const {
    const std::string line = std::string(ERRAND_PG_TEST_SERVER) + " " + command + " '" + state_.string() + "' >/dev/null";
    const int raw = std::system(line.c_str());
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }

  std::filesystem::path state_;
  std::string url_;
};

errand::job_spec spec(std::string kind = "work") {
  errand::job_spec s;
  s.kind = std::move(kind);
  return s;
}

const errand::retry_policy policy{};

}  // namespace

TEST_CASE("faults: the server goes away while a runner works; nothing stays running, the work resumes",
          "[postgres][fault]") {
  own_server server;
  errand::postgres_store store(server.options());
  errand::manual_clock clock;
  const auto done = store.enqueue(spec(), clock.now()).id;
  const auto held = store.enqueue(spec(), clock.now()).id;
  const auto waiting = store.enqueue(spec(), clock.now()).id;

  errand::runner_options o;
  o.threads = 1;
  o.worker_id = "w";
  o.lease = 30s;
  o.log = [](std::string_view) {};
  errand::runner runner(store, o, clock);
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  bool first = true;
  runner.handle("work", [&, released](const std::string&, errand::job_context&) {
    if (std::exchange(first, false)) return;
    released.wait();
  });
  REQUIRE(runner.poll() == 1);
  runner.wait_idle();
  REQUIRE(store.get(done)->state == job_state::succeeded);
  REQUIRE(runner.poll() == 1);  // `held` is running when the server goes away

  server.pause();
  release->set_value();
  runner.wait_idle();                      // its success cannot be written
  CHECK(runner.poll() == 0);               // nor can anything be claimed
  CHECK_THROWS_AS(store.get(held), errand::store_error);
  CHECK(runner.stats().store_errors >= 2);

  server.resume();
  CHECK(store.get(held)->state == job_state::running);  // the lost report left its lease behind
  clock.advance(31s);
  runner.supervise();  // the lease expires; the reaper says why
  const auto recovered = *store.get(held);
  CHECK(recovered.state == job_state::retry_pending);
  CHECK(recovered.last_error_kind == errand::error_kind::lease_expired);
  clock.advance(5min);
  while (runner.poll() > 0) runner.wait_idle();
  CHECK(store.get(held)->state == job_state::succeeded);
  CHECK(store.get(waiting)->state == job_state::succeeded);
  CHECK(store.count_by_state() == errand::state_counts{{job_state::succeeded, 3}});
}

TEST_CASE("faults: a statement_timeout an administrator set low cancels a write cleanly", "[postgres][fault]") {
  own_server server;
  errand::postgres_store store(server.options());
  const auto t0 = errand::manual_clock{}.now();
  const auto id = store.enqueue(spec(), t0).id;
  server.sql("ALTER DATABASE errand_test SET statement_timeout = '200ms'");
  errand::postgres_store limited(server.options());  // new sessions get the setting

  // Another program holds the table, so the store's statements wait past the timeout.
  errand::detail::pg::connection other(server.url());
  other.in_transaction([&](errand::detail::pg::transaction& tx) {
    tx.exec("LOCK TABLE errand_jobs IN ACCESS EXCLUSIVE MODE");
    CHECK_THROWS_WITH(limited.claim({"w", 30s, t0, {}}), contains_text("statement timeout"));
    CHECK_THROWS_WITH(limited.enqueue(spec("blocked"), t0), contains_text("statement timeout"));
    return 0;
  });

  CHECK(store.count_by_state() == errand::state_counts{{job_state::pending, 1}});
  const auto claimed = limited.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->id == id);
  CHECK(errand::report(limited, id, errand::succeed{claimed->attempt, "w", {}}, policy, t0).applied());
  CHECK(store.history(id).size() == 2);
}

TEST_CASE("faults: idle_in_transaction_session_timeout set absurdly low fails operations whole; nothing is lost",
          "[postgres][fault]") {
  // At 1 ms the server may end a session between two statements of one of
  // errand's transactions (a keyed enqueue, a claim). Whatever it ends is
  // rolled back whole and reported; after the administrator resets it every
  // job finishes, with a history that has no gap.
  own_server server;
  errand::postgres_store{server.options()};  // the tables, made before the fault
  server.sql("ALTER DATABASE errand_test SET idle_in_transaction_session_timeout = '1ms'");
  auto unmigrated = server.options();
  unmigrated.migrate = false;
  errand::postgres_store store(unmigrated);
  errand::manual_clock clock;
  std::vector<errand::job_spec> specs(50, spec());
  for (auto& s : specs) s.unique_key = pg_test::unique_name("key");  // keyed: enqueued in a transaction
  int refused = 0;
  const auto attempt = [&](auto&& operation) {
    try {
      operation();
    } catch (const errand::store_error& e) {
      INFO(e.what());
      // Either nothing was written, or the session ended during COMMIT and the
      // store says the outcome is in doubt: both are recovered below.
      CHECK_THAT(std::string(e.what()),
                 contains_text("nothing") || contains_text("during commit"));
      ++refused;
    }
  };
  const auto work = [&] {
    attempt([&] { store.enqueue_batch(specs, clock.now()); });
    for (int i = 0; i < 60; ++i)
      attempt([&] {
        if (const auto claimed = store.claim({"w", 30s, clock.now(), {}}))
          errand::report(store, claimed->id, errand::succeed{claimed->attempt, "w", {}}, policy, clock.now());
      });
  };
  work();
  server.sql("ALTER DATABASE errand_test RESET idle_in_transaction_session_timeout");
  errand::postgres_store reset(server.options());  // sessions that start after the reset
  clock.advance(31s);
  errand::reap(reset, errand::retry_policy::immediate(), clock.now());  // claims whose report was lost
  for (int i = 0; i < 3; ++i) {
    reset.enqueue_batch(specs, clock.now());  // the unique keys make this idempotent
    while (const auto claimed = reset.claim({"w", 30s, clock.now(), {}}))
      REQUIRE(errand::report(reset, claimed->id, errand::succeed{claimed->attempt, "w", {}}, policy, clock.now())
                  .applied());
  }
  UNSCOPED_INFO(refused << " operations were refused while the timeout was 1 ms");
  CHECK(reset.count_by_state() == errand::state_counts{{job_state::succeeded, 50}});
  for (const auto& row : reset.query({.limit = 100})) {
    const auto history = reset.history(row.id);
    for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
    CHECK(history.back().to == job_state::succeeded);
  }
}

TEST_CASE("faults: with every connection slot taken a new store fails clearly, and opens once one is free",
          "[postgres][fault]") {
  own_server server;
  const auto t0 = errand::manual_clock{}.now();
  errand::postgres_store store(server.options());
  const auto id = store.enqueue(spec(), t0).id;

  std::vector<std::unique_ptr<errand::detail::pg::connection>> hogs;
  for (int i = 0; i < 40; ++i) {
    try {
      hogs.push_back(std::make_unique<errand::detail::pg::connection>(server.url()));
    } catch (const std::exception&) {
      break;  // the server is full
    }
  }
  REQUIRE(hogs.size() < 40);
  CHECK_THROWS_WITH(errand::postgres_store(server.options()), contains_text("too many clients"));

  hogs.pop_back();
  errand::postgres_store late(server.options());
  CHECK(late.get(id)->state == job_state::pending);
}
