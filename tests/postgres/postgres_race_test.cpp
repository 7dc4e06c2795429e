// Processes racing on one PostgreSQL schema: enqueuers of the same unique
// keys, claimers of a limited queue, schedulers of the same periodic jobs
// (tests/support/process_races.hpp).

#include "errand_catch.hpp"
#include "pg_test_support.hpp"
#include "process_races.hpp"

TEST_CASE("processes enqueueing the same unique keys create one job per key", "[postgres][unique][processes]") {
  pg_test::scratch_schema schema;
  process_races::unique_keys([&] { return errand::postgres_store(schema.options()); });
}

TEST_CASE("processes claiming from a limited queue get no more than its limit", "[postgres][queues][processes]") {
  pg_test::scratch_schema schema;
  process_races::queue_limit([&] { return errand::postgres_store(schema.options()); });
}

TEST_CASE("processes running the same schedules enqueue each tick once", "[postgres][periodic][processes]") {
  pg_test::scratch_schema schema;
  process_races::periodic_schedulers([&] { return errand::postgres_store(schema.options()); });
}
