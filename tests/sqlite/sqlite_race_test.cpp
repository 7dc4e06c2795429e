// Processes racing on one SQLite file: enqueuers of the same unique keys,
// claimers of a limited queue, schedulers of the same periodic jobs
// (tests/support/process_races.hpp). SQLite's file locks order them.

#include "errand_catch.hpp"
#include "process_races.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

TEST_CASE("processes enqueueing the same unique keys create one job per key", "[sqlite][unique][processes]") {
  temp_database db;
  process_races::unique_keys([&] { return errand::sqlite_store(db.path()); });
}

TEST_CASE("processes claiming from a limited queue get no more than its limit", "[sqlite][queues][processes]") {
  temp_database db;
  process_races::queue_limit([&] { return errand::sqlite_store(db.path()); });
}

TEST_CASE("processes running the same schedules enqueue each tick once", "[sqlite][periodic][processes]") {
  temp_database db;
  process_races::periodic_schedulers([&] { return errand::sqlite_store(db.path()); });
}
