#include "database.hpp"

#include "backends.hpp"

#include <string>

namespace errand_tool {

bool is_postgres_url(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

namespace {

bool names_postgres(const database_options& options) {
  if (options.location.empty())
    throw tool_error(usage, "--db is empty: name a SQLite file or a postgresql:// URL (or set ERRAND_DB)");
  return is_postgres_url(options.location);
}

}  // namespace

void require_current(const schema_state& schema) {
  if (!schema.has_jobs_table) {
    std::string others;
    for (const auto& options : schema.elsewhere) others += (others.empty() ? "" : "; ") + options;
    throw tool_error(unusable_database,
                     schema.database + " has no table " + schema.jobs_table +
                         "; is --db the database your workers use, and --prefix (and --schema) the names they use?" +
                         (others.empty() ? "" : " It holds errand tables for " + others + ".") +
                         " Nothing was written.");
  }
  if (schema.found > schema.known)
    throw tool_error(unusable_database, schema.database + " is at schema version " + std::to_string(schema.found) +
                                            ", newer than this errand knows (" + std::to_string(schema.known) +
                                            "); use the errand command of the version your workers run. "
                                            "Nothing was written.");
  if (schema.found < schema.known)
    throw tool_error(unusable_database,
                     schema.database + " is at schema version " + std::to_string(schema.found) +
                         "; this errand needs version " + std::to_string(schema.known) +
                         ". Upgrade it with `errand migrate --apply` (workers of this version upgrade it when "
                         "they start). Nothing was written.");
}

std::unique_ptr<database> open_database(const database_options& options) {
  return names_postgres(options) ? open_postgres_database(options) : open_sqlite_database(options);
}

schema_state inspect_schema(const database_options& options) {
  return names_postgres(options) ? inspect_postgres_schema(options) : inspect_sqlite_schema(options);
}

schema_state apply_migrations(const database_options& options) {
  const auto before = inspect_schema(options);
  if (before.found > before.known) require_current(before);
  if (names_postgres(options))
    migrate_postgres_tables(options);
  else
    migrate_sqlite_tables(options);
  return inspect_schema(options);
}

}  // namespace errand_tool
