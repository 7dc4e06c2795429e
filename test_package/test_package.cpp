// Builds against every component the package was created with: a job fails
// once on the memory store, and its reason is on the row.
#include <errand/memory.hpp>
#ifdef ERRAND_TEST_SQLITE
#include <errand/sqlite.hpp>
#endif
#ifdef ERRAND_TEST_POSTGRES
#include <errand/postgres.hpp>
#endif

#include <cstdlib>
#include <iostream>

int main() {
  errand::memory_store store;
  errand::manual_clock clock;
  const auto id = store.enqueue({.kind = "send_invoice"}, clock.now()).id;
  store.claim({.worker = "w1", .now = clock.now()});
  errand::report(store, id, errand::fail{1, "w1", {.message = "SMTP 451"}}, errand::retry_policy{}, clock.now());
  const auto row = store.get(id);
  std::cout << "errand: job " << id << " is " << errand::name_of(row->state).value_or("?") << ": "
            << row->last_error.value_or("") << '\n';
#ifdef ERRAND_TEST_SQLITE
  static_assert(errand::store<errand::sqlite_store>);
#endif
  return row->state == errand::job_state::retry_pending ? EXIT_SUCCESS : EXIT_FAILURE;
}
