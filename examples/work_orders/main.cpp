// Work orders on a SQLite file (the bug report "work order failure messages not
// stored during retry cycles"). Agents apply manifests to clusters; a failed
// work order waits in retry_pending, and the reason it failed is right there
// in the row, with when it happened, while it waits. Bad input fails at once.
//
// Time is a manual clock moved to each job's run_at, so the whole run, backoff
// included, takes a fraction of a second and prints the same thing every time.
#include "text_table.hpp"
#include <errand/outcome.hpp>
#include <errand/runner.hpp>
#include <errand/sqlite.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using errand_examples::or_null;

struct work_order {
  std::string cluster;
  std::string manifest;
};
BOOST_DESCRIBE_STRUCT(work_order, (), (cluster, manifest))

namespace {

// Enough of a YAML check to tell a broken manifest from a good one.
std::optional<std::string> yaml_problem(const std::string& manifest) {
  std::istringstream lines(manifest);
  std::string line;
  int depth = 0, number = 0, opened_on = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find('\t') != std::string::npos) return "line " + std::to_string(number) + ": tab in indentation";
    for (const char c : line) {
      if (c == '[' && depth++ == 0) opened_on = number;
      if (c == ']' && --depth < 0) return "line " + std::to_string(number) + ": unexpected ']'";
    }
  }
  if (depth > 0) return "line " + std::to_string(opened_on) + ": flow sequence '[' is never closed";
  return std::nullopt;
}

// What an agent does with a work order. Bad YAML will never get better, so it
// is not retryable; an unreachable or unknown cluster may recover, so it is.
errand::job_result apply_work_order(const work_order& order, errand::job_context& context) {
  if (const auto problem = yaml_problem(order.manifest))
    throw errand::job_failure({"invalid YAML: " + *problem, "invalid_input", false});
  if (order.cluster == "eu-west-2" && context.attempt() <= 2)  // its agent is restarting
    return errand::failure{"agent on cluster eu-west-2 unreachable: connection refused", "unreachable"};
  if (order.cluster != "us-east-1" && order.cluster != "eu-west-2")
    return errand::failure{"cluster '" + order.cluster + "' not found", "not_found"};
  return {};
}

std::string state_name(errand::job_state s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

void print_jobs(const errand::sqlite_store& store) {
  errand_examples::text_table table({"id", "kind", "state", "attempt", "run_at", "last_error", "last_error_at"});
  for (const auto& row : store.query({}))
    table.add({std::to_string(row.id), row.kind, state_name(row.state), std::to_string(row.attempt),
               errand::to_iso8601(row.run_at), or_null(row.last_error), or_null(row.last_error_at)});
  table.print(std::cout);
}

// When the next work order is due, if any is still waiting.
std::optional<errand::time_point> next_due(const errand::sqlite_store& store) {
  std::optional<errand::time_point> next;
  for (const auto state : {errand::job_state::pending, errand::job_state::retry_pending})
    for (const auto& row : store.query({.state = state})) next = next ? std::min(*next, row.run_at) : row.run_at;
  return next;
}

template <class Runner>
void run_everything_due(Runner& runner) {
  runner.supervise();
  while (runner.poll() > 0) runner.wait_idle();
}

}  // namespace

int main(int argc, char** argv) try {
  const std::filesystem::path database = argc > 1 ? argv[1] : "/tmp/errand-demo/work_orders.db";
  if (database.has_parent_path()) std::filesystem::create_directories(database.parent_path());
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(database.string() + suffix);

  errand::sqlite_store store(database.string());
  errand::manual_clock clock;
  errand::runner_options options;
  options.threads = 1;  // one agent, so the attempts run in the order the queue gives them
  options.worker_id = "agent-7";
  options.retry = errand::retry_policy{.base = 30s, .multiplier = 2.0, .cap = 10min, .jitter = 0.2, .seed = 7};
  errand::runner<errand::sqlite_store> agent(store, options, clock);
  for (const auto* kind : {"deploy", "scale", "rollout", "patch"}) agent.handle<work_order>(kind, apply_work_order);

  std::cout << "errand work-order demo: database " << database.string() << "\n\n";
  const auto order = [&](const char* kind, const char* cluster, const char* manifest) {
    store.enqueue({.kind = kind, .payload = errand::to_json(work_order{cluster, manifest})}, clock.now());
  };
  order("deploy", "us-east-1", "kind: Deployment\nname: web\nreplicas: 3\n");
  order("scale", "eu-west-2", "kind: Deployment\nname: api-gateway\nreplicas: 6\n");
  order("rollout", "us-east-1", "kind: Deployment\nname: payments\nports: [8080, 8443\nreplicas: 2\n");
  order("patch", "ap-south-9", "kind: Ingress\nname: edge\n");

  run_everything_due(agent);
  std::cout << "After the first pass (" << errand::to_iso8601(clock.now())
            << "): the failed work orders wait to retry, and say why.\n";
  print_jobs(store);

  while (const auto due = next_due(store)) {
    clock.set(std::max(clock.now(), *due));
    run_everything_due(agent);
  }
  std::cout << "\nOnce every work order has settled (" << errand::to_iso8601(clock.now())
            << "): a success after retries shows no stale error.\n";
  print_jobs(store);

  constexpr std::int64_t recovered = 2;
  std::cout << "\nHistory of work order " << recovered << " (failed, retried, recovered):\n";
  errand_examples::text_table history({"seq", "from → to", "event", "attempt", "worker", "at", "error"});
  for (const auto& r : store.history(recovered)) {
    const auto error = errand::error_of(r);
    history.add({std::to_string(r.seq), state_name(r.from) + " → " + state_name(r.to), r.event,
                 std::to_string(r.attempt), or_null(r.worker), errand::to_iso8601(r.at), error ? error->message : ""});
  }
  history.print(std::cout);

  std::cout << "\nEvery failed attempt, from the history (it outlives the retries):\n";
  errand_examples::text_table attempts({"job", "attempt", "kind", "at", "error"});
  for (const auto& row : store.query({}))
    for (const auto& e : errand::errors_of(store.history(row.id)))
      attempts.add({std::to_string(row.id), std::to_string(e.attempt), e.kind, errand::to_iso8601(e.at), e.message});
  attempts.print(std::cout);

  const auto& tables = store.tables();
  const std::string shell = "sqlite3 -header -column -cmd '.nullvalue NULL' " + database.string() + " ";
  std::cout << "\nLook at the same file with the sqlite3 shell:\n"
            << "  " << shell << "\"SELECT id, kind, state, attempt, last_error, last_error_at FROM " << tables.jobs
            << "\"\n"
            << "  " << shell << "\"SELECT seq, from_state, to_state, event, attempt, worker, at FROM " << tables.history
            << " WHERE job_id = " << recovered << " ORDER BY seq\"\n"
            << "  " << shell << "\"SELECT job_id, attempt, json_extract(payload, '$.error.message') AS error FROM "
            << tables.history << " WHERE event = 'fail' ORDER BY job_id, seq\"\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "work_orders example failed: " << e.what() << '\n';
  return 1;
}
