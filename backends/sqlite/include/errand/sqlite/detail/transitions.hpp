#pragma once
// How a SQLite store writes a transition, once for every machine it keeps:
// the job queue (the job row and errand::history_record) and each record
// store (its definition's row and errand::history_entry<State>) move a row
// through this and nothing else.
//
//   UPDATE <rows> SET <the columns a transition may change> WHERE <id> = ? AND <version> = ?
//   SELECT coalesce(max(seq), 0) + 1 FROM <history> WHERE <owner> = ?
//   INSERT INTO <history> (<owner>, seq, ...) VALUES (?, ?, ...)
//
// both inside a transaction the caller holds, and the listeners told once it
// has committed, outside the store's lock. The row's columns come from its
// record definition (record_columns.hpp), the history's from its described
// type, whose first members are the owner's id and seq.
//
// A history entry's seq is its owner's highest + 1, read from the history:
// the writer holds SQLite's write lock (BEGIN IMMEDIATE, or the application's
// transaction, which took it at its first write: the UPDATE, or a create's
// INSERT), so no two writers take one number, and the primary key (owner, seq) that finds the highest would
// refuse a second one all the same. Nothing on the row counts entries, so an
// application's table carries no column of errand's but the version, and
// "keep each owner's last N entries" is "seq > highest - N" on the history
// alone (trim_history). The seq is read by a statement of its own rather
// than inside the INSERT (INSERT … SELECT … FROM <history>, or RETURNING):
// SQLite runs either through a temporary table, which cost more than the
// lookup (docs/benchmarks.md).

#include <errand/detail/listeners.hpp>
#include <errand/detail/text.hpp>
#include <errand/record.hpp>
#include <errand/record_columns.hpp>
#include <errand/sqlite/detail/connection.hpp>
#include <errand/sqlite/detail/record_rows.hpp>
#include <errand/sqlite/detail/rows.hpp>
#include <errand/sqlite/schema.hpp>
#include <errand/sqlite/sqlite_transaction.hpp>
#include <errand/subscription.hpp>

#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace errand::detail::sqlite {

// Whether History is numbered as the writer numbers it: a described type
// whose first member is the owner's id and whose second is the seq.
template <class History>
constexpr bool numbered_history() {
  using members = public_members<History>;
  if constexpr (boost::mp11::mp_size<members>::value < 2)
    return false;
  else
    return std::string_view(boost::mp11::mp_at_c<members, 1>::name) == "seq";
}

// D's rows in `rows_table`, their history of History entries in
// `history_table`, and the listeners that hear of each committed transition
// as a Note{row, entry}.
template <record_definition D, class History, class Note>
class transition_writer {
  static_assert(numbered_history<History>(),
                "errand sqlite: a history type's members begin with its owner's id, then seq");
  using traits = record_traits<D>;

 public:
  using row_type = typename D::row;

  // `unchanged_fields` are fields no transition changes (the job queue's
  // identity, fixed at enqueue): the UPDATE leaves them out, so that a
  // transition costs the same whatever they hold.
  transition_writer(std::string_view rows_table, std::string_view history_table,
                    std::span<const std::string_view> unchanged_fields = {}) {
    const auto columns = record_columns<D>();
    const auto is_named = [&](std::string_view field) {
      return std::find(unchanged_fields.begin(), unchanged_fields.end(), field) != unchanged_fields.end();
    };
    for (const auto field : unchanged_fields)
      if (std::none_of(columns.begin(), columns.end(), [&](const record_column& c) { return c.field == field; }))
        throw std::logic_error(concat("errand sqlite: '", field, "' is no field of ", traits::table, "'s row"));
    std::string assignments;
    std::string id_parameter;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string parameter = concat("?", std::to_string(i + 1));
      const bool id = columns[i].field == traits::id_field;
      bound_.push_back(id || !is_named(columns[i].field));
      if (id)
        id_parameter = parameter;
      else if (bound_.back())
        assignments += concat(assignments.empty() ? "" : ", ", sqlite_identifier(columns[i].name), " = ", parameter);
    }
    const std::string rows = sqlite_identifier(rows_table);
    const std::string history = sqlite_identifier(history_table);
    const std::string owner = std::string(column_name(boost::mp11::mp_at_c<public_members<History>, 0>::name));
    const std::string id = sqlite_identifier(traits::column_of(traits::id_field));
    const std::string version = sqlite_identifier(traits::column_of(traits::version_field));
    const std::string expected = concat("?", std::to_string(columns.size() + 1));
    update_.sql = concat("UPDATE ", rows, " SET ", assignments, " WHERE ", id, " = ", id_parameter, " AND ", version,
                         " = ", expected);
    std::string values = "?1";
    for (int i = 2; i <= column_count<History>; ++i) values += concat(", ?", std::to_string(i));
    next_seq_.sql = concat("SELECT coalesce(max(seq), 0) + 1 FROM ", history, " WHERE ", owner, " = ?1");
    append_.sql = concat("INSERT INTO ", history, " (", column_list<History>(), ") VALUES (", values, ")");
    trim_.sql = concat("DELETE FROM ", history, " WHERE seq <= (SELECT max(seq) FROM ", history,
                       " AS latest WHERE latest.", owner, " = ", history, ".", owner, ") - ?1");
  }

  transition_writer(const transition_writer&) = delete;
  transition_writer& operator=(const transition_writer&) = delete;

  // Writes `next` over its row if the row is still at `expected_version`,
  // then appends `entry`, when there is one, to the row's history and sets
  // its seq. False when no row is at that version: nothing was written. On
  // `db`, inside the transaction the caller holds there; `home` is the
  // store's own connection, whose prepared statements serve when `db` is it.
  bool write(connection& db, const connection& home, const row_type& next, std::int64_t expected_version,
             History* entry) {
    {
      auto c = use_on(db, home, update_);
      int column = 0;
      boost::mp11::mp_for_each<public_members<row_type>>([&](auto member) {
        if (bound_[static_cast<std::size_t>(column)]) bind_field(c, column + 1, next.*member.pointer);
        ++column;
      });
      c.bind(column + 1, expected_version);
      c.step();
      if (c.changes() != 1) return false;
    }
    if (entry) append(db, home, *entry);
    return true;
  }

  // Appends `entry` to its owner's history as the next seq, which it sets.
  void append(connection& db, const connection& home, History& entry) {
    {
      auto c = use_on(db, home, next_seq_);
      bind_field(c, 1, entry.*boost::mp11::mp_front<public_members<History>>::pointer);
      c.step();
      entry.seq = c.integer(0);
    }
    auto c = use_on(db, home, append_);
    int column = 0;
    boost::mp11::mp_for_each<public_members<History>>(
        [&](auto member) { bind_field(c, ++column, entry.*member.pointer); });
    c.step();
  }

  // Deletes all but each owner's last `keep` entries; how many it deleted.
  std::int64_t trim_history(connection& home, std::size_t keep) {
    auto c = home.use(trim_);
    c.bind(1, as_sql_count(keep));
    c.step();
    return c.changes();
  }

  subscription subscribe(std::function<void(const Note&)> on_commit) { return listeners_->add(std::move(on_commit)); }

  // What the listeners are to hear of `row` and `entry` once the transaction
  // that wrote them has committed; nothing when nobody listens, so that no
  // row is copied for nobody.
  std::optional<Note> note(const row_type& row, const History& entry) const {
    if (listeners_->empty()) return std::nullopt;
    return Note{row, entry};
  }

  // Call after the commit, outside the store's lock: a listener may call the store.
  void notify(const Note& committed) const { listeners_->notify(committed); }

  // The listeners hear of it after `transaction` commits, if this writer
  // still exists then, and never after a rollback.
  void notify_after(sqlite_transaction& transaction, Note written) const {
    transaction.after_commit([listeners = std::weak_ptr(listeners_), note = std::move(written)] {
      if (const auto alive = listeners.lock()) alive->notify(note);
    });
  }

 private:
  std::vector<bool> bound_;  // by column: the UPDATE takes its value (the id, and every column it sets)
  fixed_statement update_, next_seq_, append_, trim_;
  std::shared_ptr<listener_set<Note>> listeners_ = std::make_shared<listener_set<Note>>();
};

}  // namespace errand::detail::sqlite
