// The PostgreSQL store and its runner in a program built with
// ERRAND_SEPARATE_COMPILATION: this file sees postgres_store's declaration
// only; postgres_compiled_part.cpp compiles it. The test's own SQL (the
// scratch schema) goes through errand's libpqxx wrapper, which
// pg_test_support.hpp includes for that alone.
#include "pg_test_support.hpp"
#include "separate_compilation_scenario.hpp"
#include <errand/postgres.hpp>

static_assert(!separate_compilation::complete<errand::detail::pg::store_engine>,
              "under ERRAND_SEPARATE_COMPILATION, <errand/postgres.hpp> declares postgres_store only");

TEST_CASE("a runner over the PostgreSQL store compiled elsewhere retries and records the failure") {
  const pg_test::scratch_schema schema;
  errand::postgres_store store(schema.options());
  separate_compilation::fail_once_then_succeed(store);
  CHECK(store.tables().schema == schema.name());
}
