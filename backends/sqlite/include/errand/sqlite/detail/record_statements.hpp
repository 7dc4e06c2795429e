#pragma once
// The SQL an sqlite_record_store<D> runs, built once from D's row type and
// its tables' names, and prepared on the store's connection at first use (on
// an application's connection from the same text). Values are always
// parameters; only quoted table and column names are spliced in. A fire's
// compare-and-set and history append are not here: every SQLite store writes
// them through detail/transitions.hpp.

#include <errand/detail/text.hpp>
#include <errand/record.hpp>
#include <errand/record_columns.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/record_schema.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace errand::detail::sqlite {

template <record_definition D>
struct record_statements {
  using traits = record_traits<D>;
  using entry_type = history_entry<typename D::machine::state_type>;

  record_statements(const sqlite_record_tables& t, const std::vector<record_column>& columns)
      : id(sqlite_identifier(traits::column_of(traits::id_field))),
        state(sqlite_identifier(traits::column_of(traits::state_field))) {
    const std::string records = sqlite_identifier(t.records);
    const std::string history_table = sqlite_identifier(t.history);
    std::string names, parameters;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      names += concat(i ? ", " : "", sqlite_identifier(columns[i].name));
      parameters += concat(i ? ", ?" : "?", std::to_string(i + 1));
    }
    const std::string entries = column_list<entry_type>();
    select = concat("SELECT ", names, " FROM ", records);
    get.sql = concat(select, " WHERE ", id, " = ?1");
    exists.sql = concat("SELECT 1 FROM ", records, " WHERE ", id, " = ?1");
    insert.sql = concat("INSERT INTO ", records, " (", names, ") VALUES (", parameters, ") RETURNING ", id);
    history.sql = concat("SELECT ", entries, " FROM ", history_table, " WHERE record_id = ?1 ORDER BY seq");
    entry_with_key.sql =
        concat("SELECT ", entries, " FROM ", history_table, " WHERE record_id = ?1 AND idempotency_key = ?2");
    // Followed by " IN (?2, ...)", the states to prune; ?1 is unchanged_since.
    prunable = concat("SELECT ", id, " FROM ", records, " AS r WHERE coalesce((SELECT at FROM ", history_table,
                      " WHERE record_id = r.", id, " ORDER BY seq DESC LIMIT 1), '') < ?1 AND ", state);
    delete_history.sql = concat("DELETE FROM ", history_table, " WHERE record_id = ?1");
    delete_record.sql = concat("DELETE FROM ", records, " WHERE ", id, " = ?1");
  }

  std::string id, state, select, prunable;
  fixed_statement get, exists, insert, history, entry_with_key, delete_history, delete_record;
};

}  // namespace errand::detail::sqlite
