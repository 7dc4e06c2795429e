// Builds against every component the package was created with: a job fails
// once, and its reason is on the row, in the memory store and in an SQLite
// database. The PostgreSQL store is compiled and linked; connecting needs a
// server, so it happens only when a URL is given.
#include <errand/memory.hpp>
#ifdef ERRAND_TEST_SQLITE
#include <errand/sqlite.hpp>
#endif
#ifdef ERRAND_TEST_POSTGRES
#include <errand/postgres.hpp>
#endif

#include <cstdlib>
#include <iostream>

template <errand::store Store>
bool reason_is_kept(Store& store) {
  const errand::manual_clock clock;
  const auto id = store.enqueue({.kind = "send_invoice"}, clock.now()).id;
  store.claim({.worker = "w1", .now = clock.now()});
  errand::report(store, id, errand::fail{1, "w1", {.message = "SMTP 451"}}, errand::retry_policy{}, clock.now());
  const auto row = store.get(id);
  std::cout << "errand: job " << id << " is " << errand::name_of(row->state).value_or("?") << ": "
            << row->last_error.value_or("") << '\n';
  return row->state == errand::job_state::retry_pending && row->last_error == "SMTP 451";
}

int main([[maybe_unused]] int argc, [[maybe_unused]] char** argv) {
  errand::memory_store memory;
  bool ok = reason_is_kept(memory);
#ifdef ERRAND_TEST_SQLITE
  errand::sqlite_store sqlite(":memory:");
  ok = reason_is_kept(sqlite) && ok;
#endif
#ifdef ERRAND_TEST_POSTGRES
  if (argc > 1) {
    errand::postgres_store postgres(argv[1]);
    ok = reason_is_kept(postgres) && ok;
  }
#endif
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
