#pragma once
// A record's tables in SQLite, built from its row type (record_columns.hpp),
// and their versioned migrations. docs/backends/sqlite.md ("Records")
// describes every column.
//
//   field kind    column type                         constraint
//   -----------   ---------------------------------   -----------------------------------
//   id field      INTEGER PRIMARY KEY AUTOINCREMENT   (SQLite assigns it when the row's id is 0)
//   boolean       INTEGER                             CHECK (column IN (0, 1))
//   integer       INTEGER
//   real          REAL
//   text          TEXT
//   time          TEXT, ISO-8601 UTC as the job tables hold times
//   enumeration   TEXT, the enumerator's name         CHECK (column = 'a' OR column = 'b' …) for
//                                                     the enum's names, so the state column lists
//                                                     the machine's states
//   json          TEXT
//   every column is NOT NULL unless its field is a std::optional.
//
// The history table, D::table_name + "_history", holds one row per
// transition. The schema version of each record table is a row in
// <table_prefix>record_schema_version, shared by every record table in the
// file.
//
// A table that exists already is ADOPTED, not recreated: errand checks that
// every mapped column is there (a missing one is a store_error naming the
// table, the column and the field, and nothing is changed), leaves its other
// columns and its rows alone, adds no CHECK to it, and adds the version column
// only when it is missing (NOT NULL DEFAULT 1, so existing rows start at
// version 1).

#include <errand/detail/text.hpp>
#include <errand/record.hpp>
#include <errand/record_columns.hpp>
#include <errand/sqlite/schema.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace errand {

// The tables a record definition D uses.
struct sqlite_record_tables {
  std::string records;         // D::table_name: the application's table
  std::string history;         // D::table_name + "_history"
  std::string schema_version;  // <table_prefix>record_schema_version
};

template <record_definition D>
sqlite_record_tables sqlite_record_tables_for(std::string_view table_prefix = "errand_") {
  return {std::string(D::table_name), detail::concat(D::table_name, "_history"),
          detail::concat(sqlite_tables_for(table_prefix).prefix, "record_schema_version")};
}

// The type and constraints that follow a column's name in CREATE TABLE.
inline std::string sqlite_column_definition(const record_column& column) {
  const std::string name = sqlite_identifier(column.name);
  std::string definition;
  switch (column.kind) {
    case column_kind::boolean:
      definition = detail::concat("INTEGER", column.nullable ? "" : " NOT NULL", " CHECK (", name, " IN (0, 1))");
      break;
    case column_kind::integer:
      definition = column.nullable ? "INTEGER" : "INTEGER NOT NULL";
      break;
    case column_kind::real:
      definition = column.nullable ? "REAL" : "REAL NOT NULL";
      break;
    case column_kind::enumeration:
      definition = detail::concat("TEXT", column.nullable ? "" : " NOT NULL", " CHECK (",
                                  sqlite_is_one_of(name, column.allowed()), ")");
      break;
    case column_kind::text:
    case column_kind::time:
    case column_kind::json:
      definition = column.nullable ? "TEXT" : "TEXT NOT NULL";
      break;
  }
  return definition;
}

// CREATE TABLE for D's own table, when the database does not have it yet.
template <record_definition D>
std::string sqlite_create_record_table(const sqlite_record_tables& t) {
  const auto id_column = record_traits<D>::column_of(record_traits<D>::id_field);
  std::string columns;
  for (const auto& column : record_columns<D>()) {
    columns += columns.empty() ? "\n  " : ",\n  ";
    columns += sqlite_identifier(column.name);
    columns += ' ';
    columns += column.name == id_column ? "INTEGER PRIMARY KEY AUTOINCREMENT" : sqlite_column_definition(column);
  }
  return detail::concat("CREATE TABLE ", sqlite_identifier(t.records), " (", columns, "\n)");
}

// The table that records which migrations each record table has had.
inline std::string sqlite_create_record_schema_version(const sqlite_record_tables& t) {
  return detail::concat("CREATE TABLE IF NOT EXISTS ", sqlite_identifier(t.schema_version),
                        " (\n"
                        "  record_table TEXT    NOT NULL,\n"
                        "  version      INTEGER NOT NULL,\n"
                        "  description  TEXT    NOT NULL,\n"
                        "  applied_at   TEXT    NOT NULL,\n"
                        "  PRIMARY KEY (record_table, version)\n"
                        ")");
}

// Every migration of D's tables, oldest first, each idempotent on its own.
// D's table itself is created (or adopted) before them.
template <record_definition D>
std::vector<sqlite_migration> sqlite_record_migrations(const sqlite_record_tables& t) {
  using traits = record_traits<D>;
  const std::string history = sqlite_identifier(t.history);
  const std::string from_state = sqlite_is_enumerator<typename traits::state_type>("from_state");
  const std::string to_state = sqlite_is_enumerator<typename traits::state_type>("to_state");
  std::vector<sqlite_migration> migrations;

  // The DDL is laid out as the tables it creates.
  // clang-format off
  migrations.push_back(
      {1,
       "the version column when missing, the history table",
       {{t.records, std::string(traits::column_of(traits::version_field)), "INTEGER NOT NULL DEFAULT 1"}},
       {detail::concat("CREATE TABLE IF NOT EXISTS ", history,
            " (\n"
            "  record_id       INTEGER NOT NULL,\n"
            "  seq             INTEGER NOT NULL,\n"
            "  from_state      TEXT    NOT NULL CHECK (", from_state, "),\n"
            "  to_state        TEXT    NOT NULL CHECK (", to_state, "),\n"
            "  event           TEXT    NOT NULL,\n"
            "  payload         TEXT    NOT NULL,\n"
            "  idempotency_key TEXT,\n"
            "  at              TEXT    NOT NULL,\n"
            "  PRIMARY KEY (record_id, seq),\n"
            "  UNIQUE (record_id, idempotency_key)\n"
            ")")},
       {}});
  // clang-format on
  return migrations;
}

// The version a fully migrated record table is at.
inline constexpr int sqlite_record_schema_version = 1;

}  // namespace errand
