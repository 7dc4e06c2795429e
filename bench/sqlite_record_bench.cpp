// The SQLite record store measured. See "Records" / "SQLite" in docs/benchmarks.md.
//
//   record_transition/sqlite_record_store   one fire() of the chat machine
//                                           (acquire, turn_done, user_message,
//                                           round and round) through
//                                           errand::sqlite_record_store
//   record_transition/raw_sqlite3           the same transaction written by hand
//                                           against the sqlite3 C API: BEGIN
//                                           IMMEDIATE, read the row, decide with
//                                           a switch, the compare-and-set UPDATE
//                                           of every column, the history INSERT
//                                           with the next seq, COMMIT
//
// Both run on a file under $TMPDIR with the same tables (the store creates
// them), in WAL mode with synchronous=NORMAL, the store's defaults.

#include "support/bench_file.hpp"
#include "support/raw_sqlite.hpp"
#include <errand/conformance/record_machines.hpp>
#include <errand/sqlite/sqlite_record_store.hpp>

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace {

using errand::conformance::chats;
namespace chat_events = errand::conformance::chat_events;
using errand_bench::bench_file;
using errand_bench::bind_text;

const errand::time_point t0 = *errand::from_iso8601("2026-11-30T10:00:00.000000Z");

errand::conformance::chat new_chat() {
  errand::conformance::chat c;
  c.title = "support request";
  return c;
}

void transition_store(benchmark::State& state) {
  bench_file file("record-transition-store");
  errand::sqlite_record_store<chats> store(file.path());
  const auto id = store.create(new_chat(), t0).id;
  std::int64_t turn = 0;
  for (auto _ : state) {
    errand::fire_result<chats> result;
    switch (turn++ % 3) {
      case 0:
        result = store.fire(id, chat_events::acquire{"w1"}, t0);
        break;
      case 1:
        result = store.fire(id, chat_events::turn_done{}, t0);
        break;
      default:
        result = store.fire(id, chat_events::user_message{"hello"}, t0);
        break;
    }
    if (!result) state.SkipWithError(result.message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

// The chat row as hand-written code reads it.
struct raw_chat {
  std::string status, title;
  std::optional<std::string> worker, heartbeat_at, last_error, last_error_at;
  std::int64_t version = 0;
};

void transition_raw(benchmark::State& state) {
  bench_file file("record-transition-raw");
  std::int64_t id = 0;
  {
    errand::sqlite_record_store<chats> schema(file.path());  // the same tables
    id = schema.create(new_chat(), t0).id;
  }
  errand_bench::raw_sqlite raw(file.path());
  sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = raw.prepare("COMMIT");
  sqlite3_stmt* select = raw.prepare(
      "SELECT id, status, title, worker, heartbeat_at, last_error, last_error_at, version FROM conformance_chats "
      "WHERE id = ?1");
  sqlite3_stmt* update = raw.prepare(
      "UPDATE conformance_chats SET status = ?2, title = ?3, worker = ?4, heartbeat_at = ?5, last_error = ?6, "
      "last_error_at = ?7, version = ?8 WHERE id = ?1 AND version = ?9");
  sqlite3_stmt* next_seq =
      raw.prepare("SELECT coalesce(max(seq), 0) + 1 FROM conformance_chats_history WHERE record_id = ?1");
  sqlite3_stmt* append = raw.prepare(
      "INSERT INTO conformance_chats_history (record_id, seq, from_state, to_state, event, payload, "
      "idempotency_key, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)");
  const auto column = [](sqlite3_stmt* s, int i) {
    return std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, i)),
                       static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
  };
  const auto maybe_column = [&](sqlite3_stmt* s, int i) -> std::optional<std::string> {
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
    return column(s, i);
  };
  const std::string worker = "w1";
  std::int64_t turn = 0;
  for (auto _ : state) {
    const std::string now = errand::to_iso8601(t0);
    raw.run(begin);

    sqlite3_bind_int64(select, 1, id);
    if (sqlite3_step(select) != SQLITE_ROW) state.SkipWithError("not found");
    raw_chat row{
        column(select, 1),       column(select, 2),       maybe_column(select, 3),        maybe_column(select, 4),
        maybe_column(select, 5), maybe_column(select, 6), sqlite3_column_int64(select, 7)};
    sqlite3_reset(select);

    const std::string from = row.status;
    std::string event, payload;
    switch (turn++ % 3) {
      case 0:
        if (row.status != "pending") state.SkipWithError("acquire refused");
        row.status = "running";
        row.worker = worker;
        row.heartbeat_at = now;
        event = "acquire";
        payload = R"({"worker":"w1"})";
        break;
      case 1:
        if (row.status != "running") state.SkipWithError("turn_done refused");
        row.status = "waiting";
        row.worker.reset();
        row.heartbeat_at.reset();
        event = "turn_done";
        payload = "{}";
        break;
      default:
        if (row.status != "waiting") state.SkipWithError("user_message refused");
        row.status = "pending";
        event = "user_message";
        payload = R"({"text":"hello"})";
        break;
    }
    row.last_error.reset();
    row.last_error_at.reset();

    sqlite3_bind_int64(update, 1, id);
    bind_text(update, 2, row.status);
    bind_text(update, 3, row.title);
    bind_text(update, 4, row.worker);
    bind_text(update, 5, row.heartbeat_at);
    bind_text(update, 6, row.last_error);
    bind_text(update, 7, row.last_error_at);
    sqlite3_bind_int64(update, 8, row.version + 1);
    sqlite3_bind_int64(update, 9, row.version);
    raw.run(update);
    if (sqlite3_changes64(raw.handle()) != 1) state.SkipWithError("conflict");

    sqlite3_bind_int64(next_seq, 1, id);
    const auto seq = raw.integer(next_seq);
    sqlite3_bind_int64(append, 1, id);
    sqlite3_bind_int64(append, 2, seq);
    bind_text(append, 3, from);
    bind_text(append, 4, row.status);
    bind_text(append, 5, event);
    bind_text(append, 6, payload);
    bind_text(append, 7, now);
    raw.run(append);

    raw.run(commit);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(transition_store)->Name("record_transition/sqlite_record_store");
BENCHMARK(transition_raw)->Name("record_transition/raw_sqlite3");

BENCHMARK_MAIN();
