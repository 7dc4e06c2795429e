#pragma once
// The errand command on a SQLite file that a store of the test's (as a
// worker would) holds open.

#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <optional>
#include <string>
#include <vector>

struct sqlite_cli_fixture {
  using store_type = errand::sqlite_store;
  static constexpr const char* name = "sqlite";
  static constexpr int schema_version = errand::sqlite_schema_version;

  sqlite_cli_fixture() { store_.emplace(database_.path()); }

  store_type& store() { return *store_; }
  std::vector<std::string> where() const { return {"--db", database_.path()}; }
  // A --db naming nothing errand can open.
  std::vector<std::string> nowhere() const { return {"--db", database_.path() + ".missing"}; }

  // Every row of every table, as text: unchanged means nothing was written.
  std::string dump() const {
    raw_connection db(database_.path());
    std::string all = db.text("SELECT type, name, sql FROM sqlite_master ORDER BY name");
    for (const auto* table : {"errand_jobs", "errand_history", "errand_schema_version"})
      all += "\n" + db.text(std::string("SELECT * FROM ") + table + " ORDER BY 1, 2");
    return all;
  }

  void make_schema_newer() const {
    sql("INSERT INTO errand_schema_version VALUES (99, 'from the future', '2030-01-01T00:00:00.000000Z')");
  }

  void sql(const std::string& statement) const {
    raw_connection db(database_.path());
    REQUIRE(db.execute(statement) == SQLITE_OK);
  }

 private:
  temp_database database_;
  std::optional<store_type> store_;
};
