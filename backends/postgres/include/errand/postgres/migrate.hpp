// Bringing a database to errand's schema: postgres_migrate() applies the
// migrations a database has not had yet (schema.hpp lists them) in one
// transaction. The transaction first takes pg_advisory_xact_lock on a key
// derived from the schema and prefix, so processes migrating the same tables
// at the same moment queue up: the first migrates, the others find the work
// done. postgres_store calls it when it opens (unless options.migrate is
// false); a deployment step may call it instead.

#ifndef ERRAND_POSTGRES_MIGRATE_HPP
#define ERRAND_POSTGRES_MIGRATE_HPP

#include <errand/config.hpp>
#include <errand/postgres/postgres_options.hpp>

namespace errand {

// Applies the migrations the database at options.url lacks; returns the
// schema version it is at afterwards. Safe to run from several processes at once.
ERRAND_DECL int postgres_migrate(const postgres_options& options);

}  // namespace errand

#endif

// The implementation: in every translation unit by default, once with
// ERRAND_SEPARATE_COMPILATION (in the one that includes <errand/postgres/src.hpp>).
#if (!defined(ERRAND_SEPARATE_COMPILATION) || defined(ERRAND_POSTGRES_SOURCE)) && \
    !defined(ERRAND_POSTGRES_MIGRATE_IMPLEMENTATION)
#define ERRAND_POSTGRES_MIGRATE_IMPLEMENTATION

#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/detail/server_encoding.hpp>
#include <errand/postgres/postgres_options.hpp>
#include <errand/postgres/schema.hpp>
#include <errand/store.hpp>

#include <string>

namespace errand {

namespace detail::pg {

inline int schema_version_of(transaction& tx, const postgres_tables& t) {
  const auto exists = tx.exec("SELECT to_regclass(" + sql_literal(t.schema_version) + ") IS NOT NULL");
  if (exists.at(0).at(0) != "t") return 0;
  const auto version = tx.exec("SELECT coalesce(max(version), 0) FROM " + t.schema_version);
  return std::stoi(*version.at(0).at(0));
}

inline void refuse_newer(int found, const postgres_tables& t) {
  if (found > postgres_schema_version)
    throw store_error("errand: " + t.jobs + " is at schema version " + std::to_string(found) +
                      ", newer than this errand knows (" + std::to_string(postgres_schema_version) +
                      "); upgrade errand rather than run it on a newer schema");
}

// Migrates on `c`; returns the version the database is at afterwards.
inline int migrate(connection& c, const postgres_tables& t) {
  return c.in_transaction([&](transaction& tx) {
    refuse_unless_utf8(tx);
    tx.exec("SELECT pg_advisory_xact_lock(" + postgres_migration_lock_key(t) + ")");
    const auto schema_exists = tx.exec("SELECT 1 FROM pg_namespace WHERE nspname = " + sql_literal(t.schema));
    if (schema_exists.empty()) tx.exec("CREATE SCHEMA IF NOT EXISTS " + postgres_tables::quoted(t.schema));
    tx.exec("CREATE TABLE IF NOT EXISTS " + t.schema_version +
            " (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    const int found = schema_version_of(tx, t);
    refuse_newer(found, t);
    for (const auto& m : postgres_migrations(t)) {
      if (m.version <= found) continue;
      for (const auto& sql : m.statements) tx.exec(sql);
      tx.exec("INSERT INTO " + t.schema_version + " (version, description) VALUES (" + std::to_string(m.version) +
              ", " + sql_literal(m.description) + ")");
    }
    return postgres_schema_version;
  });
}

// For options.migrate == false: the tables must already be at this version.
inline void require_migrated(connection& c, const postgres_tables& t) {
  const int found = c.autocommit([&](transaction& tx) {
    refuse_unless_utf8(tx);
    return schema_version_of(tx, t);
  });
  refuse_newer(found, t);
  if (found < postgres_schema_version)
    throw store_error("errand: " + t.jobs + " is at schema version " + std::to_string(found) + " of " +
                      std::to_string(postgres_schema_version) +
                      "; run errand::postgres_migrate() or open a store with options.migrate = true");
}

}  // namespace detail::pg

ERRAND_DECL int postgres_migrate(const postgres_options& options) {
  const auto tables = postgres_tables_for(options.schema, options.table_prefix);
  detail::pg::connection c(options.url);
  return detail::pg::migrate(c, tables);
}

}  // namespace errand

#endif
