// postgres_record_store beyond the record conformance suite: the table errand
// creates, adopting an application's existing table, create and fire inside
// the application's own transaction (commit and rollback), rows written
// behind errand's back, and two stores on one table.
//
// <iomanip> comes first, as an application may include it: std::quoted,
// which argument-dependent lookup finds for a std::string, must never be
// what errand's headers call.
#include <iomanip>
// errand's headers, after it.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"
#include <errand/conformance/record_machines.hpp>
#include <errand/postgres/postgres_record_store.hpp>

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace errand::conformance;
using errand::fire_status;

const errand::time_point t0 = *errand::from_iso8601("2026-11-30T10:00:00.000000Z");

// The support desk's chats table, older than errand: its own column names (one
// that needs quoting), a SERIAL id, a timestamp without time zone, columns
// errand knows nothing of, and no version column.
struct support_chats {
  using row = chat;
  using machine = chats::machine;
  static constexpr std::string_view table_name = "support_chats";
  static constexpr auto id = &chat::id;
  static constexpr auto state = &chat::status;
  static constexpr auto version = &chat::version;
  static constexpr auto error_reason = &chat::last_error;
  static constexpr auto error_at = &chat::last_error_at;
  static constexpr std::array columns{errand::column_name{"id", "chat_id"}, errand::column_name{"status", "chat_state"},
                                      errand::column_name{"title", "Subject Line"},
                                      errand::column_name{"version", "row_version"}};
};

std::string support_chats_table(const std::string& schema) {
  return "CREATE TABLE \"" + schema +
         "\".support_chats (\n"
         "  chat_id        SERIAL PRIMARY KEY,\n"
         "  chat_state     TEXT NOT NULL,\n"
         "  \"Subject Line\" VARCHAR(200) NOT NULL,\n"
         "  worker         TEXT,\n"
         "  heartbeat_at   TIMESTAMP,\n"
         "  last_error     TEXT,\n"
         "  last_error_at  TIMESTAMPTZ,\n"
         "  team           TEXT NOT NULL DEFAULT 'support',\n"
         "  opened_on      DATE NOT NULL DEFAULT DATE '2020-01-01'\n"
         ")";
}

// A ticket: fields of every kind chats and work orders leave out.
enum class ticket_state { open, closed };
BOOST_DESCRIBE_ENUM(ticket_state, open, closed)

struct ticket {
  std::int64_t id = 0;
  ticket_state state = ticket_state::open;
  std::vector<std::string> tags;
  std::chrono::seconds sla{0};
  double ratio = 0;
  std::int64_t version = 0;
  friend bool operator==(const ticket&, const ticket&) = default;
};
BOOST_DESCRIBE_STRUCT(ticket, (), (id, state, tags, sla, ratio, version))

namespace ticket_events {
struct close {
  static constexpr std::string_view name = "close";
  double ratio = 0;
};
BOOST_DESCRIBE_STRUCT(close, (), (ratio))
struct rate {
  void operator()(errand::record_change<ticket>& c, const close& e) const { c.row.ratio = e.ratio; }
};
}  // namespace ticket_events

struct tickets {
  using row = ticket;
  using machine = errand::machine<ticket_state::open, errand::events<ticket_events::close>,
                                  errand::table<errand::row<ticket_state::open, ticket_events::close,
                                                            ticket_state::closed, errand::always, ticket_events::rate>>,
                                  errand::terminal<ticket_state::closed>>;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
};

std::string scalar(const std::string& sql) { return pg_test::sql(sql).at(0).at(0).value_or("NULL"); }

std::string column_type(const std::string& schema, const std::string& table, const std::string& column) {
  return scalar("SELECT data_type || ' ' || is_nullable FROM information_schema.columns WHERE table_schema = '" +
                schema + "' AND table_name = '" + table + "' AND column_name = '" + column + "'");
}

// The record's notifications, from any thread; waits with a generous bound
// (delivery through LISTEN is asynchronous), never asserting on time.
template <class D>
struct heard_list {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<errand::record_notification<D>> heard;

  errand::record_listener<D> listener() {
    return [this](const errand::record_notification<D>& n) {
      std::scoped_lock lock(mutex);
      heard.push_back(n);
      changed.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 60s, [&] { return heard.size() >= n; });
  }
  std::vector<errand::record_notification<D>> copy() {
    std::scoped_lock lock(mutex);
    return heard;
  }
};

chat fresh_chat(std::string title = "support request") {
  chat c;
  c.title = std::move(title);
  return c;
}

}  // namespace

TEST_CASE("records: the table errand creates has a typed column per field, CHECKs, and a history table",
          "[postgres][records]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<work_orders> store(schema.options());
  const auto& t = store.tables();
  CHECK(t.table == "\"" + schema.name() + "\".\"conformance_work_orders\"");
  CHECK(t.history == "\"" + schema.name() + "\".\"conformance_work_orders_history\"");
  CHECK(t.schema_version == "\"" + schema.name() + "\".\"errand_record_schema_version\"");
  CHECK(t.channel == schema.name() + ".errand_records");

  const auto type = [&](const std::string& column) {
    return column_type(schema.name(), "conformance_work_orders", column);
  };
  CHECK(type("id") == "bigint NO");
  CHECK(type("order_status") == "text NO");
  CHECK(type("priority") == "bigint NO");
  CHECK(type("estimate_minutes") == "bigint YES");
  CHECK(type("due") == "timestamp with time zone YES");
  CHECK(type("crew") == "text YES");
  CHECK(type("cost") == "double precision NO");
  CHECK(type("urgent") == "boolean NO");
  CHECK(type("on_hold_because") == "text YES");
  CHECK(type("lock_version") == "bigint NO");
  CHECK(column_type(schema.name(), "conformance_work_orders_history", "payload") == "json NO");
  CHECK(scalar("SELECT count(*) FROM " + t.schema_version + " WHERE record_table = 'conformance_work_orders'") == "1");

  const auto id = store.create(work_order{}, t0).id;
  const auto where = " WHERE id = " + std::to_string(id);
  auto refused = [&](const std::string& set) {
    try {
      pg_test::sql("UPDATE " + t.table + " SET " + set + where);
    } catch (const errand::postgres_statement_error& e) {
      return e.sqlstate;
    }
    return std::string("accepted");
  };
  CHECK(refused("order_status = 'archived'") == "23514");
  CHECK(refused("crew = 'welding'") == "23514");
  CHECK(refused("on_hold_because = ''") == "23514");
  CHECK(refused("priority = NULL") == "23502");
  CHECK(refused("crew = 'plumbing'") == "accepted");
  CHECK(store.get(id)->crew == crew_kind::plumbing);
}

TEST_CASE("records: JSON, durations and doubles round-trip exactly; the JSON column keeps the codec's text",
          "[postgres][records]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<tickets> store(schema.options());
  CHECK(column_type(schema.name(), "tickets", "tags") == "json NO");
  CHECK(column_type(schema.name(), "tickets", "sla") == "bigint NO");
  CHECK(column_type(schema.name(), "tickets", "ratio") == "double precision NO");
  ticket t;
  t.tags = {"billing", "quote \" and \\ backslash", "caf\xC3\xA9"};
  t.sla = std::chrono::hours{36};
  t.ratio = 0.1 + 0.2;
  const auto created = store.create(t, t0);
  CHECK(store.get(created.id) == created);
  const auto where = " WHERE id = " + std::to_string(created.id);
  CHECK(scalar("SELECT tags FROM " + store.tables().table + where) == errand::to_json(t.tags));
  CHECK(scalar("SELECT sla FROM " + store.tables().table + where) == "129600");

  // A NUL inside a JSON field would be read back cut short (the codec reads strings up to a NUL): refused.
  ticket nul;
  nul.tags = {std::string("nul\0inside", 10)};
  CHECK_THROWS_WITH(store.create(nul, t0), contains_text("field 'tags' holds a NUL character inside its JSON"));
  nul.tags = {"a backslash and u0000: \\u0000 is text, not a NUL"};
  const auto kept = store.create(nul, t0).id;
  CHECK(store.get(kept)->tags == nul.tags);

  // NaN and the infinities have no JSON, so no event carries them; a row may.
  for (const double ratio :
       {std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(), -0.0,
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 1.0 / 3.0}) {
    ticket r;
    r.ratio = ratio;
    CHECK(store.get(store.create(r, t0).id)->ratio == ratio);
  }
  ticket nan;
  nan.ratio = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(store.get(store.create(nan, t0).id)->ratio));
  const auto closed = store.fire(created.id, ticket_events::close{2.0 / 3.0}, t0);
  REQUIRE(closed.status == fire_status::applied);
  CHECK(store.get(created.id)->ratio == 2.0 / 3.0);

  errand::record_query<tickets> tagged;
  tagged.where(&ticket::tags, t.tags);
  const auto found = store.query(tagged);
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == created.id);
}

TEST_CASE("records: an existing table is adopted: its names, its rows and its extra columns stay",
          "[postgres][records][adopt]") {
  pg_test::scratch_schema schema("errand_records");
  const std::string table = "\"" + schema.name() + "\".support_chats";
  pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
  pg_test::sql(support_chats_table(schema.name()));
  pg_test::sql("INSERT INTO " + table +
               " (chat_state, \"Subject Line\", team) VALUES ('waiting', 'printer', 'it'),"
               " ('pending', 'refund', 'billing')");
  const auto checks = [&] {
    return scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = '" + table + "'::regclass AND contype <> 'p'");
  };
  const auto checks_before = checks();

  // Workers in another time zone read and write the same instants.
  auto options = schema.options();
  options.url +=
      (options.url.find('?') == std::string::npos ? "?" : "&") + std::string("options=-c%20TimeZone%3DAsia/Tokyo");
  errand::detail::pg::connection tokyo(options.url);
  REQUIRE(tokyo.autocommit([](auto& tx) { return tx.exec("SHOW TimeZone"); }).at(0).at(0) == "Asia/Tokyo");
  errand::postgres_record_store<support_chats> store(options);
  CHECK(column_type(schema.name(), "support_chats", "row_version") == "bigint NO");
  CHECK(checks() == checks_before);
  CHECK(scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + schema.name() +
               "' AND table_name = 'support_chats'") == "10");

  const auto printer = *store.get(1);
  CHECK(printer.status == chat_status::waiting);
  CHECK(printer.title == "printer");
  CHECK(printer.version == 1);
  CHECK(store.history(1).empty());

  const auto took = store.fire(2, chat_events::acquire{"worker-9"}, t0 + 1s);
  REQUIRE(took.status == fire_status::applied);
  CHECK(took.entry->seq == 1);
  CHECK(store.get(2) == took.row);
  CHECK(store.get(2)->heartbeat_at == t0 + 1s);
  CHECK(scalar("SELECT heartbeat_at FROM " + table + " WHERE chat_id = 2") == "2026-11-30 10:00:01");
  CHECK(scalar("SELECT team || ' ' || opened_on FROM " + table + " WHERE chat_id = 2") == "billing 2020-01-01");
  CHECK(scalar("SELECT chat_state || ' ' || worker || ' ' || row_version FROM " + table + " WHERE chat_id = 2") ==
        "running worker-9 2");

  const auto third = store.create(fresh_chat("new"), t0);
  CHECK(third.id == 3);
  CHECK(scalar("SELECT team FROM " + table + " WHERE chat_id = 3") == "support");
  auto chosen = fresh_chat("chosen");
  chosen.id = 50;
  CHECK(store.create(chosen, t0).id == 50);
  CHECK(store.create(fresh_chat("after"), t0).id == 51);  // the SERIAL's sequence moved past 50

  errand::postgres_record_store<support_chats> reopened(options);
  CHECK(reopened.get(2) == store.get(2));
  CHECK(scalar("SELECT count(*) FROM " + store.tables().schema_version) == "1");
  CHECK(scalar("SELECT description FROM " + store.tables().schema_version) == "existing table adopted; history");
}

TEST_CASE("records: adopting a table without a mapped column names it and changes nothing",
          "[postgres][records][adopt]") {
  pg_test::scratch_schema schema("errand_records");
  const std::string table = "\"" + schema.name() + "\".support_chats";
  pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
  pg_test::sql(support_chats_table(schema.name()));
  pg_test::sql("ALTER TABLE " + table + " DROP COLUMN \"Subject Line\"");
  pg_test::sql("INSERT INTO " + table + " (chat_state) VALUES ('waiting')");
  CHECK_THROWS_WITH(errand::postgres_record_store<support_chats>(schema.options()),
                    contains_text("errand: table " + table.substr(0, table.find('.')) + ".\"support_chats\"") &&
                        contains_text("has no column 'Subject Line' (field 'title')") &&
                        contains_text("nothing was changed"));
  CHECK(scalar("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + schema.name() +
               "' AND table_name = 'support_chats' AND column_name = 'row_version'") == "0");
  CHECK(scalar("SELECT to_regclass('\"" + schema.name() + "\".support_chats_history') IS NULL") == "t");
  CHECK(scalar("SELECT to_regclass('\"" + schema.name() + "\".errand_record_schema_version') IS NULL") == "t");
  CHECK(scalar("SELECT count(*) FROM " + table) == "1");
}

TEST_CASE("records: an adopted id column must be unique; without a default, records need their ids given",
          "[postgres][records][adopt]") {
  pg_test::scratch_schema schema("errand_records");
  const std::string table = "\"" + schema.name() + "\".support_chats";
  pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
  pg_test::sql(support_chats_table(schema.name()));
  pg_test::sql("ALTER TABLE " + table + " DROP CONSTRAINT support_chats_pkey");
  CHECK_THROWS_WITH(errand::postgres_record_store<support_chats>(schema.options()),
                    contains_text("id column 'chat_id' is neither its primary key nor unique"));

  pg_test::sql("ALTER TABLE " + table + " ADD PRIMARY KEY (chat_id), ALTER COLUMN chat_id DROP DEFAULT");
  errand::postgres_record_store<support_chats> store(schema.options());
  CHECK_THROWS_WITH(store.create(fresh_chat(), t0),
                    contains_text("id column has no default") && contains_text("nothing was written"));
  auto given = fresh_chat();
  given.id = 7;
  CHECK(store.create(given, t0).id == 7);
  CHECK(scalar("SELECT count(*) FROM " + table) == "1");
}

TEST_CASE("records: rows errand cannot read are corrupt_record, naming the table, the record and the column",
          "[postgres][records][bad-input]") {
  pg_test::scratch_schema schema("errand_records");
  pg_test::sql("CREATE SCHEMA \"" + schema.name() + "\"");
  pg_test::sql(support_chats_table(schema.name()));
  errand::postgres_record_store<support_chats> adopted(schema.options());
  const auto id = adopted.create(fresh_chat(), t0).id;
  pg_test::sql("UPDATE " + adopted.tables().table +
               " SET chat_state = 'archived' WHERE chat_id = " + std::to_string(id));
  const std::string unreadable = "errand: support_chats record " + std::to_string(id) +
                                 " cannot be read: column 'chat_state' holds 'archived', which is not one of its "
                                 "enum's names";
  CHECK_THROWS_AS(adopted.get(id), errand::corrupt_record);
  CHECK_THROWS_WITH(adopted.get(id), unreadable);
  CHECK_THROWS_WITH(adopted.query({}), unreadable);
  CHECK_THROWS_WITH(adopted.fire(id, chat_events::user_message{"hi"}, t0), unreadable);
  CHECK(adopted.history(id).size() == 1);

  errand::postgres_record_store<work_orders> orders(schema.options());
  const auto order = orders.create(work_order{}, t0).id;
  pg_test::sql("UPDATE " + orders.tables().table + " SET priority = 9999999999 WHERE id = " + std::to_string(order));
  CHECK_THROWS_WITH(orders.get(order), contains_text("column 'priority' holds 9999999999, out of its field's range"));

  pg_test::sql("ALTER TABLE " + orders.tables().history +
               " DROP CONSTRAINT conformance_work_orders_history_from_state_check");
  pg_test::sql("UPDATE " + orders.tables().history +
               " SET from_state = 'gone' WHERE record_id = " + std::to_string(order));
  CHECK_THROWS_WITH(orders.history(order),
                    "errand: conformance_work_orders_history record " + std::to_string(order) +
                        " cannot be read: column 'from_state' holds 'gone', which is not a state");
}

TEST_CASE("records: a write the table refuses (a trigger) is a store_error, not decided again for ever",
          "[postgres][records][bad-input]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<chats> store(schema.options());
  const auto& t = store.tables();
  pg_test::sql("CREATE FUNCTION \"" + schema.name() +
               "\".refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$");
  pg_test::sql("CREATE TRIGGER no_running BEFORE UPDATE ON " + t.table +
               " FOR EACH ROW WHEN (NEW.status = 'running') EXECUTE FUNCTION \"" + schema.name() + "\".refuse()");
  pg_test::sql("CREATE TRIGGER no_secrets BEFORE INSERT ON " + t.table +
               " FOR EACH ROW WHEN (NEW.title = 'secret') EXECUTE FUNCTION \"" + schema.name() + "\".refuse()");
  const auto id = store.create(fresh_chat(), t0).id;
  CHECK_THROWS_WITH(store.fire(id, chat_events::acquire{"worker-1"}, t0),
                    contains_text("refused the write of conformance_chats record " + std::to_string(id)) &&
                        contains_text("nothing was written"));
  auto secret = fresh_chat("secret");
  secret.id = 77;
  CHECK_THROWS_WITH(store.create(secret, t0), contains_text("record 77 was refused by its table"));
  pqxx::connection application(pg_test::url());
  pqxx::work tx(application);
  CHECK_THROWS_AS(store.fire(tx, id, chat_events::acquire{"worker-1"}, t0), errand::store_error);
  tx.commit();
  CHECK(store.get(id)->status == chat_status::pending);
  CHECK(store.history(id).size() == 1);
  CHECK_FALSE(store.get(77).has_value());
  CHECK(store.fire(id, chat_events::user_message{"still writable"}, t0).status == fire_status::applied);
}

TEST_CASE("records: create and fire in the application's transaction commit with it, and subscribers hear them then",
          "[postgres][records][application-transaction]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<chats> store(schema.options());
  const std::string orders = "\"" + schema.name() + "\".orders";
  pg_test::sql("CREATE TABLE " + orders + " (id BIGINT PRIMARY KEY, chat BIGINT NOT NULL)");
  heard_list<chats> heard;
  const auto subscription = store.subscribe(heard.listener());

  pqxx::connection application(pg_test::url());
  pqxx::work tx(application);
  const auto created = store.create(tx, fresh_chat("order 42"), t0);
  const auto took = store.fire(tx, created.id, chat_events::acquire{"worker-1"}, t0 + 1s);
  REQUIRE(took.status == fire_status::applied);
  tx.exec("INSERT INTO " + orders + " VALUES (42, " + std::to_string(created.id) + ")");
  CHECK_FALSE(store.get(created.id).has_value());  // not committed yet: other connections see nothing
  CHECK(heard.copy().empty());
  tx.commit();

  CHECK(store.get(created.id) == took.row);
  const auto history = store.history(created.id);
  REQUIRE(history.size() == 2);
  CHECK(history[0].event == "create");
  CHECK(history[1] == *took.entry);
  CHECK(scalar("SELECT chat FROM " + orders + " WHERE id = 42") == std::to_string(created.id));
  REQUIRE(heard.wait_for(2));
  const auto notifications = heard.copy();
  CHECK(notifications[0].entry == history[0]);
  CHECK(notifications[1].entry == history[1]);
  CHECK(notifications[1].row == *took.row);
}

TEST_CASE("records: rolled back with the application's transaction, nothing of errand's is left",
          "[postgres][records][application-transaction]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<chats> store(schema.options());
  errand::postgres_record_store<chats> other(schema.options());
  heard_list<chats> heard;
  const auto subscription = store.subscribe(heard.listener());
  pg_test::announcements announced(store.tables().channel);
  const auto existing = other.create(fresh_chat("existing"), t0).id;

  std::int64_t rolled_back = 0;
  {
    pqxx::connection application(pg_test::url());
    pqxx::work tx(application);
    rolled_back = store.create(tx, fresh_chat("never"), t0).id;
    REQUIRE(store.fire(tx, existing, chat_events::acquire{"worker-1"}, t0).status == fire_status::applied);
    tx.abort();
  }
  CHECK_FALSE(store.get(rolled_back).has_value());
  CHECK(store.history(rolled_back).empty());
  CHECK(store.get(existing)->version == 1);
  CHECK(store.history(existing).size() == 1);
  CHECK(scalar("SELECT count(*) FROM " + store.tables().history) == "1");

  // Announcements arrive in commit order: once the marker is heard, anything
  // the rolled-back transaction sent would have been heard before it.
  const auto payloads = announced.until_marker();
  REQUIRE(payloads.size() == 1);
  CHECK(payloads[0].find(" " + std::to_string(existing) + ":1 conformance_chats") != std::string::npos);
  REQUIRE(heard.wait_for(1));
  const auto marker = other.fire(existing, chat_events::user_message{"still there?"}, t0).entry;
  REQUIRE(heard.wait_for(2));
  const auto notifications = heard.copy();
  REQUIRE(notifications.size() == 2);
  CHECK(notifications[0].entry.event == "create");
  CHECK(notifications[1].entry == *marker);
}

TEST_CASE("records: a write refused inside the application's transaction leaves it usable",
          "[postgres][records][application-transaction]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<chats> store(schema.options());
  const std::string notes = "\"" + schema.name() + "\".notes";
  pg_test::sql("CREATE TABLE " + notes + " (note TEXT NOT NULL)");
  pg_test::sql("ALTER TABLE " + store.tables().table + " ADD CONSTRAINT no_forbidden CHECK (title <> 'forbidden')");
  const auto existing = store.create(fresh_chat(), t0);

  pqxx::connection application(pg_test::url());
  pqxx::work tx(application);
  tx.exec("INSERT INTO " + notes + " VALUES ('before')");
  try {
    store.create(tx, fresh_chat("forbidden"), t0);
    FAIL("the CHECK let 'forbidden' in");
  } catch (const errand::postgres_statement_error& e) {
    CHECK(e.sqlstate == "23514");
  }
  CHECK_THROWS_WITH(store.create(tx, existing, t0), contains_text("exists already; nothing was written"));
  CHECK(store.fire(tx, existing.id, chat_events::turn_done{}, t0).status == fire_status::rejected);
  errand::fire_options stale;
  stale.expected_version = 7;
  CHECK(store.fire(tx, existing.id, chat_events::acquire{"w"}, t0, stale).status == fire_status::conflict);
  CHECK(store.fire(tx, existing.id + 100, chat_events::acquire{"w"}, t0).status == fire_status::not_found);
  CHECK_THROWS_AS(store.fire(tx, existing.id, chat_events::acquire{std::string("w\0", 2)}, t0), std::invalid_argument);
  tx.exec("INSERT INTO " + notes + " VALUES ('after')");
  tx.commit();
  CHECK(scalar("SELECT string_agg(note, ',' ORDER BY note) FROM " + notes) == "after,before");
  CHECK(scalar("SELECT count(*) FROM " + store.tables().table) == "1");
  CHECK(store.get(existing.id) == existing);
  CHECK(store.history(existing.id).size() == 1);

  pqxx::nontransaction autocommit(application);
  CHECK_THROWS_WITH(store.create(autocommit, fresh_chat(), t0), contains_text("pqxx::work"));
}

TEST_CASE("records: two stores on one table: ids never collide, and each hears the other's commits",
          "[postgres][records]") {
  pg_test::scratch_schema schema("errand_records");
  errand::postgres_record_store<chats> a(schema.options());
  auto options = schema.options();
  options.migrate = false;
  errand::postgres_record_store<chats> b(options);
  heard_list<chats> heard;
  const auto subscription = a.subscribe(heard.listener());

  std::vector<std::int64_t> ids_a, ids_b;
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) ids_b.push_back(b.create(fresh_chat("b"), t0).id);
  });
  for (int i = 0; i < 20; ++i) ids_a.push_back(a.create(fresh_chat("a"), t0).id);
  writer.join();
  std::vector<std::int64_t> all = ids_a;
  all.insert(all.end(), ids_b.begin(), ids_b.end());
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());

  const auto moved = b.fire(ids_a.front(), chat_events::acquire{"worker-b"}, t0 + 1s);
  REQUIRE(moved.status == fire_status::applied);
  REQUIRE(heard.wait_for(20 + 20 + 1));
  const auto notifications = heard.copy();
  const auto last =
      std::find_if(notifications.begin(), notifications.end(), [&](const auto& n) { return n.entry == *moved.entry; });
  REQUIRE(last != notifications.end());
  CHECK(last->row == *moved.row);
  CHECK(a.get(ids_a.front()) == moved.row);
}

TEST_CASE("records: with migrate off, an unmigrated table is refused; names must fit PostgreSQL's 63 bytes",
          "[postgres][records][options]") {
  pg_test::scratch_schema schema("errand_records");
  auto options = schema.options();
  options.migrate = false;
  CHECK_THROWS_WITH(errand::postgres_record_store<chats>(options),
                    contains_text("is at schema version 0 of 1") && contains_text("migrate = true"));
  auto long_prefix = schema.options();
  long_prefix.table_prefix = std::string(40, 'p');
  CHECK_THROWS_AS(errand::postgres_record_store<chats>(long_prefix), std::invalid_argument);
  auto bad_schema = schema.options();
  bad_schema.schema = "Records";
  CHECK_THROWS_AS(errand::postgres_record_store<chats>(bad_schema), std::invalid_argument);
}

TEST_CASE("records: a database whose encoding is not UTF8 is refused before anything is created",
          "[postgres][records][bad-input]") {
  pg_test::scratch_database database("LATIN1");
  errand::postgres_options options;
  options.url = database.url();
  const auto names_encoding =
      contains_text("errand: database \"" + database.name() + "\" has server encoding LATIN1; errand stores UTF-8 text");
  const auto nothing_changed = contains_text("nothing was created or changed");
  CHECK_THROWS_WITH(errand::postgres_record_store<support_chats>(options), names_encoding && nothing_changed);
  options.migrate = false;
  CHECK_THROWS_WITH(errand::postgres_record_store<support_chats>(options), names_encoding && nothing_changed);
  CHECK(database.relations() == "0");
}
