// A worker for the dashboard's browser test, in a process of its own as a
// real worker is:
//
//   operator_worker DB [SCHEMA] seed                  jobs in every state, with the errors operators meet
//   operator_worker DB [SCHEMA] fail KIND MESSAGE     a runner claims a new job of KIND and fails it with
//                                                     MESSAGE (not retryable); prints the job's id
//
// DB is a SQLite file or a postgresql:// URL; SCHEMA, for PostgreSQL, the schema of errand's tables.

#include <errand/runner.hpp>
#include <errand/sqlite.hpp>

#if OPERATOR_WORKER_WITH_POSTGRES
#include <errand/postgres.hpp>
#endif

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

errand::job_spec spec(std::string queue, std::string kind, std::string payload) {
  errand::job_spec s;
  s.queue = std::move(queue);
  s.kind = std::move(kind);
  s.payload = std::move(payload);
  return s;
}

// Enqueues a job at `at`, claims it and ends its attempts as `outcomes` say:
// a message fails the attempt, retryable unless it is the last outcome and
// `then_give_up`; "" succeeds.
template <class Store>
void attempts(Store& store, errand::job_spec s, errand::time_point at, const std::string& error_kind,
              const std::vector<std::string>& outcomes, bool then_give_up = true) {
  const errand::retry_policy policy{30s, 2.0, 10min, 0.0, 1};
  const auto id = store.enqueue(s, at).id;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto claimed = store.claim({s.queue + "-worker-" + std::to_string(i % 2), 30s, at, {s.queue}});
    if (!claimed || claimed->id != id) throw std::runtime_error("seed: expected to claim job " + std::to_string(id));
    at += 2s + std::chrono::seconds{i * 7 % 5};
    if (outcomes[i].empty())
      errand::report(store, id, errand::succeed{claimed->attempt, *claimed->worker}, policy, at);
    else
      errand::report(
          store, id,
          errand::fail{
              claimed->attempt, *claimed->worker, {outcomes[i], error_kind, i + 1 < outcomes.size() || !then_give_up}},
          policy, at);
    at = std::max(at, store.get(id)->run_at);
  }
}

template <class Store>
int seed(Store& store) {
  const auto now = errand::system_clock{}.now();
  const auto ago = [&](auto d) { return now - d; };
  attempts(store, spec("mail", "send_invoice", R"({"invoice":"INV-1041"})"), ago(42min), "", {""});
  attempts(store, spec("mail", "send_invoice", R"({"invoice":"INV-1042"})"), ago(40min), "smtp_busy",
           {"SMTP 451 4.2.1 mailbox busy, try again later", ""});
  attempts(store, spec("mail", "send_invoice", R"({"invoice":"INV-1043"})"), ago(25min), "smtp_rejected",
           {"SMTP 550 5.1.1 <billing@northwind.example>: recipient address rejected"});
  attempts(store, spec("images", "resize", R"({"image":"catalog/8812.png","width":1200})"), ago(31min), "", {""});
  attempts(store, spec("images", "resize", R"({"image":"catalog/8813.png","width":1200})"), ago(30min), "timeout",
           {"timed out after 30s", "timed out after 30s", "timed out after 30s"});
  attempts(store, spec("webhooks", "deliver_webhook", R"({"endpoint":"https://hooks.acme.example/orders"})"),
           ago(12min), "http", {"HTTP 502 Bad Gateway from https://hooks.acme.example/orders"});
  attempts(store, spec("webhooks", "deliver_webhook", R"({"endpoint":"https://crm.example/api/contacts"})"), ago(4min),
           "http", {"HTTP 429 Too Many Requests: retry after 120s"}, false);
  store.enqueue(spec("reports", "nightly_report", R"({"day":"yesterday"})"), ago(3min));
  store.claim({"reports-worker-0", 10min, ago(2min), {"reports"}});
  auto later = spec("reports", "weekly_digest", R"({"week":"this"})");
  later.run_at = now + 6h;
  store.enqueue(later, ago(1min));
  store.enqueue(spec("images", "thumbnail", R"({"image":"catalog/8814.png"})"), ago(1min));
  std::cout << "seeded" << std::endl;
  return 0;
}

template <class Store>
int fail(Store& store, const std::string& kind, const std::string& message) {
  errand::runner_options options;
  options.threads = 1;
  options.worker_id = "live-worker";
  options.queues = {"live"};
  options.log = [](std::string_view) {};
  errand::runner<Store> worker(store, options);
  worker.handle(kind, [&](const std::string&, errand::job_context&) -> errand::job_result {
    return errand::failure{message, "rejected_by_handler", false};
  });
  const auto id = store.enqueue(spec("live", kind, R"({"from":"the browser test"})"), errand::system_clock{}.now()).id;
  while (worker.poll() > 0) worker.wait_idle();
  if (store.get(id)->state != errand::job_state::failed) throw std::runtime_error("the worker did not fail the job");
  std::cout << id << std::endl;
  return 0;
}

int usage() {
  std::cerr << "usage: operator_worker DB [SCHEMA] seed | fail KIND MESSAGE\n";
  return 2;
}

template <class Store>
int act(Store& store, const std::vector<std::string>& args) {
  if (args.size() == 1 && args[0] == "seed") return seed(store);
  if (args.size() == 3 && args[0] == "fail") return fail(store, args[1], args[2]);
  return usage();
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) return usage();
  const std::string db = args[0];
  args.erase(args.begin());
#if OPERATOR_WORKER_WITH_POSTGRES
  if (db.starts_with("postgresql://")) {
    errand::postgres_options options{.url = db};
    if (!args.empty() && args[0] != "seed" && args[0] != "fail") {
      options.schema = args[0];
      args.erase(args.begin());
    }
    errand::postgres_store store(options);
    return act(store, args);
  }
#endif
  errand::sqlite_store store(db);
  return act(store, args);
} catch (const std::exception& e) {
  std::cerr << "operator_worker: " << e.what() << '\n';
  return 1;
}
