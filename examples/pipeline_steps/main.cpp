// Pipeline steps that call a flaky agent server (the bug report "surface pipeline
// step failure reasons end-to-end"). Its client let three failure modes escape
// as raw exceptions (an empty 200 body, an HTTP error, a response of the wrong
// shape), a hung call had no deadline, and a pipeline whose task died stayed
// `running` forever. Here every failure mode becomes a readable reason, a
// step past its deadline is recorded as "timed out after 600s", and anything
// a step throws, of any type, still ends it: nothing stays running.
//
// The store is errand's in-memory one, the double to unit-test a pipeline with.
#include "text_table.hpp"
#include <errand/memory.hpp>
#include <errand/runner.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using errand_examples::or_null;

struct pipeline_step {
  std::string pipeline;
  std::string step;
};
BOOST_DESCRIBE_STRUCT(pipeline_step, (), (pipeline, step))

// What the agent server answers when a step's work is done.
struct step_reply {
  std::string summary;
  std::vector<std::string> files_changed;
};
BOOST_DESCRIBE_STRUCT(step_reply, (), (summary, files_changed))

// What the REST API returns for a step: the reason travels with the status.
struct step_status {
  std::int64_t id = 0;
  std::string pipeline;
  std::string step;
  errand::job_state status = errand::job_state::pending;
  std::optional<std::string> error_message;
};
BOOST_DESCRIBE_STRUCT(step_status, (), (id, pipeline, step, status, error_message))

// Thrown by a step's own code: a bug nobody wrapped, and not a std::exception.
struct sandbox_crash {};

namespace {

struct http_response {
  int status = 200;
  std::string reason = "OK";
  std::string body;
};

// The one error type the client raises, whatever went wrong underneath.
struct agent_client_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The bug report's fix, in one place: HTTP errors, empty bodies, bodies that are not
// JSON and JSON of the wrong shape all become agent_client_error.
step_reply parse_reply(const http_response& response) {
  const std::string status = std::to_string(response.status);
  if (response.status >= 400) throw agent_client_error("agent server HTTP error: " + status + " " + response.reason);
  if (response.body.empty()) throw agent_client_error("agent server returned empty body (status " + status + ")");
  try {
    return errand::from_json<step_reply>(response.body);
  } catch (const errand::codec_error& e) {
    throw agent_client_error("agent server response does not decode (status " + status + "): " + e.what());
  }
}

// The agent server, as each pipeline finds it today.
const std::map<std::string, http_response> agent_server = {
    {"docs-site", {200, "OK", R"({"summary":"3 pages regenerated","files_changed":["a.md","b.md","c.md"]})"}},
    {"billing", {200, "OK", ""}},
    {"search", {502, "Bad Gateway", "<html>upstream unavailable</html>"}},
    {"mobile", {200, "OK", R"({"summary":5,"files_changed":[]})"}},
    {"ledger", {200, "OK", "<html>login required</html>"}},
};

errand::job_result run_step(const pipeline_step& s, errand::job_context& context) {
  if (s.pipeline == "analytics") throw sandbox_crash{};
  if (s.pipeline == "checkout") {  // the server accepts the call and never answers
    std::mutex m;
    std::condition_variable_any never;
    std::unique_lock lock(m);
    never.wait(lock, context.stop_token(), [] { return false; });
    return errand::failure{"agent call abandoned: the step was stopped"};
  }
  try {
    return parse_reply(agent_server.at(s.pipeline)).summary;
  } catch (const agent_client_error& e) {
    return errand::failure{e.what(), "agent_client"};
  }
}

std::string state_name(errand::job_state s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

}  // namespace

int main() try {
  errand::memory_store store;
  errand::manual_clock clock;
  std::mutex log_mutex;
  std::vector<std::string> runner_log;

  errand::runner_options options;
  options.threads = 3;
  options.worker_id = "pipeline-runner";
  options.deadline = 600s;
  options.log = [&](std::string_view line) {
    std::scoped_lock lock(log_mutex);
    runner_log.emplace_back(line);
  };
  errand::runner<errand::memory_store> runner(store, options, clock);
  runner.handle<pipeline_step>("pipeline_step", run_step);

  const auto add_step = [&](const pipeline_step& step) {
    store.enqueue({.kind = "pipeline_step", .payload = errand::to_json(step), .max_attempts = 1}, clock.now());
  };
  for (const pipeline_step& step : {pipeline_step{"docs-site", "generate"}, pipeline_step{"billing", "implement"},
                                    pipeline_step{"search", "review"}, pipeline_step{"mobile", "test"},
                                    pipeline_step{"ledger", "plan"}, pipeline_step{"analytics", "build"}})
    add_step(step);
  while (runner.poll() > 0) runner.wait_idle();

  // The last step's call hangs. Ten minutes later, on the clock, the runner gives up on it.
  add_step({"checkout", "deploy"});
  runner.poll();
  clock.advance(600s);
  runner.supervise();
  runner.wait_idle();

  std::cout << "Pipeline steps, as GET /pipelines returns them (error_message under the red badge):\n";
  errand_examples::text_table table({"id", "pipeline", "step", "status", "error kind", "error_message / detail"});
  std::vector<step_status> api;
  for (const auto& row : store.query({})) {
    const auto step = errand::from_json<pipeline_step>(row.payload);
    table.add({std::to_string(row.id), step.pipeline, step.step, state_name(row.state), or_null(row.last_error_kind),
               row.last_error ? *row.last_error : or_null(row.detail)});
    api.push_back({row.id, step.pipeline, step.step, row.state, row.last_error});
  }
  table.print(std::cout);

  std::cout << "\nThe JSON of the first two:\n  " << errand::to_json(api.at(0)) << "\n  " << errand::to_json(api.at(1))
            << "\n";

  std::cout << "\nThe audit trail of the step that timed out (the handler's own late report was refused):\n";
  for (const auto& r : store.history(api.back().id))
    std::cout << "  " << r.seq << "  " << r.event << "  " << r.payload << "\n";

  std::cout << "\nWhat the runner logged (two threads log at once; sorted so the output is stable):\n";
  std::sort(runner_log.begin(), runner_log.end());
  for (const auto& line : runner_log) std::cout << "  " << line << "\n";

  auto counts = store.count_by_state();
  std::cout << "\nJobs per state:";
  for (const auto& [state, count] : counts) std::cout << "  " << state_name(state) << " " << count;
  std::cout << "\nStill running: " << counts[errand::job_state::running] << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "pipeline_steps example failed: " << e.what() << '\n';
  return 1;
}
