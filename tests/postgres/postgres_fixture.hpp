#pragma once
// Conformance fixtures for the PostgreSQL backend: every test gets fresh
// tables on the shared test server, either in a schema of its own or beside
// other instances in one schema under a table prefix of its own. reopen()
// closes the store (its connections, its LISTEN thread) and opens a new one
// on the same tables, as a restarted process would; second_store() is
// another store on the same tables, as another process would open.

#include "pg_test_support.hpp"
#include <errand/postgres.hpp>

#include <memory>
#include <string>

// A store in a schema of its own, dropped after the stores closed; its second
// store is another store on the same tables (another pool, another LISTEN
// connection), as another process would open. The job store's fixture and
// the record store's (postgres_record_conformance_test.cpp) are this.
template <class Store>
class own_schema_fixture {
 public:
  using store_type = Store;

  store_type& store() { return *store_; }
  store_type& second_store() {
    if (!second_) second_ = std::make_unique<store_type>(schema_.options());
    return *second_;
  }
  void reopen() {
    store_.reset();
    store_ = std::make_unique<store_type>(schema_.options());
  }

 private:
  pg_test::scratch_schema schema_;
  std::unique_ptr<store_type> store_ = std::make_unique<store_type>(schema_.options());
  std::unique_ptr<store_type> second_;
};

struct postgres_schema_fixture : own_schema_fixture<errand::postgres_store> {
  static constexpr const char* name = "postgres, own schema";
};

struct postgres_prefix_fixture {
  using store_type = errand::postgres_store;
  static constexpr const char* name = "postgres, shared schema, own prefix";

  postgres_prefix_fixture() : store_(std::make_unique<store_type>(options())) {}
  ~postgres_prefix_fixture() {
    const auto tables = store_->tables();
    second_.reset();
    store_.reset();
    pg_test::sql("DROP TABLE IF EXISTS " + tables.history + ", " + tables.jobs + ", " + tables.schema_version + ", " +
                 tables.queues);
  }
  store_type& store() { return *store_; }
  store_type& second_store() {
    if (!second_) second_ = std::make_unique<store_type>(options());
    return *second_;
  }
  void reopen() {
    store_.reset();
    store_ = std::make_unique<store_type>(options());
  }

 private:
  errand::postgres_options options() const {
    errand::postgres_options o;
    o.url = pg_test::url();
    o.schema = "errand_shared";
    o.table_prefix = prefix_;
    return o;
  }

  std::string prefix_ = pg_test::unique_name("t") + "_";
  std::unique_ptr<store_type> store_;
  std::unique_ptr<store_type> second_;
};
