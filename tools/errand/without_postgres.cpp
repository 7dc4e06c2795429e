// Linked when errand is built without its PostgreSQL backend.
#include "backends.hpp"

namespace errand_tool {

namespace {

[[noreturn]] void not_built() {
  throw tool_error(unusable_database,
                   "this errand command was built without PostgreSQL (ERRAND_WITH_POSTGRES=OFF); it reads SQLite "
                   "files only");
}

}  // namespace

schema_state inspect_postgres_schema(const database_options&) { not_built(); }
void migrate_postgres_tables(const database_options&) { not_built(); }
std::unique_ptr<database> open_postgres_database(const database_options&) { not_built(); }

}  // namespace errand_tool
