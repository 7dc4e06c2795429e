// Agent sessions run by an orchestrator (the bug report "error persistence and
// orchestrator notifications"). Errors went out over SSE and nowhere else: a
// page refresh lost them, and the orchestrator, reading only the "latest
// assistant message", never knew a session had failed and sent the same
// prompt again. Here:
//   - a live subscriber prints each error as it is committed (the SSE stream);
//   - the error history is read back through a new connection (the refresh);
//   - the orchestrator reads store.latest_outcome(), sees
//     "Error: claude exec timed out", and injects a simpler prompt.
//
// It runs on PostgreSQL when ERRAND_EXAMPLE_PG_URL holds a connection string
// (its tables go in the schema errand_example_agent_sessions, dropped first),
// and on a SQLite file otherwise (the path given, or /tmp/errand-examples/).
#include "text_table.hpp"
#include <errand/outcome.hpp>
#include <errand/runner.hpp>
#include <errand/sqlite.hpp>
#if ERRAND_EXAMPLE_WITH_POSTGRES
#include <errand/postgres.hpp>

#include <pqxx/pqxx>
#endif

#include <boost/describe/class.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

using namespace std::chrono_literals;

struct agent_turn {
  std::string session;
  std::string prompt;
};
BOOST_DESCRIBE_STRUCT(agent_turn, (), (session, prompt))

namespace {

// What the agent CLI does with a prompt. The backend session's big prompt
// never finishes; a smaller one does.
errand::job_result run_turn(const agent_turn& turn, errand::job_context& context) {
  if (turn.session == "backend" && turn.prompt.starts_with("Implement the PostgreSQL schema"))
    return context.attempt() == 1 ? errand::failure{"claude exec: 429 rate limited", "rate_limited"}
                                  : errand::failure{"claude exec timed out", "timeout"};
  return "done: " + turn.prompt;
}

// The orchestrator's decision, from what the session's latest attempt left behind.
std::string decide_next(const std::string& session, const std::optional<errand::outcome>& latest) {
  std::cout << "Session that just became idle: " << session << "\nLatest output:\n";
  if (!latest) {
    std::cout << "(none)\n";
    return R"({"action":"wait"})";
  }
  std::cout << (latest->success ? "" : "Error: ") << latest->text.value_or("") << "\n";
  if (!latest->success && latest->kind == "timeout")
    return R"({"action":"inject_prompt","target_session":")" + session +
           R"(","prompt":"The previous attempt timed out. Start with just the users table."})";
  return R"({"action":"wait"})";
}

template <class Store>
void run_sessions(Store& store, const std::function<std::unique_ptr<Store>()>& reconnect) {
  errand::manual_clock clock;
  errand::runner_options options;
  options.threads = 1;
  options.worker_id = "agent-host";
  options.retry = errand::retry_policy{.base = 20s, .jitter = 0.0};
  errand::runner<Store> runner(store, options, clock);
  runner.template handle<agent_turn>("agent_turn", run_turn);

  std::mutex print;
  const auto live = store.subscribe([&](const errand::notification& n) {
    if (!n.row.last_error || n.record.event == "claim") return;
    std::scoped_lock lock(print);
    std::cout << "  [live] job " << n.row.id << " (" << *errand::name_of(n.row.state)
              << "): Error: " << *n.row.last_error << "\n";
  });

  const auto start = [&](const char* session, const char* prompt) {
    return store
        .enqueue({.kind = "agent_turn", .payload = errand::to_json(agent_turn{session, prompt}), .max_attempts = 2},
                 clock.now())
        .id;
  };
  const auto run_until_idle = [&] {
    for (;;) {
      while (runner.poll() > 0) runner.wait_idle();
      std::optional<errand::time_point> next;
      for (const auto& row : store.query({.state = errand::job_state::retry_pending}))
        next = next ? std::min(*next, row.run_at) : row.run_at;
      if (!next) return;
      clock.set(*next);
    }
  };

  std::cout << "The orchestrator starts three sessions; errors are pushed live as they commit:\n";
  start("frontend", "Build the login page");
  const auto backend = start("backend", "Implement the PostgreSQL schema for users, orders and invoices");
  start("docs", "Write the README");
  run_until_idle();

  std::cout << "\nThe backend session is idle. The orchestrator reads its latest outcome:\n";
  const auto action = decide_next("backend", store.latest_outcome(backend));
  std::cout << "Decision: " << action << "\n";
  if (action.find("inject_prompt") != std::string::npos) {
    const auto retry = start("backend", "The previous attempt timed out. Start with just the users table.");
    run_until_idle();
    std::cout << "\nAfter the simpler prompt, job " << retry << ":\n";
    decide_next("backend", store.latest_outcome(retry));
  }

  std::cout << "\nThe page is refreshed: a new connection reads job " << backend << "'s error history:\n";
  const auto fresh = reconnect();
  errand_examples::text_table errors({"attempt", "kind", "at", "worker", "error"});
  for (const auto& e : errand::errors_of(fresh->history(backend)))
    errors.add({std::to_string(e.attempt), e.kind, errand::to_iso8601(e.at), e.worker.value_or("NULL"),
                "Error: " + e.message});
  errors.print(std::cout);
}

}  // namespace

int main(int argc, char** argv) try {
  if (const char* url = std::getenv("ERRAND_EXAMPLE_PG_URL"); url && *url) {
#if ERRAND_EXAMPLE_WITH_POSTGRES
    const errand::postgres_options options{.url = url, .schema = "errand_example_agent_sessions"};
    {
      pqxx::connection connection(url);
      pqxx::work drop(connection);
      drop.exec("DROP SCHEMA IF EXISTS " + options.schema + " CASCADE");
      drop.commit();
    }
    std::cout << "agent_sessions on PostgreSQL, schema " << options.schema << "\n\n";
    errand::postgres_store store(options);
    run_sessions<errand::postgres_store>(store, [&] { return std::make_unique<errand::postgres_store>(options); });
    return 0;
#else
    throw std::runtime_error("ERRAND_EXAMPLE_PG_URL is set, but this build has no PostgreSQL backend");
#endif
  }
  const std::filesystem::path database = argc > 1 ? argv[1] : "/tmp/errand-examples/agent_sessions.db";
  if (database.has_parent_path()) std::filesystem::create_directories(database.parent_path());
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(database.string() + suffix);
  std::cout << "agent_sessions on SQLite, file " << database.string()
            << " (set ERRAND_EXAMPLE_PG_URL to run on PostgreSQL)\n\n";
  errand::sqlite_store store(database.string());
  run_sessions<errand::sqlite_store>(store, [&] { return std::make_unique<errand::sqlite_store>(database.string()); });
  return 0;
} catch (const std::exception& e) {
  std::cerr << "agent_sessions example failed: " << e.what() << '\n';
  return 1;
}
