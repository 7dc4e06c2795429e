// Chat turns with a machine of their own (the bug report "persist last_error on the
// chats table"). A chat is pending, running, waiting for the user, or in
// error; the reason for an error went out as an SSE event and was lost. The
// fix stored it in a nullable last_error, set on the two error paths (a failed
// turn, a recovered panic) and cleared by every other status change.
//
// Here that rule lives in the transition table, written with errand's machine
// DSL: rows into `error` record the reason, every other row clears it, and a
// static_assert reads the table so a row added later cannot forget. A stale
// sweep recovers chats whose worker stopped heartbeating.
//
// errand's stores persist the job lifecycle, not user-defined machines, so the
// chats here live in a std::map; README.md says what a real table would need.
#include "text_table.hpp"
#include <errand/clock.hpp>
#include <errand/codec.hpp>
#include <errand/diagram.hpp>
#include <errand/machine.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using errand_examples::or_null;

enum class chat_status { pending, running, waiting, error };
BOOST_DESCRIBE_ENUM(chat_status, pending, running, waiting, error)

struct user_message {
  static constexpr std::string_view name = "user_message";
};
struct acquire {
  static constexpr std::string_view name = "acquire";
  std::string worker;
};
struct turn_done {
  static constexpr std::string_view name = "turn_done";
};
struct processing_failed {
  static constexpr std::string_view name = "processing_failed";
  std::string reason;
};
struct panicked {
  static constexpr std::string_view name = "panicked";
  std::string reason;
};
struct stale_sweep {
  static constexpr std::string_view name = "stale_sweep";
};

// A chat as GET /chats/{id} returns it: last_error is null, never "", when there is none.
struct chat {
  std::int64_t id = 0;
  chat_status status = chat_status::pending;
  std::optional<std::string> worker;
  std::optional<errand::time_point> heartbeat_at;
  std::optional<std::string> last_error;
};
BOOST_DESCRIBE_STRUCT(chat, (), (id, status, worker, heartbeat_at, last_error))

namespace {

struct chat_update {
  chat& row;
  errand::time_point now;
};

constexpr auto stale_after = 5min;

struct heartbeat_is_stale {
  static constexpr std::string_view name = "no heartbeat for 5 min";
  bool operator()(const chat_update& u, const stale_sweep&) const {
    return !u.row.heartbeat_at || *u.row.heartbeat_at + stale_after < u.now;
  }
};

struct clear_error {
  void operator()(chat_update& u, const acquire& e) const {
    u.row.last_error.reset();
    u.row.worker = e.worker;
    u.row.heartbeat_at = u.now;
  }
  template <class Event>
  void operator()(chat_update& u, const Event&) const {
    u.row.last_error.reset();
    u.row.worker.reset();
    u.row.heartbeat_at.reset();
  }
};

struct record_error {
  template <class Event>
  void operator()(chat_update& u, const Event& e) const {
    u.row.worker.reset();
    u.row.heartbeat_at.reset();
    u.row.last_error = e.reason.empty() ? std::string("no reason reported") : e.reason;
  }
};

using enum chat_status;
using errand::always;
using errand::row;
using chat_machine =
    errand::machine<pending, errand::events<user_message, acquire, turn_done, processing_failed, panicked, stale_sweep>,
                    errand::table<row<pending, user_message, pending, always, clear_error>,
                                  row<waiting, user_message, pending, always, clear_error>,
                                  row<error, user_message, pending, always, clear_error>,
                                  row<pending, acquire, running, always, clear_error>,
                                  row<running, turn_done, waiting, always, clear_error>,
                                  row<running, processing_failed, error, always, record_error>,
                                  row<running, panicked, error, always, record_error>,
                                  row<running, stale_sweep, pending, heartbeat_is_stale, clear_error>>>;

// The bug report's rule, checked on the table: into `error` records, anything else clears.
template <class... Rows>
constexpr bool every_row_keeps_the_rule(boost::mp11::mp_list<Rows...>) {
  return ((std::is_same_v<typename Rows::action_type, record_error> == (Rows::to == error)) && ...);
}
static_assert(every_row_keeps_the_rule(chat_machine::row_list{}));

std::string status_name(chat_status s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

class chat_service {
 public:
  explicit chat_service(const errand::clock& clock) : clock_(clock) {}

  std::int64_t create() {
    const auto id = static_cast<std::int64_t>(chats_.size()) + 1;
    chats_[id].id = id;
    return id;
  }

  // Every status change goes through the machine; a rejected one changes nothing and says why.
  template <class Event>
  void send(std::int64_t id, const Event& e) {
    chat next = chats_.at(id);
    chat_update update{next, clock_.now()};
    const auto step = chat_machine::dispatch(next.status, e, update);
    if (!step) {
      std::cout << "  chat " << id << ": rejected: " << step.message() << "\n";
      return;
    }
    next.status = step.to;
    log_.push_back({std::to_string(id), errand::to_iso8601(update.now),
                    status_name(step.from) + " → " + status_name(step.to), std::string(Event::name),
                    or_null(next.worker), or_null(next.last_error)});
    chats_[id] = next;
  }

  // The bug report's processChat: whatever the turn does, it ends in one transition.
  void process(std::int64_t id, const std::function<std::optional<std::string>()>& run_turn) {
    try {
      if (const auto failure = run_turn()) {
        send(id, processing_failed{*failure});
        return;
      }
    } catch (const std::exception& e) {
      send(id, panicked{std::string("panic: ") + e.what()});
      return;
    } catch (...) {
      send(id, panicked{"panic: a non-standard exception"});
      return;
    }
    send(id, turn_done{});
  }

  void recover_stale() {
    for (const auto& [id, c] : chats_)
      if (c.status == running) send(id, stale_sweep{});
  }

  const std::map<std::int64_t, chat>& chats() const { return chats_; }
  const std::vector<std::vector<std::string>>& log() const { return log_; }

 private:
  const errand::clock& clock_;
  std::map<std::int64_t, chat> chats_;
  std::vector<std::vector<std::string>> log_;
};

}  // namespace

int main() try {
  errand::manual_clock clock;
  chat_service service(clock);
  const auto fix = service.create(), refactor = service.create(), explain = service.create();

  std::cout << "Chat " << fix << ": the turn fails; the API returns the reason, and the next message clears it.\n";
  service.send(fix, user_message{});
  service.send(fix, acquire{"worker-1"});
  service.process(fix, [] { return std::optional<std::string>("stream response: status 500: internal server error"); });
  std::cout << "  " << errand::to_json(service.chats().at(fix)) << "\n";
  service.send(fix, user_message{});
  std::cout << "  " << errand::to_json(service.chats().at(fix)) << "\n";
  service.send(fix, acquire{"worker-1"});
  service.process(fix, [] { return std::nullopt; });

  std::cout << "\nChat " << refactor << ": the turn panics; the worker recovers and records it.\n";
  service.send(refactor, user_message{});
  service.send(refactor, acquire{"worker-2"});
  service.process(refactor,
                  []() -> std::optional<std::string> { throw std::runtime_error("assignment to entry in nil map"); });
  std::cout << "  " << errand::to_json(service.chats().at(refactor)) << "\n";

  std::cout << "\nChat " << explain << ": worker-3 takes it and dies. The stale sweep runs at +4 min and +6 min.\n";
  service.send(explain, user_message{});
  service.send(explain, acquire{"worker-3"});
  clock.advance(4min);
  service.recover_stale();
  clock.advance(2min);
  service.recover_stale();
  std::cout << "  worker-3 comes back and reports its turn done:\n";
  service.send(explain, turn_done{});
  service.send(explain, acquire{"worker-1"});
  service.process(explain, [] { return std::nullopt; });

  std::cout << "\nEvery transition (worker and last_error as they stood after it):\n";
  errand_examples::text_table log({"chat", "at", "from → to", "event", "worker", "last_error"});
  for (const auto& entry : service.log()) log.add(entry);
  log.print(std::cout);

  std::cout << "\nThe chats now:\n";
  errand_examples::text_table chats({"id", "status", "worker", "last_error"});
  for (const auto& [id, c] : service.chats())
    chats.add({std::to_string(id), status_name(c.status), or_null(c.worker), or_null(c.last_error)});
  chats.print(std::cout);

  std::cout << "\nThe machine, drawn from its table (Mermaid):\n" << errand::to_mermaid<chat_machine>();
  return 0;
} catch (const std::exception& e) {
  std::cerr << "chat_turns example failed: " << e.what() << '\n';
  return 1;
}
