#pragma once
// Bringing a database to the tables a store needs: the job queue's
// (schema.hpp) and a record definition's (record_schema.hpp), each with its
// versioned migrations, run by one runner. A store calls these when it opens,
// inside one BEGIN IMMEDIATE transaction, so that processes opening a file at
// the same moment migrate it once; tables a newer errand wrote are refused,
// with nothing changed.

#include <errand/detail/text.hpp>
#include <errand/record.hpp>
#include <errand/record_columns.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/record_schema.hpp>
#include <errand/sqlite/schema.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace errand::detail::sqlite {

// Runs the steps of `migration` the tables still need; `identifier` writes a
// table's or a column's name into the SQL.
template <class Identifier>
void run_migration(connection& db, const sqlite_migration& migration, Identifier identifier) {
  for (const auto& column : migration.added_columns)
    if (!db.has_column(column.table, column.name))
      db.execute(concat("ALTER TABLE ", identifier(column.table), " ADD COLUMN ", identifier(column.name), " ",
                        column.definition));
  for (const auto& statement : migration.statements) db.execute(statement);
  for (const auto& column : migration.dropped_columns)
    if (db.has_column(column.table, column.name))
      db.execute(concat("ALTER TABLE ", identifier(column.table), " DROP COLUMN ", identifier(column.name)));
}

inline void bind_applied_now(cursor& c, int index) {
  c.bind(index, std::chrono::time_point_cast<duration>(std::chrono::system_clock::now()));
}

// The job queue's tables, created or upgraded. Their DDL names them
// unquoted (the prefix is a plain identifier), as every release has.
inline void migrate_job_tables(connection& db, const sqlite_tables& t) {
  db.execute("CREATE TABLE IF NOT EXISTS " + t.schema_version +
             " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)");
  std::int64_t current = 0;
  {
    auto c = db.use("SELECT coalesce(max(version), 0) FROM " + t.schema_version);
    if (c.step()) current = c.integer(0);
  }
  if (current > sqlite_schema_version)
    throw failure(
        concat(t.schema_version, " says version ", std::to_string(current), ", newer than this errand understands (",
               std::to_string(sqlite_schema_version), "); refusing to write to it"),
        0, {});
  for (const auto& migration : sqlite_migrations(t)) {
    if (migration.version <= current) continue;
    run_migration(db, migration, [](std::string_view name) { return std::string(name); });
    auto c = db.use("INSERT INTO " + t.schema_version + " (version, description, applied_at) VALUES (?1, ?2, ?3)");
    c.bind(1, std::int64_t{migration.version});
    c.bind(2, migration.description);
    bind_applied_now(c, 3);
    c.step();
  }
}

// An existing table must hold every mapped column (the version column
// only once migration 1 has added it when missing) and have the id column
// as its INTEGER PRIMARY KEY, so that SQLite assigns ids.
template <record_definition D>
void check_adoptable(connection& db, const sqlite_record_tables& t, std::int64_t current) {
  using traits = record_traits<D>;
  const auto refuse = [&](const std::string& why) {
    throw failure(concat("table '", t.records, "' ", why, "; nothing was changed"), 0, {});
  };
  std::string_view id_column;
  for (const auto& column : record_columns<D>()) {
    if (column.field == traits::id_field) id_column = column.name;
    if (column.field == traits::version_field && current < 1) continue;
    if (!db.has_column(t.records, std::string(column.name)))
      refuse(concat("has no column '", column.name, "' for the record's field '", column.field, "'"));
  }
  auto c = db.use(
      "SELECT upper(type) = 'INTEGER' AND pk = 1 AND (SELECT count(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1"
      " FROM pragma_table_info(?1) WHERE name = ?2");
  c.bind(1, t.records);
  c.bind(2, id_column);
  if (!c.step() || c.integer(0) != 1)
    refuse(concat("column '", id_column, "' (the record's field '", traits::id_field,
                  "') is not the table's INTEGER PRIMARY KEY, which errand needs to assign ids"));
}

// D's table, created from its row type or adopted as it is, and its history
// table, upgraded to the current version.
template <record_definition D>
void migrate_record_tables(connection& db, const sqlite_record_tables& t) {
  db.execute(sqlite_create_record_schema_version(t));
  const std::string schema_version = sqlite_identifier(t.schema_version);
  std::int64_t current = 0;
  {
    auto c = db.use(concat("SELECT coalesce(max(version), 0) FROM ", schema_version, " WHERE record_table = ?1"));
    c.bind(1, t.records);
    if (c.step()) current = c.integer(0);
  }
  if (current > sqlite_record_schema_version)
    throw failure(concat(t.schema_version, " says table '", t.records, "' is at version ", std::to_string(current),
                         ", newer than this errand understands (", std::to_string(sqlite_record_schema_version),
                         "); refusing to write to it"),
                  0, {});
  bool exists = false;
  {
    auto c = db.use("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    c.bind(1, t.records);
    exists = c.step();
  }
  if (exists)
    check_adoptable<D>(db, t, current);
  else
    db.execute(sqlite_create_record_table<D>(t));
  for (const auto& migration : sqlite_record_migrations<D>(t)) {
    if (migration.version <= current) continue;
    run_migration(db, migration, sqlite_identifier);
    auto c = db.use(concat("INSERT INTO ", schema_version,
                           " (record_table, version, description, applied_at) VALUES (?1, ?2, ?3, ?4)"));
    c.bind(1, t.records);
    c.bind(2, std::int64_t{migration.version});
    c.bind(3, migration.description);
    bind_applied_now(c, 4);
    c.step();
  }
}

}  // namespace errand::detail::sqlite
