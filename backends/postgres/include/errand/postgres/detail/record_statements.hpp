#pragma once
// The SQL a postgres_record_store runs, built once from its table as found
// (record_layout) and prepared on each of the store's connections; on an
// application's connection the same text is sent as a parameterised
// statement. Values are always parameters; only the table's and columns'
// quoted names are spliced in.
//
// A fire is written as every transition is (transitions.hpp); a creation
// appends its first entry and announces it the same way.

#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/detail/transitions.hpp>
#include <errand/postgres/record_schema.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// How the store reads a column: times as ISO-8601 UTC text, whatever the
// session's TimeZone; everything else as PostgreSQL writes it.
inline std::string read_expression(const stored_column& c, std::string_view alias) {
  const std::string qualified = concat(alias, ".", c.sql);
  if (c.column.kind == column_kind::time && c.type.rfind("timestamp", 0) == 0) {
    const bool zoned = c.type.find("without time zone") == std::string::npos;
    return zoned ? iso8601_utc(qualified) : iso8601_text(qualified);  // without: the wall time errand wrote, UTC
  }
  return qualified;
}

// An equality filter on one column; JSON has no equality operator, so it
// compares as text (errand writes JSON exactly as the codec does).
inline std::string equals_expression(const stored_column& c, std::string_view alias, placeholders& p) {
  if (c.type == "json") return concat(alias, ".", c.sql, "::text = ", p.next("text"));
  return concat(alias, ".", c.sql, " = ", p.next());
}

struct record_statements {
  record_statements(const postgres_record_tables& t, const record_layout& l, transition_target target)
      : tables(t),
        layout(l),
        id(l.columns.at(l.id).sql),
        columns(row_columns()),
        history_columns(entry_columns()),
        transitions(std::move(target)),
        get{"errand_record_get", concat("SELECT ", columns, " FROM ", t.table, " AS r WHERE r.", id, " = $1")},
        read{"errand_record_read", read_sql(false)},
        read_locked{"errand_record_read_locked", read_sql(true)},
        create{"errand_record_create", create_sql(false)},
        create_with_id{"errand_record_create_with_id", create_sql(true)},
        history{"errand_record_history", concat("SELECT ", history_columns, " FROM ", t.history,
                                                " AS h WHERE h.record_id = $1::bigint ORDER BY h.seq")},
        entry{"errand_record_entry", concat("SELECT ", history_columns, " FROM ", t.history,
                                            " AS h WHERE h.record_id = $1::bigint AND h.seq = $2::bigint")},
        prune_lock{"errand_record_prune_lock", concat("SELECT r.", id, " FROM ", t.table, " AS r WHERE ",
                                                      prunable("$1", "$2"), " ORDER BY r.", id, " FOR UPDATE OF r")},
        prune{
            "errand_record_prune",
            concat("WITH doomed AS (\n  SELECT r.", id, " AS id FROM ", t.table, " AS r WHERE r.", id,
                   " = ANY($3::bigint[]) AND ", prunable("$1", "$2"), "\n), gone_history AS (\n  DELETE FROM ",
                   t.history, " AS h USING doomed AS d WHERE h.record_id = d.id RETURNING 1\n), gone AS (\n",
                   "  DELETE FROM ", t.table, " AS r USING doomed AS d WHERE r.", id,
                   " = d.id RETURNING 1\n)\nSELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_history)")},
        trim{"errand_record_trim",
             concat("WITH ranked AS (\n  SELECT record_id, seq, row_number() OVER (PARTITION BY record_id ORDER BY seq "
                    "DESC) AS newest\n  FROM ",
                    t.history, "\n), gone AS (\n  DELETE FROM ", t.history,
                    " AS h USING ranked AS r\n  WHERE h.record_id = r.record_id AND h.seq = r.seq AND r.newest > "
                    "$1::bigint RETURNING 1\n)\nSELECT count(*) FROM gone")} {}

  postgres_record_tables tables;
  record_layout layout;
  std::string id;               // the id column, quoted
  std::string columns;          // the row's columns as read, in record_columns' order; the table is r
  std::string history_columns;  // a history entry's, in history_entry's order; the history table is h
  transition_sql transitions;   // fire() writes with these

  // $1 id
  statement get;
  // $1 id, $2 idempotency key (NULL: none): the row, then the history entry
  // that used the key (NULLs: none). read_locked holds the row until the
  // transaction ends: in an application's transaction, fire() writes what it read.
  statement read, read_locked;
  // The non-id columns, then the creation entry (from, to, event, payload,
  // idempotency key, at), then the announcement (channel, origin,
  // announce?). create_with_id takes the id first and, last, the id's
  // sequence (NULL: none), moved past the id. Nothing is written when the id
  // exists (ON CONFLICT DO NOTHING); returns the id written and its entry's seq.
  statement create, create_with_id;
  // $1 id
  statement history;
  // $1 id, $2 seq
  statement entry;
  // $1 states, $2 unchanged since: the records to prune, locked. prune then
  // deletes those ($3 ids) still to be pruned, with their history; trim keeps
  // each record's newest $1 entries.
  statement prune_lock, prune, trim;

  std::vector<const statement*> all() const {
    return {&get,     &read,  &read_locked, &create,           &create_with_id, &transitions.one,
            &history, &entry, &prune_lock,  &transitions.many, &prune,          &trim};
  }

  // A page of records: $1 after id, then $2 the state when `by_state`, then
  // one parameter per filter that is not NULL, then the limit.
  std::string query(bool by_state, const std::vector<std::size_t>& filtered, const std::vector<bool>& is_null) const {
    placeholders p;
    std::string sql = concat("SELECT ", columns, " FROM ", tables.table, " AS r WHERE r.", id, " > ", p.next());
    if (by_state) sql += concat(" AND r.", layout.columns.at(layout.state).sql, "::text = ", p.next("text"));
    for (std::size_t i = 0; i < filtered.size(); ++i) {
      const auto& column = layout.columns.at(filtered[i]);
      sql +=
          is_null[i] ? concat(" AND r.", column.sql, " IS NULL") : concat(" AND ", equals_expression(column, "r", p));
    }
    return concat(sql, " ORDER BY r.", id, " LIMIT ", p.next("bigint"));
  }

 private:
  std::string row_columns() const {
    std::string list;
    for (const auto& c : layout.columns) list += concat(list.empty() ? "" : ", ", read_expression(c, "r"));
    return list;
  }

  static std::string entry_columns() {
    return concat("h.record_id, h.seq, h.from_state, h.to_state, h.event, h.payload, h.idempotency_key, ",
                  iso8601_utc("h.at"));
  }

  std::string read_sql(bool locked) const {
    return concat("SELECT ", columns, ", ", history_columns, " FROM ", tables.table, " AS r LEFT JOIN ", tables.history,
                  " AS h ON h.record_id = r.", id, " AND h.idempotency_key = $2::text WHERE r.", id, " = $1",
                  locked ? " FOR UPDATE OF r" : "");
  }

  std::string create_sql(bool with_id) const {
    placeholders p;
    std::string names, values;
    if (with_id) {
      names = id;
      values = p.next(transitions.target.id.type);
    }
    for (const auto& c : transitions.target.written) {
      names += concat(names.empty() ? "" : ", ", c.sql);
      values += concat(values.empty() ? "" : ", ", p.next(c.type));
    }
    std::string sql = concat("WITH added AS (\n  INSERT INTO ", tables.table, " AS r (", names, ") VALUES (", values,
                             ") ON CONFLICT (", id, ") DO NOTHING RETURNING r.", id, " AS id, ",
                             transitions.highest_seq(concat("r.", id)), " AS last\n), ",
                             transitions.recorded_and_announced("added", p));
    if (!with_id) return concat(sql, "\nSELECT id, seq FROM recorded WHERE (SELECT count(*) FROM announced) >= 0");
    const std::string sequence = p.next("regclass");
    return concat(sql, ", bumped AS (\n  SELECT setval(", sequence, ", a.id) FROM added AS a WHERE ", sequence,
                  " IS NOT NULL AND a.id > coalesce(pg_sequence_last_value(", sequence,
                  "), 0)\n)\nSELECT id, seq FROM recorded"
                  " WHERE (SELECT count(*) FROM announced) >= 0 AND (SELECT count(*) FROM bumped) >= 0");
  }

  // A record in one of the states $states whose latest history entry is
  // older than $since (or that has none).
  std::string prunable(std::string_view states, std::string_view since) const {
    return concat("r.", layout.columns.at(layout.state).sql, "::text = ANY(", states,
                  "::text[]) AND coalesce((SELECT h.at FROM ", tables.history, " AS h WHERE h.record_id = r.", id,
                  " ORDER BY h.seq DESC LIMIT 1) < ", since, "::timestamptz, true)");
  }
};

}  // namespace errand::detail::pg
