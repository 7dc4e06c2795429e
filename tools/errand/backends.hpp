#pragma once
// How each backend opens a database for the errand command; database.cpp
// picks one by the form of --db. A build without PostgreSQL links
// without_postgres.cpp, whose functions say so.

#include "database.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace errand_tool {

// Refuses a schema_state an operator cannot read and write jobs in, saying
// what to do about it; nothing has been written when it throws.
void require_current(const schema_state& schema);

// Every migration a backend knows, with the time the database applied it
// (`applied`: version to applied_at), for errand migrate.
template <class Migration>
std::vector<migration_step> steps_of(const std::vector<Migration>& migrations,
                                     const std::map<int, std::string>& applied) {
  std::vector<migration_step> steps;
  for (const auto& m : migrations) {
    const auto at = applied.find(m.version);
    steps.push_back({m.version, m.description, at == applied.end() ? std::nullopt : std::optional(at->second)});
  }
  return steps;
}

schema_state inspect_sqlite_schema(const database_options& options);
// Applies the migrations the tables lack; the caller has checked the schema is not newer.
void migrate_sqlite_tables(const database_options& options);
std::unique_ptr<database> open_sqlite_database(const database_options& options);

schema_state inspect_postgres_schema(const database_options& options);
void migrate_postgres_tables(const database_options& options);
std::unique_ptr<database> open_postgres_database(const database_options& options);

}  // namespace errand_tool
