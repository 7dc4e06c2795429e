#pragma once
// The one piece of code that writes a transition on PostgreSQL, for the job
// queue (errand::job_records on its jobs and history tables) and for every
// record store: the compare-and-set of the new row image (UPDATE … WHERE id
// AND version), the history entry with its seq, and pg_notify, as
// data-modifying CTEs of one statement, so that the three commit or roll back
// together and the announcement leaves only when they commit.
//
// The row's columns come from its record definition (record_columns.hpp) and
// the table as found (record_layout); the entry's from its described type
// (errand::history_record for the job queue, errand::history_entry<State>
// for records), whose first member names the row and whose `seq` is assigned
// here. Every value is cast to its column's type as the catalog names it.
//
// A batch passes one array per column and unnests them, so that any number of
// rows is one statement and one round trip; one row passes scalar parameters:
// a plan PostgreSQL makes in a fraction of the batch statement's time, and a
// primary-key lookup whatever the table's statistics.
//
// seq: the highest the row's history holds, plus one. Only the writer whose
// UPDATE matched holds the row's lock when it inserts, and a writer that
// waited for that lock finds the version moved and writes nothing, so no two
// writers take one seq. prune keeps a row's newest entries, so its sequence
// goes on after them.
//
// An announcement is "<tag> <origin> <row id> <seq> <word>" on the store's
// channel; the origin tells a store its own commits (delivered on the
// committing thread) from everyone else's.

#include <errand/error_text.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/detail/record_rows.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/record_schema.hpp>
#include <errand/record_columns.hpp>
#include <errand/store.hpp>

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace errand::detail::pg {

// A column as a statement names it and casts a value to it.
struct typed_column {
  std::string sql;   // quoted
  std::string type;  // as catalog_columns() names it
};

// Transitions one announcement names at most: a payload stays under
// PostgreSQL's limit of 8000 bytes (an entry is at most 40 bytes, the word a
// table's qualified name).
inline constexpr int transitions_per_announcement = 150;

// How a store's commits are announced.
struct announcement {
  std::string channel;
  bool enabled = true;  // postgres_options::notify
  std::string tag;      // the first word: "t" for a job, "r" for a record
  std::string word;     // the last: SQL over the history row inserted (its to_state), or a literal (a table's name)
  std::string only_if = "true";  // SQL over `word`: which transitions are announced
};

// Where a store's transitions go.
struct transition_target {
  std::string table;  // the rows' table, quoted and qualified
  typed_column id;
  typed_column version;
  std::vector<bool> writes;           // per field of the row, in record_columns() order: set by a transition?
  std::vector<typed_column> written;  // the columns of those fields, in that order
  std::string history;                // quoted and qualified
  std::string history_row;            // its column naming the row
  std::vector<typed_column> entry;    // its columns after that one and seq, in the entry type's member order
  announcement announced;
  std::string subject;  // a value that cannot be stored names the row "<subject> <id>"
};

// An entry's members: the first names the row, `seq` is assigned here, the
// rest are the entry's values.
inline bool is_entry_value(std::size_t member, std::string_view name) { return member != 0 && name != "seq"; }

// Where transitions of rows laid out as `layout` go, with entries of type
// Entry; the history table's columns are read from the catalog. `fixed` names
// the fields of the row that a transition never changes (the id is never
// written).
template <class Entry>
transition_target transition_target_for(transaction& tx, std::string table, const record_layout& layout,
                                        std::span<const std::string_view> fixed, std::string history,
                                        announcement announced, std::string subject) {
  transition_target t;
  t.table = std::move(table);
  t.announced = std::move(announced);
  t.subject = std::move(subject);
  const auto typed = [](const stored_column& c) { return typed_column{c.sql, c.type}; };
  t.id = typed(layout.columns.at(layout.id));
  t.version = typed(layout.columns.at(layout.version));
  for (std::size_t i = 0; i < layout.columns.size(); ++i) {
    const auto& c = layout.columns[i];
    const bool writes = i != layout.id && std::find(fixed.begin(), fixed.end(), c.column.field) == fixed.end();
    t.writes.push_back(writes);
    if (writes) t.written.push_back(typed(c));
  }
  const auto found = catalog_columns(tx, history);
  t.history = std::move(history);
  std::size_t member = 0;
  boost::mp11::mp_for_each<detail::public_members<Entry>>([&](auto m) {
    const std::string name(column_name(m.name));
    const auto column = std::find_if(found.begin(), found.end(), [&](const row& cells) { return cells.at(0) == name; });
    if (column == found.end())
      throw store_error(
          concat("errand: ", t.history, " has no column ", errand::detail::quoted(name), "; nothing was changed"));
    const std::size_t index = member++;
    if (index == 0)
      t.history_row = postgres_identifier(name);
    else if (is_entry_value(index, m.name))
      t.entry.push_back({postgres_identifier(name), column->at(1).value_or("")});
  });
  return t;
}

// The statements that write transitions to one target. They join nothing:
// the rows the UPDATE moved carry their entries' values and their history's
// highest seq out of it, so that a plan made for a guessed number of rows
// (PostgreSQL's generic plan guesses ten for an array) never turns a join of
// 500 rows into 250,000 comparisons.
struct transition_sql {
  explicit transition_sql(transition_target t)
      : target(std::move(t)), one{"errand_transition", one_sql()}, many{"errand_transitions", many_sql()} {}

  transition_target target;
  // $1 id, $2 expected version, the written columns, the entry's columns
  // (NULL: none, as for a heartbeat), the channel, the origin, announce?.
  // Returns the id of the row written and the seq its entry was given (or
  // would have been, when it had none); nothing when the row was not at the
  // version expected.
  statement one;
  // The same with one array per column, one element per row (ids distinct);
  // a row for each written.
  statement many;

  // The highest seq the history holds for the row `id` names (NULL: none).
  std::string highest_seq(std::string_view id) const {
    return concat("(SELECT h.seq FROM ", target.history, " AS h WHERE h.", target.history_row, " = ", id,
                  " ORDER BY h.seq DESC LIMIT 1)");
  }

  // "recorded AS (…), announced AS (…)": the entry of every row of the CTE
  // `source` (columns `id` and `last`, the highest_seq() of id) and its
  // announcement, for statements of a store's own (a record's creation). The
  // entry's values, the channel, the origin and announce? are the next
  // parameters.
  std::string recorded_and_announced(std::string_view source, placeholders& p) const {
    std::vector<std::string> values;
    for (const auto& c : target.entry) values.push_back(p.next(c.type));
    return recorded_and_announced(source, values, p);
  }

  // The same with the entry's values as SQL expressions over `s`, a row of
  // `source`, or parameters.
  std::string recorded_and_announced(std::string_view source, const std::vector<std::string>& values,
                                     placeholders& p) const {
    std::string columns, selected;
    for (std::size_t i = 0; i < values.size(); ++i) {
      columns += concat(", ", target.entry[i].sql);
      selected += concat(", ", values[i]);
    }
    const std::string channel = p.next("text"), origin = p.next("text"), enabled = p.next("boolean");
    return concat("recorded AS (\n  INSERT INTO ", target.history, " (", target.history_row, ", seq", columns,
                  ")\n  SELECT s.id, coalesce(s.last, 0) + 1", selected, " FROM ", source, " AS s WHERE ", values.at(0),
                  " IS NOT NULL\n  RETURNING ", target.history_row, " AS id, seq, ", target.announced.word,
                  " AS word\n), announced AS (\n  SELECT pg_notify(", channel, ", concat_ws(' ', ",
                  sql_literal(target.announced.tag), ", ", origin,
                  ", string_agg(e.id || ':' || e.seq, ',' ORDER BY e.id), e.word))\n  FROM (SELECT id, seq, word, "
                  "(row_number() OVER (PARTITION BY word ORDER BY id) - 1) / ",
                  std::to_string(transitions_per_announcement), " AS part FROM recorded WHERE ", enabled, " AND (",
                  target.announced.only_if, ")) AS e GROUP BY e.word, e.part\n)");
  }

 private:
  // The UPDATE's RETURNING: the row's id and its history's highest seq, then `carried`.
  std::string moved_rows(std::string_view carried) const {
    return concat("\n  RETURNING r.", target.id.sql, " AS id, ", highest_seq(concat("r.", target.id.sql)), " AS last",
                  carried, "\n), ");
  }

  static constexpr std::string_view written_rows =
      "\nSELECT id, coalesce(last, 0) + 1 FROM moved WHERE (SELECT count(*) FROM announced) >= 0";

  std::string one_sql() const {
    placeholders p;
    const std::string id = p.next(target.id.type), version = p.next(target.version.type);
    std::string assignments;
    for (const auto& c : target.written)
      assignments += concat(assignments.empty() ? "" : ", ", c.sql, " = ", p.next(c.type));
    std::vector<std::string> values;
    for (const auto& c : target.entry) values.push_back(p.next(c.type));
    return concat("WITH moved AS (\n  UPDATE ", target.table, " AS r SET ", assignments, "\n  WHERE r.", target.id.sql,
                  " = ", id, " AND r.", target.version.sql, " = ", version, moved_rows(""),
                  recorded_and_announced("moved", values, p), written_rows);
  }

  std::string many_sql() const {
    placeholders p;
    const std::string ids = p.next(target.id.type + "[]"), versions = p.next(target.version.type + "[]");
    std::string arrays = concat(ids, ", ", versions);
    std::string names = "id, expected_version", assignments, carried;
    for (std::size_t i = 0; i < target.written.size(); ++i) {
      const auto& c = target.written[i];
      arrays += concat(", ", p.next(c.type + "[]"));
      names += concat(", c", std::to_string(i));
      assignments += concat(assignments.empty() ? "" : ", ", c.sql, " = i.c", std::to_string(i));
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < target.entry.size(); ++i) {
      const auto name = concat("e", std::to_string(i));
      arrays += concat(", ", p.next(target.entry[i].type + "[]"));
      names += concat(", ", name);
      carried += concat(", i.", name);
      values.push_back(concat("s.", name));
    }
    // The ids are named twice: joined to the input alone, a batch of hundreds
    // can be planned as a hash of the whole table, where ANY keeps the scan
    // to the batch's rows.
    return concat("WITH input AS (\n  SELECT * FROM unnest(", arrays, ")\n    AS i(", names,
                  ")\n), moved AS (\n  UPDATE ", target.table, " AS r SET ", assignments,
                  "\n  FROM input AS i\n  WHERE r.", target.id.sql, " = ANY(", ids, ") AND r.", target.id.sql,
                  " = i.id AND r.", target.version.sql, " = i.expected_version", moved_rows(carried),
                  recorded_and_announced("moved", values, p), written_rows);
  }
};

// The row's written fields, in the order of the target's columns.
template <record_definition D>
void append_written(std::vector<cell>& cells, const transition_target& t, const typename D::row& row) {
  std::size_t field = 0;
  boost::mp11::mp_for_each<detail::public_members<typename D::row>>([&](auto member) {
    if (t.writes.at(field++)) cells.push_back(to_cell(to_column_value(row.*member.pointer)));
  });
}

// The entry's values, or NULLs for none.
template <class Entry>
void append_entry(std::vector<cell>& cells, const transition_target& t, const Entry* entry) {
  if (!entry) {
    cells.resize(cells.size() + t.entry.size());
    return;
  }
  std::size_t member = 0;
  boost::mp11::mp_for_each<detail::public_members<Entry>>([&](auto m) {
    if (is_entry_value(member++, m.name)) cells.push_back(to_cell(to_column_value(entry->*m.pointer)));
  });
}

// The channel, the origin and announce?, which end every writing statement.
inline void append_announcement(std::vector<cell>& cells, const transition_target& t, const std::string& origin) {
  cells.push_back(t.announced.channel);
  cells.push_back(origin);
  cells.push_back(t.announced.enabled ? "true" : "false");
}

// PostgreSQL text holds no NUL byte and no invalid UTF-8, and a libpq
// parameter would end silently at a NUL: such a value is refused before
// anything is sent.
inline void refuse_unstorable_cells(std::span<const cell> cells, const transition_target& t, std::int64_t id) {
  for (const auto& value : cells)
    if (value)
      if (const auto why = unstorable_reason(*value))
        throw store_error(concat("errand: ", t.subject, " ", std::to_string(id), " ", *why, "; nothing was written"));
}

template <record_definition D, class Entry>
struct transition {
  const typename D::row& next;
  std::int64_t expected_version;
  const Entry* entry;  // nullptr: the row moves without an entry (a heartbeat)
};

// Writes every transition whose row is still at its expected version.
// Returns, for each in order, its entry's seq (0: written without an entry),
// or nullopt when it was not written. Distinct rows are one statement; a row
// written twice is written by one statement per transition, in order, up to
// the first that is not written (the next expects the version it would have
// left).
template <record_definition D, class Entry>
std::vector<std::optional<std::int64_t>> write_transitions(transaction& tx, const transition_sql& sql,
                                                           std::span<const transition<D, Entry>> transitions,
                                                           const std::string& origin) {
  using traits = record_traits<D>;
  std::vector<std::optional<std::int64_t>> written(transitions.size());
  if (transitions.empty()) return written;
  std::set<std::int64_t> ids;
  for (const auto& t : transitions) ids.insert(traits::id(t.next));
  if (ids.size() != transitions.size()) {
    for (std::size_t i = 0; i < transitions.size(); ++i)
      if (!(written[i] = write_transitions(tx, sql, transitions.subspan(i, 1), origin).front())) break;
    return written;
  }
  const auto cells_of = [&](const transition<D, Entry>& t) {
    std::vector<cell> cells;
    cells.reserve(2 + sql.target.written.size() + sql.target.entry.size() + 3);
    cells.push_back(text_of(traits::id(t.next)));
    cells.push_back(text_of(t.expected_version));
    append_written<D>(cells, sql.target, t.next);
    append_entry(cells, sql.target, t.entry);
    refuse_unstorable_cells(cells, sql.target, traits::id(t.next));
    return cells;
  };
  std::vector<cell> params;
  if (transitions.size() == 1) {
    params = cells_of(transitions.front());
  } else {
    std::vector<std::vector<cell>> columns;
    for (const auto& t : transitions) {
      auto cells = cells_of(t);
      columns.resize(cells.size());
      for (std::size_t i = 0; i < cells.size(); ++i) columns[i].push_back(std::move(cells[i]));
    }
    for (const auto& column : columns) params.push_back(array_literal(column));
  }
  append_announcement(params, sql.target, origin);
  const auto& s = transitions.size() == 1 ? sql.one : sql.many;
  std::map<std::int64_t, std::int64_t> seq_of;
  for (const auto& cells : tx.exec_statement(s.name, s.sql, params))
    seq_of[integer_of(cells.at(0))] = integer_of(cells.at(1));
  for (std::size_t i = 0; i < transitions.size(); ++i)
    if (const auto found = seq_of.find(traits::id(transitions[i].next)); found != seq_of.end())
      written[i] = transitions[i].entry ? found->second : 0;
  return written;
}

// An announcement's words, split at `separator`; the last of at most `most`
// holds the rest of the text, separators and all.
inline std::vector<std::string> split_words(std::string_view text,
                                            std::size_t most = std::numeric_limits<std::size_t>::max(),
                                            char separator = ' ') {
  std::vector<std::string> words;
  for (std::size_t start = 0; start <= text.size();) {
    const auto end =
        words.size() + 1 == most ? text.size() : std::min(text.find(separator, start), text.size());
    words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// A committed transition as another process's LISTEN thread hears of it.
struct announced_transition {
  std::string origin;
  std::int64_t id = 0;
  std::int64_t seq = 0;
  std::string word;
};

inline bool read_number(std::string_view text, std::int64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc{} && end == text.data() + text.size() && !text.empty();
}

// "<tag> <origin> <id>:<seq>,<id>:<seq>… <word>" (the word may hold
// spaces): the transitions of one statement that share their word. An
// errand before one announcement per statement sent "<tag> <origin> <id>
// <seq> <word>" per transition; a process mid-upgrade still hears it. Empty
// for any other payload.
inline std::vector<announced_transition> read_announcements(const std::string& payload, std::string_view tag) {
  const auto words = split_words(payload, 4);
  if (words.size() != 4 || words[0] != tag) return {};
  std::vector<announced_transition> heard;
  if (words[2].find(':') == std::string::npos) {
    const auto one = split_words(payload, 5);
    announced_transition t{one[1], 0, 0, one.size() == 5 ? one[4] : std::string()};
    if (one.size() == 5 && read_number(one[2], t.id) && read_number(one[3], t.seq)) heard.push_back(std::move(t));
    return heard;
  }
  for (const auto& entry : split_words(words[2], std::numeric_limits<std::size_t>::max(), ',')) {
    const auto colon = entry.find(':');
    announced_transition t{words[1], 0, 0, words[3]};
    if (colon == std::string::npos || !read_number(std::string_view(entry).substr(0, colon), t.id) ||
        !read_number(std::string_view(entry).substr(colon + 1), t.seq))
      return {};
    heard.push_back(std::move(t));
  }
  return heard;
}

}  // namespace errand::detail::pg
