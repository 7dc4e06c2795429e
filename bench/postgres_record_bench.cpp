// The PostgreSQL record store measured. See "Records" in docs/benchmarks.md.
//
//   transition/errand   one transition of the chat machine (the conformance
//                       suite's chats: acquire, turn_done, user_message, round
//                       and round) through postgres_record_store<chats>::fire
//   transition/raw      the same transitions with the same statements written
//                       by hand: read the row (and any history entry holding
//                       the idempotency key), decide in a switch, then one
//                       statement doing the compare-and-set UPDATE, the history
//                       INSERT and pg_notify; on a table of the same shape
//
// Both run on the same server in the same run, through the same thin libpqxx
// layer (prepared statements, text parameters, autocommit), so the ratio is
// what errand's record layer costs: the row's conversion, the machine's
// dispatch, the event's JSON, the connection pool. The server comes from
// ERRAND_BENCH_PG_URL (scripts/pg-test-server.sh run -- sets it); each
// benchmark gets a fresh schema, dropped at the end.

#include <errand/clock.hpp>
#include <errand/conformance/record_machines.hpp>
#include <errand/postgres/postgres_record_store.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace pg = errand::detail::pg;
using errand::conformance::chat;
using errand::conformance::chat_status;
using errand::conformance::chats;
namespace chat_events = errand::conformance::chat_events;

const std::string& server_url() {
  static const std::string url = [] {
    const char* value = std::getenv("ERRAND_BENCH_PG_URL");
    if (!value || !*value) {
      std::cerr << "postgres_record_bench: set ERRAND_BENCH_PG_URL to a PostgreSQL URL, e.g.\n"
                   "  scripts/pg-test-server.sh run -- build/bench/postgres_record_bench\n";
      std::exit(2);
    }
    return std::string(value);
  }();
  return url;
}

pg::rows sql(const std::string& statement) {
  pg::connection c(server_url());
  return c.autocommit([&](pg::transaction& tx) { return tx.exec(statement); });
}

errand::time_point now() { return errand::system_clock{}.now(); }

// A schema for one benchmark, dropped when it ends.
class scratch {
 public:
  explicit scratch(std::string name) : name_(std::move(name)) { drop(); }
  ~scratch() { drop(); }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  errand::postgres_options options() const {
    errand::postgres_options o;
    o.url = server_url();
    o.schema = name_;
    return o;
  }
  const std::string& name() const { return name_; }

 private:
  void drop() { sql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  std::string name_;
};

void transition_errand(benchmark::State& state) {
  scratch schema("errand_record_bench");
  errand::postgres_record_store<chats> store(schema.options());
  chat fresh;
  fresh.title = "benchmark";
  const auto id = store.create(fresh, now()).id;
  chat_status at = chat_status::pending;
  for (auto _ : state) {
    errand::fire_result<chats> moved;
    switch (at) {
      case chat_status::pending:
        moved = store.fire(id, chat_events::acquire{"worker-1"}, now());
        break;
      case chat_status::running:
        moved = store.fire(id, chat_events::turn_done{}, now());
        break;
      default:
        moved = store.fire(id, chat_events::user_message{"hello"}, now());
        break;
    }
    if (moved.status != errand::fire_status::applied) throw std::runtime_error(moved.message);
    at = moved.row->status;
  }
  state.SetItemsProcessed(state.iterations());
}

// The record store's two statements for chats, as an application would
// write them for this one table.
constexpr const char* raw_read =
    "SELECT r.id, r.status, r.title, r.worker,"
    " to_char(r.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), r.last_error,"
    " to_char(r.last_error_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), r.version, h.seq"
    " FROM chats AS r LEFT JOIN chats_history AS h ON h.record_id = r.id AND h.idempotency_key = $2::text"
    " WHERE r.id = $1";

constexpr const char* raw_write =
    "WITH moved AS (\n"
    "  UPDATE chats AS r SET status = $2, title = $3, worker = $4, heartbeat_at = $5, last_error = $6,\n"
    "    last_error_at = $7, version = $8\n"
    "  WHERE r.id = $1 AND r.version = $9 RETURNING r.id\n"
    "), recorded AS (\n"
    "  INSERT INTO chats_history (record_id, seq, from_state, to_state, event, payload, idempotency_key, at)\n"
    "  SELECT m.id, coalesce((SELECT max(h.seq) FROM chats_history AS h WHERE h.record_id = m.id), 0) + 1,\n"
    "         $10::text, $11::text, $12::text, $13::json, $14::text, $15::timestamptz FROM moved AS m\n"
    "  RETURNING record_id, seq\n"
    "), announced AS (\n"
    "  SELECT pg_notify($16::text, concat_ws(' ', 'r', 'raw', r.record_id, r.seq, 'chats')) FROM recorded AS r\n"
    ")\n"
    "SELECT seq FROM recorded WHERE (SELECT count(*) FROM announced) >= 0";

void transition_raw(benchmark::State& state) {
  scratch schema("errand_record_bench_raw");
  sql("CREATE SCHEMA " + schema.name());
  sql("CREATE TABLE " + schema.name() +
      ".chats (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
      " status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'waiting', 'error')), title TEXT NOT NULL,"
      " worker TEXT, heartbeat_at TIMESTAMPTZ, last_error TEXT CHECK (last_error <> ''), last_error_at TIMESTAMPTZ,"
      " version BIGINT NOT NULL)");
  sql("CREATE INDEX chats_state ON " + schema.name() + ".chats (status, id)");
  sql("CREATE TABLE " + schema.name() +
      ".chats_history (record_id BIGINT NOT NULL, seq BIGINT NOT NULL,"
      " from_state TEXT NOT NULL CHECK (from_state IN ('pending', 'running', 'waiting', 'error')),"
      " to_state TEXT NOT NULL CHECK (to_state IN ('pending', 'running', 'waiting', 'error')), event TEXT NOT NULL,"
      " payload JSON NOT NULL, idempotency_key TEXT, at TIMESTAMPTZ NOT NULL, PRIMARY KEY (record_id, seq),"
      " UNIQUE (record_id, idempotency_key))");
  pg::connection c(server_url());
  c.autocommit([&](pg::transaction& tx) { tx.exec("SET search_path = " + schema.name()); });
  c.prepare("read", raw_read);
  c.prepare("write", raw_write);
  const std::string id = *c.autocommit([&](pg::transaction& tx) {
                             return tx.exec(
                                 "INSERT INTO chats (status, title, version) VALUES ('pending', 'benchmark', 1)"
                                 " RETURNING id");
                           })
                              .at(0)
                              .at(0);
  const std::string channel = schema.name() + ".errand_records";
  for (auto _ : state) {
    c.autocommit([&](pg::transaction& tx) {
      const pg::cell key[] = {id, std::nullopt};
      const auto row = tx.exec_prepared("read", key).at(0);
      const std::string& status = *row.at(1);
      const std::int64_t version = std::stoll(*row.at(7));
      const auto at = errand::to_iso8601(now());
      pg::cell worker = row.at(3), heartbeat = row.at(4), to, event, payload;
      if (status == "pending") {
        worker = "worker-1";
        heartbeat = at;
        to = "running";
        event = "acquire";
        payload = R"({"worker":"worker-1"})";
      } else if (status == "running") {
        worker.reset();
        heartbeat.reset();
        to = "waiting";
        event = "turn_done";
        payload = "{}";
      } else {
        to = "pending";
        event = "user_message";
        payload = R"({"text":"hello"})";
      }
      const pg::cell params[] = {id,
                                 to,
                                 row.at(2),
                                 worker,
                                 heartbeat,
                                 std::nullopt,
                                 std::nullopt,
                                 std::to_string(version + 1),
                                 std::to_string(version),
                                 status,
                                 to,
                                 event,
                                 payload,
                                 std::nullopt,
                                 at,
                                 channel};
      if (tx.exec_prepared("write", params).empty()) throw std::runtime_error("the compare-and-set lost");
    });
  }
  state.SetItemsProcessed(state.iterations());
}

void describe_server() {
  const auto rows =
      sql("SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') ||"
          " ', synchronous_commit=' || current_setting('synchronous_commit')");
  benchmark::AddCustomContext("postgresql", rows.at(0).at(0).value_or("?"));
}

}  // namespace

BENCHMARK(transition_errand)->Name("transition/errand")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(transition_raw)->Name("transition/raw")->Unit(benchmark::kMicrosecond)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  describe_server();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
