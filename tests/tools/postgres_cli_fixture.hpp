#pragma once
// The errand command on PostgreSQL tables, in a schema of the test's own,
// that a store of the test's (as a worker would) holds open.

#include "pg_test_support.hpp"
#include <errand/postgres.hpp>

#include <memory>
#include <string>
#include <vector>

struct postgres_cli_fixture {
  using store_type = errand::postgres_store;
  static constexpr const char* name = "postgres";
  static constexpr int schema_version = errand::postgres_schema_version;

  postgres_cli_fixture() : store_(std::make_unique<store_type>(schema_.options())) {}

  store_type& store() { return *store_; }
  std::vector<std::string> where() const { return {"--db", pg_test::url(), "--schema", schema_.name()}; }
  // A --db naming nothing errand can open: a port nothing listens on.
  std::vector<std::string> nowhere() const { return {"--db", "postgresql://errand@127.0.0.1:1/errand_test"}; }

  std::string dump() const {
    const auto tables = store_->tables();
    std::string all;
    for (const auto& table : {tables.jobs, tables.history, tables.schema_version})
      for (const auto& row : pg_test::sql("SELECT * FROM " + table + " ORDER BY 1, 2")) {
        for (const auto& cell : row) all += cell.value_or("NULL") + "|";
        all += "\n";
      }
    return all;
  }

  void make_schema_newer() const {
    sql("INSERT INTO errand_schema_version (version, description) VALUES (99, 'from the future')");
  }

  void sql(const std::string& statement) const {
    // The statements name errand's tables unqualified, as in SQLite.
    pg_test::sql("SET search_path TO \"" + schema_.name() + "\"; " + statement);
  }

 private:
  pg_test::scratch_schema schema_;
  std::unique_ptr<store_type> store_;
};
