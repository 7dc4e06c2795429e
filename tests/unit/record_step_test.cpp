// The pure half of every record store (record_step.hpp, record_columns.hpp):
// what a create and a fire write, and how fields cross into columns. No I/O.
#include <errand/conformance/record_machines.hpp>
#include <errand/job_records.hpp>
#include <errand/record_step.hpp>

#include "errand_catch.hpp"

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

using namespace errand::conformance;
using errand::fire_status;

namespace {
const errand::time_point t0 = *errand::from_iso8601("2026-11-30T10:00:00.000000Z");

chat running_chat() {
  chat c;
  c.id = 7;
  c.version = 3;
  c.status = chat_status::running;
  c.worker = "worker-1";
  c.heartbeat_at = t0;
  return c;
}

// A machine whose failure event keeps its reason in a nested payload, as an
// HTTP client's error would: the definition says where (reason_of).
enum class upload_state { sending, sent, refused };
BOOST_DESCRIBE_ENUM(upload_state, sending, sent, refused)

struct upload {
  std::int64_t id = 0;
  upload_state state = upload_state::sending;
  std::optional<std::string> refusal;
  std::int64_t version = 0;
};
BOOST_DESCRIBE_STRUCT(upload, (), (id, state, refusal, version))

struct server_error {
  std::int32_t status = 0;
  std::string body;
};
BOOST_DESCRIBE_STRUCT(server_error, (), (status, body))

struct delivered {
  static constexpr std::string_view name = "delivered";
};
struct rejected_by_server {
  static constexpr std::string_view name = "rejected_by_server";
  server_error error;
};
BOOST_DESCRIBE_STRUCT(rejected_by_server, (), (error))

struct uploads {
  using row = upload;
  using machine = errand::machine<upload_state::sending, errand::events<delivered, rejected_by_server>,
                                  errand::table<errand::row<upload_state::sending, delivered, upload_state::sent>,
                                                errand::row<upload_state::sending, rejected_by_server,
                                                            upload_state::refused>>,
                                  errand::terminal<upload_state::sent, upload_state::refused>,
                                  errand::error_states<upload_state::refused>>;
  static constexpr std::string_view table_name = "uploads";
  static constexpr auto id = &upload::id;
  static constexpr auto state = &upload::state;
  static constexpr auto version = &upload::version;
  static constexpr auto error_reason = &upload::refusal;
  static std::string_view reason_of(const rejected_by_server& e) { return e.error.body; }
};

// A definition deciding its own steps that forgets the reason: a bug the
// stores refuse to write.
struct forgetful_chats : chats {
  static constexpr std::string_view table_name = "forgetful_chats";
  template <class Event>
  static auto step(const chat& current, const Event& event, errand::time_point now,
                   const errand::fire_options& options) {
    auto taken = errand::machine_step<forgetful_chats>(current, event, now, options);
    taken.next.last_error.reset();
    return taken;
  }
};
}  // namespace

TEST_CASE("record step: an accepted event writes the next row, one version on, and its history entry") {
  const auto step = errand::step<chats>(running_chat(), chat_events::processing_failed{"model timed out"}, t0);
  REQUIRE(step.dispatched);
  CHECK(step.next.id == 7);
  CHECK(step.next.version == 4);
  CHECK(step.next.status == chat_status::error);
  CHECK(step.next.last_error == "model timed out");
  CHECK(step.next.last_error_at == t0);
  CHECK_FALSE(step.next.worker.has_value());  // the row's action ran
  CHECK(step.entry.record_id == 7);
  CHECK(step.entry.seq == 0);
  CHECK(step.entry.from == chat_status::running);
  CHECK(step.entry.to == chat_status::error);
  CHECK(step.entry.event == "processing_failed");
  CHECK(step.entry.payload == R"({"reason":"model timed out"})");
  CHECK(step.entry.at == t0);
}

TEST_CASE("record step: leaving an error state clears the reason and its time, whatever an action wrote") {
  auto failed = errand::step<chats>(running_chat(), chat_events::processing_failed{"x"}, t0).next;
  const auto step = errand::step<chats>(failed, chat_events::user_message{"again"}, t0 + std::chrono::seconds{1});
  REQUIRE(step.dispatched);
  CHECK(step.next.status == chat_status::pending);
  CHECK_FALSE(step.next.last_error.has_value());
  CHECK_FALSE(step.next.last_error_at.has_value());
}

TEST_CASE("record step: a reason is made storable in the row and in the history payload alike") {
  const std::string raw("bad\0byte \xFF", 10);
  const auto step = errand::step<chats>(running_chat(), chat_events::processing_failed{raw}, t0);
  CHECK(step.next.last_error == errand::storable_error_text(raw));
  CHECK(step.entry.payload == errand::to_json(chat_events::processing_failed{errand::storable_error_text(raw)}));
  const auto empty = errand::step<chats>(running_chat(), chat_events::processing_failed{""}, t0);
  CHECK(empty.next.last_error == "no reason reported");
}

TEST_CASE("record step: a refused event names the state and the event and changes nothing") {
  const auto current = running_chat();
  const auto step = errand::step<chats>(current, chat_events::acquire{"worker-2"}, t0);
  CHECK_FALSE(step.dispatched);
  CHECK(step.dispatched.message() == "state 'running' cannot take event 'acquire'");
  const auto result = errand::rejected<chats>(current, step);
  CHECK(result.status == fire_status::rejected);
  CHECK(result.row == current);
  CHECK_FALSE(result);
}

TEST_CASE("record step: an event or an action holding text no database stores is refused") {
  auto pending = running_chat();
  pending.status = chat_status::pending;
  CHECK_THROWS_WITH(errand::step<chats>(pending, chat_events::acquire{std::string("w\0", 2)}, t0),
                    contains_text("field 'worker'") && contains_text("NUL byte") &&
                        contains_text("nothing was written"));
  CHECK_THROWS_WITH(errand::step<chats>(pending, chat_events::user_message{"\xC0\xAF"}, t0),
                    contains_text("event 'user_message' for conformance_chats record 7") &&
                        contains_text("not valid UTF-8"));
}

TEST_CASE("record step: a definition can say where an event keeps its reason") {
  upload sending;
  sending.id = 3;
  sending.version = 1;
  const auto step = errand::step<uploads>(sending, rejected_by_server{{413, "payload too large"}}, t0);
  REQUIRE(step.applied());
  CHECK(step.next.state == upload_state::refused);
  CHECK(step.next.refusal == "payload too large");
}

TEST_CASE("record step: a definition's own step is held to the error discipline") {
  CHECK_THROWS_WITH(errand::step<forgetful_chats>(running_chat(), chat_events::processing_failed{"timeout"}, t0),
                    "errand: the forgetful_chats definition's step wrote record 7 into state 'error' without a "
                    "storable reason and its time; nothing was written");
  const auto fine = errand::step<forgetful_chats>(running_chat(), chat_events::turn_done{}, t0);
  CHECK(fine.applied());
}

TEST_CASE("record step: the job lifecycle steps as decide() decides, refusals and duplicates included") {
  errand::job running;
  running.id = 9;
  running.state = errand::job_state::running;
  running.attempt = 1;
  running.worker = "w1";
  running.lease_until = t0 + std::chrono::seconds{30};
  running.version = 4;
  const errand::fail failure{1, "w1", {"connection reset"}};
  const auto decided = errand::decide(running, failure, errand::retry_policy{}, t0);
  const auto step = errand::step<errand::job_records>(running, failure, t0, {});
  REQUIRE(step.applied());
  CHECK(step.next == decided.next);
  CHECK(step.entry.payload == decided.record->payload);
  CHECK(step.entry.from == errand::job_state::running);
  CHECK(step.entry.to == errand::job_state::retry_pending);

  const auto again = errand::step<errand::job_records>(step.next, failure, t0, {});
  CHECK(again.status == fire_status::duplicate);
  const auto stale = errand::step<errand::job_records>(step.next, errand::succeed{1, "w1"}, t0, {});
  CHECK(stale.status == fire_status::rejected);
  CHECK(stale.message == errand::decide(step.next, errand::succeed{1, "w1"}, errand::retry_policy{}, t0).reason);
  CHECK(errand::rejected<errand::job_records>(step.next, stale).message == stale.message);
}

TEST_CASE("record step: a NUL inside a JSON field is refused, an escaped backslash before u0000 is not") {
  CHECK(errand::detail::escapes_nul(R"(["a\u0000b"])"));
  CHECK(errand::detail::escapes_nul(R"(["a\\\u0000b"])"));
  CHECK_FALSE(errand::detail::escapes_nul(R"(["a\\u0000b"])"));
  CHECK_FALSE(errand::detail::escapes_nul(R"(["u0000"])"));
}

TEST_CASE("new record: the initial state, version 1 and no reason; anything else is refused") {
  chat fresh;
  fresh.title = "hello";
  fresh.version = 99;
  fresh.last_error = "left over";
  const auto row = errand::new_record<chats>(fresh);
  CHECK(row.version == 1);
  CHECK_FALSE(row.last_error.has_value());
  fresh.status = chat_status::error;
  CHECK_THROWS_WITH(errand::new_record<chats>(fresh),
                    "errand: a new conformance_chats record starts in state 'pending', not 'error'; nothing was "
                    "written");
  CHECK(errand::creation_entry<chats>(row, t0).event == "create");
}

TEST_CASE("record columns: names follow the definition's mapping, kinds follow the field types") {
  const auto columns = errand::record_columns<work_orders>();
  REQUIRE(columns.size() == 11);
  CHECK(columns[1].field == "state");
  CHECK(columns[1].name == "order_status");
  CHECK(columns[1].kind == errand::column_kind::enumeration);
  CHECK(columns[1].allowed().size() == 6);
  CHECK(columns[3].kind == errand::column_kind::integer);
  CHECK(columns[3].nullable);
  CHECK(columns[4].kind == errand::column_kind::time);
  CHECK(columns[5].kind == errand::column_kind::enumeration);
  CHECK(columns[6].kind == errand::column_kind::real);
  CHECK(columns[7].kind == errand::column_kind::boolean);
  CHECK(columns[8].name == "on_hold_because");
  CHECK(errand::record_traits<work_orders>::version_field == "lock_version");
}

TEST_CASE("record columns: a row crosses into column values and back unchanged") {
  work_order order;
  order.id = 12;
  order.state = order_state::on_hold;
  order.priority = -3;
  order.estimate_minutes = 45;
  order.due = t0;
  order.crew = crew_kind::electrical;
  order.cost = 12.5;
  order.urgent = true;
  order.hold_reason = "no parts";
  order.held_at = t0;
  order.lock_version = 6;
  const auto values = errand::to_column_values<work_orders>(order);
  CHECK(std::get<std::string>(values[1]) == "on_hold");
  CHECK(std::get<std::string>(values[4]) == "2026-11-30T10:00:00.000000Z");
  CHECK(std::get<bool>(values[7]));
  CHECK(errand::from_column_values<work_orders>(values) == order);
}

TEST_CASE("record columns: a value that does not fit its field names the table, the record and the column") {
  work_order order;
  order.id = 12;
  auto values = errand::to_column_values<work_orders>(order);
  values[1] = std::string("on_vacation");
  CHECK_THROWS_WITH(errand::from_column_values<work_orders>(values),
                    "errand: conformance_work_orders record 12 cannot be read: column 'order_status' holds "
                    "'on_vacation', which is not one of its enum's names");
  values = errand::to_column_values<work_orders>(order);
  values[2] = std::int64_t{1} << 40;
  CHECK_THROWS_WITH(errand::from_column_values<work_orders>(values),
                    contains_text("column 'priority' holds 1099511627776, out of its field's range"));
  values = errand::to_column_values<work_orders>(order);
  values[4] = std::string("yesterday");
  CHECK_THROWS_WITH(errand::from_column_values<work_orders>(values),
                    contains_text("column 'due' holds 'yesterday', which is not an ISO-8601 UTC time"));
  values = errand::to_column_values<work_orders>(order);
  values[6] = std::monostate{};
  CHECK_THROWS_WITH(errand::from_column_values<work_orders>(values),
                    contains_text("column 'cost' holds NULL, which its field cannot"));
}

TEST_CASE("record validation: bad idempotency keys, filters and prune requests are refused") {
  errand::fire_options options;
  options.idempotency_key = std::string(201, 'k');
  CHECK_THROWS_WITH(errand::validate(options), contains_text("1 to 200 bytes, not 201"));
  errand::record_query<chats> query;
  query.where(&chat::title, std::string("\xFF"));
  CHECK_THROWS_WITH(errand::validate(query), contains_text("filter on 'title'") && contains_text("UTF-8"));
  errand::record_query<chats> misspelt;
  const errand::record_filter misspelt_field{"titel", errand::column_value(std::string("support"))};
  misspelt.filters.push_back(misspelt_field);
  CHECK_THROWS_WITH(errand::validate(misspelt),
                    "errand: a record_query filter names 'titel', which is no field of conformance_chats's row; "
                    "nothing was read");
  errand::record_prune<chats> prune;
  prune.keep_history = 0;
  CHECK_THROWS_AS(errand::validate(prune), std::invalid_argument);
}
