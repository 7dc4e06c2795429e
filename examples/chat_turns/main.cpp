// Chat turns with a machine of their own, kept in a database (the bug report
// "persist last_error on the chats table"). A chat is pending, running,
// waiting for the user, or in error; the reason for an error went out as an
// SSE event and was lost. The fix stored it in a nullable last_error, set on
// the two error paths (a failed turn, a recovered panic) and cleared by every
// other status change.
//
// Here the chats are rows of a `chats` table, kept by an errand record store:
// the machine declares `error` its error state, the store writes the event's
// reason into last_error on the way in and NULL on the way out, and every
// transition leaves a history entry with its payload. A stale sweep recovers
// chats whose worker stopped heartbeating, after a restart as well.
//
//   chat_turns [--stop-midway] [SQLITE_FILE]
//
// With --stop-midway it starts from an empty database and exits in the
// middle of the scenario, as a killed process would; run without it, it
// reads what the database holds and finishes the scenario from there. It runs
// on PostgreSQL when ERRAND_EXAMPLE_PG_URL holds a connection string (schema
// given by ERRAND_EXAMPLE_PG_SCHEMA, errand_example_chat_turns by default).
#include "text_table.hpp"
#include <errand/diagram.hpp>
#include <errand/record.hpp>
#include <errand/record_store.hpp>
#include <errand/sqlite/sqlite_record_store.hpp>
#if ERRAND_EXAMPLE_WITH_POSTGRES
#include <errand/postgres/postgres_record_store.hpp>

#include <pqxx/pqxx>
#endif

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using errand_examples::or_null;

enum class chat_status { pending, running, waiting, error };
BOOST_DESCRIBE_ENUM(chat_status, pending, running, waiting, error)

// A chat as GET /chats/{id} returns it: last_error is null, never "", when there is none.
struct chat {
  std::int64_t id = 0;
  std::string title;
  chat_status status = chat_status::pending;
  std::optional<std::string> worker;
  std::optional<errand::time_point> heartbeat_at;
  std::optional<std::string> last_error;
  std::optional<errand::time_point> last_error_at;
  std::int64_t version = 0;
};
BOOST_DESCRIBE_STRUCT(chat, (), (id, title, status, worker, heartbeat_at, last_error, last_error_at, version))

struct user_message {
  static constexpr std::string_view name = "user_message";
};
struct acquire {
  static constexpr std::string_view name = "acquire";
  std::string worker;
};
BOOST_DESCRIBE_STRUCT(acquire, (), (worker))
struct turn_done {
  static constexpr std::string_view name = "turn_done";
};
struct processing_failed {
  static constexpr std::string_view name = "processing_failed";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(processing_failed, (), (reason))
struct panicked {
  static constexpr std::string_view name = "panicked";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(panicked, (), (reason))
struct stale_sweep {
  static constexpr std::string_view name = "stale_sweep";
};

namespace {

using change = errand::record_change<chat>;
constexpr auto stale_after = 5min;

struct heartbeat_is_stale {
  static constexpr std::string_view name = "no heartbeat for 5 min";
  bool operator()(const change& c, const stale_sweep&) const {
    return !c.row.heartbeat_at || *c.row.heartbeat_at + stale_after < c.now;
  }
};

struct take {
  void operator()(change& c, const acquire& e) const {
    c.row.worker = e.worker;
    c.row.heartbeat_at = c.now;
  }
};

struct let_go {
  template <class Event>
  void operator()(change& c, const Event&) const {
    c.row.worker.reset();
    c.row.heartbeat_at.reset();
  }
};

using enum chat_status;
using errand::always;
using errand::row;
using chat_machine =
    errand::machine<pending, errand::events<user_message, acquire, turn_done, processing_failed, panicked, stale_sweep>,
                    errand::table<row<pending, user_message, pending>, row<waiting, user_message, pending>,
                                  row<error, user_message, pending>, row<pending, acquire, running, always, take>,
                                  row<running, turn_done, waiting, always, let_go>,
                                  row<running, processing_failed, error, always, let_go>,
                                  row<running, panicked, error, always, let_go>,
                                  row<running, stale_sweep, pending, heartbeat_is_stale, let_go>>,
                    errand::terminal<>, errand::error_states<error>>;

// The bug report's rule, declared once: `error` holds the reason in last_error, at last_error_at.
struct chats {
  using row = chat;
  using machine = chat_machine;
  static constexpr std::string_view table_name = "chats";
  static constexpr auto id = &chat::id;
  static constexpr auto state = &chat::status;
  static constexpr auto version = &chat::version;
  static constexpr auto error_reason = &chat::last_error;
  static constexpr auto error_at = &chat::last_error_at;
};

std::string status_name(chat_status s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

const errand::time_point start = *errand::from_iso8601("2026-01-01T00:00:00.000000Z");

template <class Store>
class chat_service {
 public:
  explicit chat_service(Store& store) : store_(store) {}

  std::int64_t create(std::string title, errand::time_point now) {
    chat fresh;
    fresh.title = std::move(title);
    return store_.create(fresh, now).id;
  }

  // Every status change goes through the store; a refused one changes nothing and says why.
  template <class Event>
  void send(std::int64_t id, const Event& e, errand::time_point now) {
    const auto result = store_.fire(id, e, now, {});
    if (!result) std::cout << "  chat " << id << ": rejected: " << result.message << "\n";
  }

  // The bug report's processChat: whatever the turn does, it ends in one transition.
  void process(std::int64_t id, errand::time_point now, const std::function<std::optional<std::string>()>& run_turn) {
    try {
      if (const auto failure = run_turn()) return send(id, processing_failed{*failure}, now);
    } catch (const std::exception& e) {
      return send(id, panicked{std::string("panic: ") + e.what()}, now);
    }
    send(id, turn_done{}, now);
  }

  void recover_stale(errand::time_point now) {
    errand::record_query<chats> running_chats;
    running_chats.state = running;
    for (const auto& c : store_.query(running_chats)) send(c.id, stale_sweep{}, now);
  }

  void print_chats(std::string_view heading) {
    std::cout << heading << "\n";
    errand_examples::text_table table({"id", "title", "status", "worker", "last_error", "last_error_at"});
    for (const auto& c : store_.query(errand::record_query<chats>{}))
      table.add({std::to_string(c.id), c.title, status_name(c.status), or_null(c.worker), or_null(c.last_error),
                 or_null(c.last_error_at)});
    table.print(std::cout);
  }

  void print_history(std::int64_t id) {
    errand_examples::text_table table({"seq", "at", "from → to", "event", "payload"});
    for (const auto& entry : store_.history(id))
      table.add({std::to_string(entry.seq), errand::to_iso8601(entry.at),
                 status_name(entry.from) + " → " + status_name(entry.to), entry.event, entry.payload});
    table.print(std::cout);
  }

  bool empty() { return store_.query(errand::record_query<chats>{}).empty(); }

 private:
  Store& store_;
};

// Until the process stops: three chats, two failures, one worker that dies with the process.
template <class Store>
void first_half(chat_service<Store>& service) {
  const auto fix = service.create("fix the login bug", start);
  const auto refactor = service.create("refactor the billing module", start);
  const auto explain = service.create("explain this stack trace", start);

  std::cout << "Chat " << fix << ": the turn fails; the reason is stored with the chat.\n";
  service.send(fix, user_message{}, start);
  service.send(fix, acquire{"worker-1"}, start);
  service.process(fix, start + 1s,
                  [] { return std::optional<std::string>("stream response: status 500: internal server error"); });

  std::cout << "Chat " << refactor << ": the turn panics; the worker recovers and records it.\n";
  service.send(refactor, user_message{}, start);
  service.send(refactor, acquire{"worker-2"}, start);
  service.process(refactor, start + 2s,
                  []() -> std::optional<std::string> { throw std::runtime_error("assignment to entry in nil map"); });

  std::cout << "Chat " << explain << ": worker-3 takes it, and the process stops before the turn ends.\n";
  service.send(explain, user_message{}, start);
  service.send(explain, acquire{"worker-3"}, start + 3s);
}

// After a restart: what the database kept, then the rest of the scenario.
template <class Store>
void second_half(chat_service<Store>& service) {
  service.print_chats("\nThe chats as the database kept them:");
  std::cout << "\nChat 1's history:\n";
  service.print_history(1);

  std::cout << "\nChat 1: the next message clears the error (NULL, not '').\n";
  service.send(1, user_message{}, start + 1min);
  service.send(1, acquire{"worker-1"}, start + 1min);
  service.process(1, start + 2min, [] { return std::nullopt; });

  std::cout << "Chat 3: nobody heartbeats for worker-3. The stale sweep runs at +4 min and +6 min.\n";
  service.recover_stale(start + 4min);
  service.recover_stale(start + 6min);
  std::cout << "  worker-3 comes back and reports its turn done:\n";
  service.send(3, turn_done{}, start + 6min + 1s);
  service.send(3, acquire{"worker-1"}, start + 7min);
  service.process(3, start + 8min, [] { return std::nullopt; });

  std::cout << "\nChat 3's history:\n";
  service.print_history(3);
  service.print_chats("\nThe chats now:");
  std::cout << "\nThe machine, drawn from its table (Mermaid):\n" << errand::to_mermaid<chat_machine>();
}

template <class Store>
int run(Store& store, bool stop_midway) {
  chat_service<Store> service(store);
  if (service.empty()) {
    first_half(service);
    if (stop_midway) {
      std::cout << "Stopping here, as a killed process would.\n";
      std::cout.flush();
      std::_Exit(0);
    }
  } else {
    std::cout << "Started again on a database that holds chats: finishing the scenario.\n";
  }
  second_half(service);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const bool stop_midway = !args.empty() && args.front() == "--stop-midway";
  if (stop_midway) args.erase(args.begin());

  if (const char* url = std::getenv("ERRAND_EXAMPLE_PG_URL"); url && *url) {
#if ERRAND_EXAMPLE_WITH_POSTGRES
    const char* schema = std::getenv("ERRAND_EXAMPLE_PG_SCHEMA");
    const errand::postgres_options options{.url = url,
                                           .schema = schema && *schema ? schema : "errand_example_chat_turns"};
    if (stop_midway) {
      pqxx::connection connection(url);
      pqxx::work drop(connection);
      drop.exec("DROP SCHEMA IF EXISTS " + options.schema + " CASCADE");
      drop.commit();
    }
    std::cout << "chat_turns on PostgreSQL, schema " << options.schema << "\n\n";
    errand::postgres_record_store<chats> store(options);
    return run(store, stop_midway);
#else
    throw std::runtime_error("ERRAND_EXAMPLE_PG_URL is set, but this build has no PostgreSQL backend");
#endif
  }
  const std::filesystem::path database = args.empty() ? "/tmp/errand-examples/chat_turns.db" : args.front();
  if (database.has_parent_path()) std::filesystem::create_directories(database.parent_path());
  if (stop_midway)
    for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(database.string() + suffix);
  std::cout << "chat_turns on SQLite, file " << database.string() << "\n\n";
  errand::sqlite_record_store<chats> store(database.string());
  return run(store, stop_midway);
} catch (const std::exception& e) {
  std::cerr << "chat_turns example failed: " << e.what() << '\n';
  return 1;
}
