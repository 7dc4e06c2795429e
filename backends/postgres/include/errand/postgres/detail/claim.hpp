#pragma once
// The claim as one statement: the due rows locked (FOR NO KEY UPDATE SKIP
// LOCKED), moved, given their history entries and announced, in one round
// trip, where the claim in a transaction takes four (BEGIN, the SELECT, the
// write, COMMIT).
//
// decide() stays the one place the lifecycle lives. A claim changes a job in
// three ways: some columns it sets to values that do not depend on the row
// (the state, the worker, the lease, the cleared error), two it counts up
// (attempt, version), the rest it keeps. The statement's text fixes which
// column is which, and the values it sets come, at every call, from decide()
// on a stand-in row. When the statement is built, decide() on two stand-ins
// that differ in every column proves the division still holds: were the
// lifecycle changed so that a claim keeps, counts or sets another column,
// opening the store throws std::logic_error. The conformance suite compares the rows it writes with
// decide() on random jobs.

#include <errand/decide.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>
#include <errand/postgres/detail/record_rows.hpp>
#include <errand/postgres/detail/rows.hpp>
#include <errand/postgres/detail/transitions.hpp>
#include <errand/record_columns.hpp>

#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace errand::detail::pg {

enum class claim_effect { kept, counted, set };

inline claim_effect claim_effect_on(std::string_view field) {
  constexpr std::array<std::string_view, 2> counted{"attempt", "version"};
  constexpr std::array<std::string_view, 9> set{"state",         "worker",          "lease_until",
                                                "heartbeat_at",  "last_error",      "last_error_kind",
                                                "last_error_at", "detail",          "updated_at"};
  if (std::find(counted.begin(), counted.end(), field) != counted.end()) return claim_effect::counted;
  if (std::find(set.begin(), set.end(), field) != set.end()) return claim_effect::set;
  return claim_effect::kept;
}

// In the history entry of a claimed row, these come from the row: the state
// it left and the attempt it started.
inline bool entry_value_from_row(std::string_view member) { return member == "from" || member == "attempt"; }

// Two claimable rows that differ in every column, due at `now`.
inline std::array<job, 2> claim_stand_ins(time_point now) {
  using namespace std::chrono_literals;
  return {job{.id = 1,
              .queue = "a",
              .kind = "a",
              .payload = "{}",
              .state = claimable_states.front(),
              .priority = 0,
              .attempt = 0,
              .max_attempts = 3,
              .run_at = now - 1s,
              .worker = {},
              .lease_until = {},
              .heartbeat_at = {},
              .last_error = {},
              .last_error_kind = {},
              .last_error_at = {},
              .detail = {},
              .version = 1,
              .unique_key = {},
              .created_at = now - 1h,
              .updated_at = now - 1h},
          job{.id = 2,
              .queue = "b",
              .kind = "b",
              .payload = "[]",
              .state = claimable_states.back(),
              .priority = 3,
              .attempt = 2,
              .max_attempts = 5,
              .run_at = now - 2s,
              .worker = "stand-in",
              .lease_until = now - 10s,
              .heartbeat_at = now - 20s,
              .last_error = "stand-in",
              .last_error_kind = "stand-in",
              .last_error_at = now - 5s,
              .detail = "stand-in",
              .version = 7,
              .unique_key = "stand-in",
              .created_at = now - 2h,
              .updated_at = now - 2h}};
}

// Throws std::logic_error unless decide() still claims as the statement
// assumes: on the two stand-ins, the columns it sets get the same value, the
// counted ones one more, the kept ones none, and the entry's values that do
// not come from the row are the same. Checked once, when the statement is
// built: it is a fact about the lifecycle, not about a call.
inline void require_claim_matches_decide() {
  const time_point now = time_point{} + std::chrono::hours(24 * 365 * 50);
  const auto rows = claim_stand_ins(now);
  const claim event{"stand-in worker", std::chrono::seconds(30)};
  const decision da = decide(rows[0], event, retry_policy{}, now), db = decide(rows[1], event, retry_policy{}, now);
  const auto differs = [](std::string_view what) {
    return std::logic_error(concat("errand: the PostgreSQL claim statement no longer matches decide(): ", what));
  };
  if (!da.applied() || !db.applied() || !da.record || !db.record) throw differs("a due job is not claimed");
  boost::mp11::mp_for_each<detail::public_members<job>>([&](auto m) {
    const auto& before_a = rows[0].*m.pointer;
    const auto& before_b = rows[1].*m.pointer;
    const auto& after_a = da.next.*m.pointer;
    const auto& after_b = db.next.*m.pointer;
    bool holds = after_a == after_b;
    if constexpr (std::is_arithmetic_v<std::remove_cvref_t<decltype(before_a)>>)
      if (claim_effect_on(m.name) == claim_effect::counted) holds = after_a == before_a + 1 && after_b == before_b + 1;
    if (claim_effect_on(m.name) == claim_effect::kept) holds = after_a == before_a && after_b == before_b;
    if (!holds) throw differs(concat("column ", m.name));
  });
  const auto& ra = *da.record;
  const auto& rb = *db.record;
  if (ra.from != rows[0].state || rb.from != rows[1].state || ra.attempt != da.next.attempt ||
      rb.attempt != db.next.attempt)
    throw differs("the history entry's from or attempt");
  std::size_t member_index = 0;
  boost::mp11::mp_for_each<detail::public_members<history_record>>([&](auto m) {
    if (is_entry_value(member_index++, m.name) && !entry_value_from_row(m.name) && !(ra.*m.pointer == rb.*m.pointer))
      throw differs(concat("the history entry's ", m.name));
  });
}

// The claim's values as decide() makes them: the columns the claim sets,
// then the entry's values that do not come from the row, in the statement's
// order. Also the entry every claimed row gets, but for its job, seq, from
// and attempt.
struct claim_values {
  std::vector<cell> parameters;
  history_record entry;
};

inline claim_values claim_parameters(const claim& event, time_point now) {
  const decision d = decide(claim_stand_ins(now)[0], event, retry_policy{}, now);
  if (!d.applied() || !d.record)
    throw std::logic_error("errand: the PostgreSQL claim statement no longer matches decide(): a due job is not claimed");
  claim_values out;
  boost::mp11::mp_for_each<detail::public_members<job>>([&](auto m) {
    if (claim_effect_on(m.name) == claim_effect::set) out.parameters.push_back(to_cell(to_column_value(d.next.*m.pointer)));
  });
  std::size_t member_index = 0;
  boost::mp11::mp_for_each<detail::public_members<history_record>>([&](auto m) {
    if (is_entry_value(member_index++, m.name) && !entry_value_from_row(m.name))
      out.parameters.push_back(to_cell(to_column_value((*d.record).*m.pointer)));
  });
  out.entry = *d.record;
  return out;
}

// `select_due` (a SELECT of `jobs AS j`'s due rows, up to its WHERE) in
// claim order, at most `limit` rows, locked. The limit is given twice. A plan
// made for its value on a table never analysed, whose due rows the planner
// guesses at a handful, reads every due row and sorts them all to keep the
// first few hundred, a cost that grows with the backlog: the inner LIMIT, a
// sub-select whose value the planner cannot see, keeps the ordered scan of
// the claim index whatever the statistics. The outer one tells the rest of
// the statement how many rows to expect, so that on an analysed table with a
// long backlog the claim still finds its rows by primary key instead of
// hashing the whole table.
inline std::string due_in_claim_order(std::string_view select_due, std::string_view limit) {
  return concat("SELECT * FROM (", select_due, " ORDER BY priority, run_at, id LIMIT (SELECT ", limit,
                ") FOR NO KEY UPDATE OF j SKIP LOCKED) AS due LIMIT ", limit);
}

// The claim statement's parameters (see one_statement_claim_sql): `queues`
// only for the statement `in_queues`.
inline std::vector<cell> one_statement_claim_parameters(const claim_values& values, time_point now,
                                                        std::int64_t limit, const cell& queues,
                                                        const transition_target& target, const std::string& origin) {
  std::vector<cell> params{text_of(now), text_of(limit)};
  if (queues) params.push_back(queues);
  params.insert(params.end(), values.parameters.begin(), values.parameters.end());
  append_announcement(params, target, origin);
  return params;
}

// The claim statement over the transitions' target. Its parameters: now,
// the most rows to claim, the queues (with `in_queues`), then
// claim_parameters(). `due_rows` is the FROM and WHERE of the claimable rows
// of `jobs AS j` due at the first parameter; with `in_queues` the claim keeps
// to the queues the third names. Returns the claimed rows in claim order (job
// columns, the seq of the entry, the state they left), or, when a queue the claim may take from has
// a limit, one row of NULLs whose last column is true: a limited queue's
// room is counted in a transaction.
inline std::string one_statement_claim_sql(const transition_sql& sql, const std::string& queues_table,
                                           const std::string& due_rows, bool in_queues) {
  require_claim_matches_decide();
  const auto& t = sql.target;
  placeholders p;
  p.next("timestamptz");  // now, which due_rows names
  const std::string limit = p.next("bigint");
  const std::string queues = in_queues ? p.next("text[]") : std::string();
  std::string assignments;
  std::size_t field = 0, column = 0;
  boost::mp11::mp_for_each<detail::public_members<job>>([&](auto member) {
    if (!t.writes.at(field++)) return;
    const auto& c = t.written.at(column++);
    const auto effect = claim_effect_on(member.name);
    if (effect == claim_effect::kept) return;
    assignments += concat(assignments.empty() ? "" : ", ", c.sql, " = ",
                          effect == claim_effect::counted ? concat("r.", c.sql, " + 1") : p.next(c.type));
  });
  std::vector<std::string> entry;
  std::size_t member_index = 0, entry_column = 0;
  boost::mp11::mp_for_each<detail::public_members<history_record>>([&](auto m) {
    if (!is_entry_value(member_index++, m.name)) return;
    const auto& c = t.entry.at(entry_column++);
    entry.push_back(entry_value_from_row(m.name) ? concat("s.", m.name == std::string_view("from") ? "was" : "attempt")
                                                 : p.next(c.type));
  });
  const std::string queue_filter = in_queues ? concat(" AND queue = ANY(", queues, ")") : std::string();
  return concat("WITH limited AS (\n  SELECT EXISTS (SELECT 1 FROM ", queues_table,
                " WHERE max_running IS NOT NULL", queue_filter, ") AS found\n), picked AS (\n  ",
                due_in_claim_order(concat("SELECT j.id AS picked_id, j.state AS was", due_rows, queue_filter,
                                          " AND NOT (SELECT found FROM limited)"),
                                   limit),
                "\n), moved AS (\n  UPDATE ", t.table, " AS r SET ",
                assignments, "\n  FROM picked AS p WHERE r.", t.id.sql, " = p.picked_id\n  RETURNING r.*, ",
                sql.highest_seq(concat("r.", t.id.sql)), " AS last, p.was\n), ",
                sql.recorded_and_announced("moved", entry, p), "\nSELECT ", select_list<job>("m"),
                ", coalesce(m.last, 0) + 1, m.was, l.found FROM limited AS l LEFT JOIN moved AS m ON true\n",
                "WHERE (SELECT count(*) FROM announced) >= 0 ORDER BY m.priority, m.run_at, m.id");
}

}  // namespace errand::detail::pg
