// A file of a program built with ERRAND_SEPARATE_COMPILATION: it includes the
// backends' umbrella headers, which here only declare the stores and
// runner<S>; compiled_part.cpp compiles them. The object file this one
// becomes is checked by check_declarations_only.cmake: it calls the runner's
// and the stores' members without defining them.
#include "separate_compilation_scenario.hpp"
#include <errand/memory.hpp>
#ifdef ERRAND_TEST_SQLITE
#include "temp_database.hpp"
#include <errand/sqlite.hpp>
#endif

#include <string>

static_assert(!separate_compilation::complete<errand::detail::memory::store_engine>,
              "under ERRAND_SEPARATE_COMPILATION, <errand/memory.hpp> declares memory_store only");

TEST_CASE("a runner over the memory store compiled elsewhere retries and records the failure") {
  errand::memory_store store;
  separate_compilation::fail_once_then_succeed(store);
}

#ifdef ERRAND_TEST_SQLITE
static_assert(!separate_compilation::complete<errand::detail::sqlite::store_engine>,
              "under ERRAND_SEPARATE_COMPILATION, <errand/sqlite.hpp> declares sqlite_store only");
#ifdef SQLITE_VERSION
#error "under ERRAND_SEPARATE_COMPILATION, <errand/sqlite.hpp> must not include <sqlite3.h>"
#endif

TEST_CASE("a runner over the SQLite store compiled elsewhere retries and records the failure") {
  const temp_database file;
  errand::sqlite_store store(file.path());
  separate_compilation::fail_once_then_succeed(store);
  CHECK(store.tables().jobs == "errand_jobs");
}
#endif
