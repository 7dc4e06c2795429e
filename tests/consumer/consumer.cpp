// What a user's program does with errand, built by a project of its own: a job
// fails once, is retried and succeeds, and the failure's reason is still there.
// The backends it uses are the components its CMake project asked for.
// Usage: errand_consumer <scratch directory> [PostgreSQL URL]
// Without a URL the PostgreSQL backend is only compiled and linked: the code
// that connects is built, so libpqxx must link, but not run.

#include <errand/errand.hpp>
#ifdef ERRAND_CONSUMER_MEMORY
#include <errand/memory.hpp>
#endif
#ifdef ERRAND_CONSUMER_SQLITE
#include <errand/sqlite.hpp>
#endif
#ifdef ERRAND_CONSUMER_POSTGRES
#include <errand/postgres.hpp>
#endif

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

int failures = 0;

void expect(bool condition, const std::string& what) {
  if (!condition) {
    std::cerr << "consumer: expected " << what << '\n';
    ++failures;
  }
}

template <errand::store Store>
void fail_once_then_succeed(Store& store, const std::string& backend) {
  errand::manual_clock clock;
  const auto policy = errand::retry_policy::immediate();
  const auto id = store.enqueue({.kind = "send_invoice"}, clock.now()).id;

  const auto first = store.claim({.worker = "w1", .now = clock.now()});
  expect(first && first->id == id, backend + ": the job is claimed");
  errand::report(store, id, errand::fail{1, "w1", {.message = "SMTP 451: try again later"}}, policy, clock.now());
  expect(store.get(id)->last_error == "SMTP 451: try again later", backend + ": the reason is on the row");

  clock.advance(std::chrono::seconds{1});
  store.claim({.worker = "w1", .now = clock.now()});
  const auto done = errand::report(store, id, errand::succeed{2, "w1"}, policy, clock.now());
  expect(done.applied() && done.row->state == errand::job_state::succeeded, backend + ": the retry succeeds");
  expect(!done.row->last_error, backend + ": no stale error after the success");

  const auto errors = errand::errors_of(store.history(id));
  expect(errors.size() == 1 && errors.front().message == "SMTP 451: try again later",
         backend + ": the failed attempt stays in the history");
  std::cout << backend << ": job " << id << " " << errand::to_json(*store.get(id)) << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: errand_consumer <scratch directory> [PostgreSQL URL]\n";
    return EXIT_FAILURE;
  }
  [[maybe_unused]] const std::string scratch = argv[1];
#ifdef ERRAND_CONSUMER_MEMORY
  errand::memory_store memory;
  fail_once_then_succeed(memory, "memory");
#endif
#ifdef ERRAND_CONSUMER_SQLITE
  errand::sqlite_store sqlite(scratch + "/consumer.db");
  fail_once_then_succeed(sqlite, "sqlite");
#endif
#ifdef ERRAND_CONSUMER_POSTGRES
  static_assert(errand::store<errand::postgres_store>);
  if (argc == 3) {
    errand::postgres_store postgres(argv[2]);
    fail_once_then_succeed(postgres, "postgres");
  } else {
    std::cout << "postgres: compiled and linked\n";
  }
#endif
  std::cout << (failures == 0 ? "consumer: ok" : "consumer: FAILED") << '\n';
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
