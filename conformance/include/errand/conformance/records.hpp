#pragma once
// The record conformance suite: the executable definition of "a backend
// stores any machine" (errand/record_store.hpp), run for three machines
// (record_machines.hpp) and for the job lifecycle (errand/job_records.hpp). A backend's test file declares a fixture template in
// the global namespace, then includes this header once:
//
//   template <class D>
//   struct record_fixture {
//     using store_type = my_record_store<D>;  // satisfies errand::record_store
//     static constexpr const char* name = "mine";
//     store_type& store();                    // empty at start; used from several threads at once
//     store_type& second_store();             // another store on the same data, as a second
//                                             // process would open it (the same one where
//                                             // nothing else can be)
//     void reopen();                          // close store() and open it again on the same data
//   };
//   #include <errand/conformance/records.hpp>
//
// and links errand::conformance (Catch2 2.13 or 3). The suite uses nothing but
// the record_store concept and errand's core. docs/backends/writing-a-backend.md
// says more.

#include <errand/conformance/catch.hpp>
#include <errand/conformance/record_machines.hpp>
#include <errand/job_records.hpp>
#include <errand/record_step.hpp>
#include <errand/record_store.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace errand::conformance::records {

using namespace std::chrono_literals;

inline time_point at(std::string_view iso) { return *from_iso8601(iso); }
inline const time_point t0 = at("2026-11-30T10:00:00.000000Z");

// What the generic cases need of each machine: a new row, a way into an error
// state with a given reason and out of it, and an event the initial state
// cannot take.
template <class D>
struct script;

template <>
struct script<chats> {
  using state_type = chat_status;
  static chat fresh() {
    chat c;
    c.title = "support request";
    return c;
  }
  static constexpr state_type error_state = chat_status::error;
  static constexpr state_type after_error = chat_status::pending;
  template <class Store>
  static fire_result<chats> into_error(Store& s, std::int64_t id, const std::string& reason, time_point now) {
    REQUIRE(s.fire(id, chat_events::acquire{"worker-1"}, now, {}).status == fire_status::applied);
    return s.fire(id, chat_events::processing_failed{reason}, now, {});
  }
  template <class Store>
  static fire_result<chats> out_of_error(Store& s, std::int64_t id, time_point now, const fire_options& o = {}) {
    return s.fire(id, chat_events::user_message{"try again"}, now, o);
  }
  template <class Store>
  static fire_result<chats> illegal(Store& s, std::int64_t id, time_point now) {
    return s.fire(id, chat_events::turn_done{}, now, {});
  }
  static constexpr std::string_view illegal_message = "state 'pending' cannot take event 'turn_done'";
  // An event the initial state takes and stays in: safe to fire any number of times.
  template <class Store>
  static fire_result<chats> self_loop(Store& s, std::int64_t id, time_point now, const fire_options& o = {}) {
    return s.fire(id, chat_events::user_message{"hello"}, now, o);
  }
};

template <>
struct script<work_orders> {
  using state_type = order_state;
  static work_order fresh() {
    work_order w;
    w.priority = 2;
    w.estimate_minutes = 90;
    w.cost = 0.25;
    w.urgent = true;
    return w;
  }
  static constexpr state_type error_state = order_state::on_hold;
  static constexpr state_type after_error = order_state::in_progress;
  template <class Store>
  static fire_result<work_orders> into_error(Store& s, std::int64_t id, const std::string& reason, time_point now) {
    REQUIRE(s.fire(id, order_events::schedule{now + 48h, crew_kind::electrical}, now, {}).status ==
            fire_status::applied);
    REQUIRE(s.fire(id, order_events::start{}, now, {}).status == fire_status::applied);
    return s.fire(id, order_events::hold{reason}, now, {});
  }
  template <class Store>
  static fire_result<work_orders> out_of_error(Store& s, std::int64_t id, time_point now,
                                               const fire_options& o = {}) {
    return s.fire(id, order_events::resume{}, now, o);
  }
  template <class Store>
  static fire_result<work_orders> illegal(Store& s, std::int64_t id, time_point now) {
    return s.fire(id, order_events::start{}, now, {});
  }
  static constexpr std::string_view illegal_message = "state 'open' cannot take event 'start'";
};

template <>
struct script<deployments> {
  using state_type = deployment_state;
  static deployment fresh() {
    deployment d;
    d.service = "api";
    d.revision = "r1";
    return d;
  }
  static constexpr state_type error_state = deployment_state::rolled_back;
  static constexpr state_type after_error = deployment_state::queued;
  template <class Store>
  static fire_result<deployments> into_error(Store& s, std::int64_t id, const std::string& reason, time_point now) {
    REQUIRE(s.fire(id, deployment_events::deploy{}, now, {}).status == fire_status::applied);
    return s.fire(id, deployment_events::health_check_failed{reason, 3}, now, {});
  }
  template <class Store>
  static fire_result<deployments> out_of_error(Store& s, std::int64_t id, time_point now,
                                               const fire_options& o = {}) {
    return s.fire(id, deployment_events::retry{}, now, o);
  }
  template <class Store>
  static fire_result<deployments> illegal(Store& s, std::int64_t id, time_point now) {
    return s.fire(id, deployment_events::went_live{}, now, {});
  }
  static constexpr std::string_view illegal_message = "state 'queued' cannot take event 'went_live'";
};

// The job lifecycle, decided by decide(): a worker claims the job, an
// operator's cancel puts it in `failed` with its reason, a requeue takes it out.
template <>
struct script<job_records> {
  using state_type = job_state;
  static job fresh() {
    job j;
    j.queue = "mail";
    j.kind = "welcome";
    j.payload = R"({"to":"ada@example.com"})";
    j.run_at = t0;
    j.created_at = t0;
    j.updated_at = t0;
    return j;
  }
  static constexpr state_type error_state = job_state::failed;
  static constexpr state_type after_error = job_state::pending;
  template <class Store>
  static fire_result<job_records> into_error(Store& s, std::int64_t id, const std::string& reason, time_point now) {
    REQUIRE(s.fire(id, claim{"worker-1"}, now, {}).status == fire_status::applied);
    return s.fire(id, cancel{reason}, now, {});
  }
  template <class Store>
  static fire_result<job_records> out_of_error(Store& s, std::int64_t id, time_point now,
                                               const fire_options& o = {}) {
    return s.fire(id, requeue{}, now, o);
  }
  template <class Store>
  static fire_result<job_records> illegal(Store& s, std::int64_t id, time_point now) {
    return s.fire(id, requeue{}, now, {});
  }
  static constexpr std::string_view illegal_message = "state 'pending' cannot take event 'requeue'";
};

template <class D>
std::optional<std::string> reason_of(const typename D::row& row) {
  return row.*(D::error_reason);
}

template <class Fixture>
using definition_of = typename Fixture::store_type::definition;

}  // namespace errand::conformance::records

using record_fixtures =
    std::tuple<record_fixture<errand::conformance::chats>, record_fixture<errand::conformance::work_orders>,
               record_fixture<errand::conformance::deployments>, record_fixture<errand::job_records>>;

#define ERRAND_RECORD_CASE(title) TEMPLATE_LIST_TEST_CASE(title, "[records]", record_fixtures)

namespace errand::conformance::records {

template <class Fixture>
void each_store_is_a_record_store() {
  static_assert(record_store<typename Fixture::store_type>);
}

}  // namespace errand::conformance::records

ERRAND_RECORD_CASE("records: create writes the initial state, version 1 and a create entry") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  each_store_is_a_record_store<TestType>();
  TestType f;
  auto& store = f.store();
  const auto created = store.create(S::fresh(), t0);
  CHECK(created.*(D::id) > 0);
  CHECK(created.*(D::version) == 1);
  CHECK(created.*(D::state) == D::machine::initial);
  CHECK(store.get(created.*(D::id)) == created);
  const auto history = store.history(created.*(D::id));
  REQUIRE(history.size() == 1);
  CHECK(history[0].seq == 1);
  CHECK(history[0].event == "create");
  CHECK(history[0].from == D::machine::initial);
  CHECK(history[0].to == D::machine::initial);
  CHECK(history[0].at == t0);
  CHECK_FALSE(store.get(created.*(D::id) + 1000).has_value());
  CHECK(store.history(created.*(D::id) + 1000).empty());
}

ERRAND_RECORD_CASE("records: ids are assigned in order; an explicit id is kept and an existing one refused") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto first = store.create(S::fresh(), t0);
  const auto second = store.create(S::fresh(), t0);
  CHECK(second.*(D::id) > first.*(D::id));
  auto chosen = S::fresh();
  chosen.*(D::id) = 5000;
  CHECK(store.create(chosen, t0).*(D::id) == 5000);
  CHECK_THROWS_AS(store.create(chosen, t0 + 1s), errand::store_error);
  CHECK(store.history(5000).size() == 1);
  CHECK((*store.get(5000)).*(D::version) == 1);
}

ERRAND_RECORD_CASE("records: a new record not in the initial state, or holding text no database stores, is refused") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  auto wrong_state = S::fresh();
  wrong_state.*(D::state) = S::error_state;
  CHECK_THROWS_WITH(store.create(wrong_state, t0), errand::conformance::contains_text("starts in state") &&
                                                       errand::conformance::contains_text("nothing was written"));
  auto negative = S::fresh();
  negative.*(D::id) = -4;
  CHECK_THROWS_AS(store.create(negative, t0), std::invalid_argument);
  if constexpr (std::is_same_v<D, errand::conformance::chats>) {
    auto nul = S::fresh();
    nul.title = std::string("a\0b", 3);
    CHECK_THROWS_WITH(store.create(nul, t0),
                      errand::conformance::contains_text("'title'") && errand::conformance::contains_text("NUL"));
    auto latin1 = S::fresh();
    latin1.title = "caf\xE9";
    CHECK_THROWS_WITH(store.create(latin1, t0), errand::conformance::contains_text("not valid UTF-8"));
  }
  if constexpr (std::is_same_v<D, errand::conformance::work_orders>) {
    auto never_due = S::fresh();
    never_due.due = errand::time_point::max();  // written as a year past 9999, which no store reads back
    CHECK_THROWS_WITH(store.create(never_due, t0),
                      errand::conformance::contains_text("field 'due' is outside the years 0001 to 9999") &&
                          errand::conformance::contains_text("nothing was written"));
  }
  typename errand::record_query<D> everything;
  CHECK(store.query(everything).empty());
}

ERRAND_RECORD_CASE("records: an event moves the row, bumps its version and appends its history") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(S::fresh(), t0).*(D::id);
  const auto failed = S::into_error(store, id, "disk full", t0 + 1min);
  REQUIRE(failed.status == errand::fire_status::applied);
  CHECK((*failed.row).*(D::state) == S::error_state);
  CHECK((*failed.row).*(D::version) == static_cast<std::int64_t>(store.history(id).size()));
  CHECK(store.get(id) == failed.row);
  const auto history = store.history(id);
  REQUIRE(history.size() >= 3);
  for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
  for (std::size_t i = 1; i < history.size(); ++i) CHECK(history[i].from == history[i - 1].to);
  CHECK(history.back() == *failed.entry);
  CHECK(history.back().to == S::error_state);
  CHECK(history.back().at == t0 + 1min);
  CHECK_THAT(history.back().payload, errand::conformance::contains_text("\"reason\":\"disk full\""));
}

ERRAND_RECORD_CASE("records: entering an error state writes the reason and its time; leaving it writes NULL") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(S::fresh(), t0).*(D::id);
  CHECK_FALSE(reason_of<D>(*store.get(id)).has_value());
  REQUIRE(S::into_error(store, id, "stream response: status 500", t0 + 2min));
  const auto failed = *store.get(id);
  CHECK(reason_of<D>(failed) == "stream response: status 500");
  if constexpr (errand::detail::declares_error_at<D>) CHECK(failed.*(D::error_at) == t0 + 2min);

  const auto recovered = S::out_of_error(store, id, t0 + 3min);
  REQUIRE(recovered.status == errand::fire_status::applied);
  CHECK((*recovered.row).*(D::state) == S::after_error);
  f.reopen();
  const auto stored = *f.store().get(id);
  CHECK_FALSE(reason_of<D>(stored).has_value());  // NULL, not ''
  if constexpr (errand::detail::declares_error_at<D>) CHECK_FALSE((stored.*(D::error_at)).has_value());
}

ERRAND_RECORD_CASE("records: a reason is stored as storable text, and an empty one says so") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const std::string hostile = std::string("nul\0here \xFF\xFE ", 12) + std::string(40000, 'x');
  const auto id = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, id, hostile, t0));
  const auto reason = *reason_of<D>(*store.get(id));
  CHECK(reason == errand::storable_error_text(hostile));
  CHECK(reason.size() <= errand::max_error_bytes);
  CHECK_THAT(reason, errand::conformance::contains_text("[truncated from 40012 bytes]"));
  CHECK_FALSE(errand::unstorable_reason(store.history(id).back().payload).has_value());

  const auto quiet = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, quiet, "", t0));
  CHECK(reason_of<D>(*store.get(quiet)) == std::string(errand::missing_reason));
}

ERRAND_RECORD_CASE("records: an illegal event is rejected by name and changes nothing") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto created = store.create(S::fresh(), t0);
  const auto id = created.*(D::id);
  const auto refused = S::illegal(store, id, t0 + 1s);
  CHECK(refused.status == errand::fire_status::rejected);
  CHECK_FALSE(refused);
  CHECK_THAT(refused.message, Catch::Matchers::EndsWith(std::string(S::illegal_message)));
  CHECK(refused.row == created);
  CHECK_FALSE(refused.entry.has_value());
  CHECK(store.get(id) == created);
  CHECK(store.history(id).size() == 1);

  const auto missing = S::illegal(store, id + 1000, t0);
  CHECK(missing.status == errand::fire_status::not_found);
  CHECK_FALSE(missing.row.has_value());
}

TEMPLATE_TEST_CASE("records: a guard that refuses is named in the rejection", "[records]",
                   record_fixture<errand::conformance::chats>) {
  using namespace errand::conformance;
  using namespace errand::conformance::records;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(script<chats>::fresh(), t0).id;
  REQUIRE(store.fire(id, chat_events::acquire{"worker-1"}, t0, {}));
  const auto early = store.fire(id, chat_events::stale_sweep{}, t0 + 1min, {});
  CHECK(early.status == errand::fire_status::rejected);
  CHECK(early.message == "state 'running' refused event 'stale_sweep': no guard accepted it");
  CHECK(store.get(id)->worker == "worker-1");
  const auto late = store.fire(id, chat_events::stale_sweep{}, t0 + 6min, {});
  CHECK(late.status == errand::fire_status::applied);
  CHECK(late.row->status == chat_status::pending);
  CHECK_FALSE(late.row->worker.has_value());
  CHECK_FALSE(late.row->heartbeat_at.has_value());
}

TEMPLATE_TEST_CASE("records: the job lifecycle is stored as decide() decides it", "[records]",
                   record_fixture<errand::job_records>) {
  using namespace errand::conformance::records;
  using S = script<errand::job_records>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(S::fresh(), t0).id;

  const auto early = store.fire(id, errand::claim{"worker-1", 30s}, t0 - 1s, {});
  CHECK(early.status == errand::fire_status::rejected);
  CHECK_THAT(early.message, Catch::Matchers::EndsWith("is not due until 2026-11-30T10:00:00.000000Z"));

  const auto claimed = store.fire(id, errand::claim{"worker-1", 30s}, t0, {});
  REQUIRE(claimed.status == errand::fire_status::applied);
  CHECK(claimed.row->attempt == 1);
  CHECK(claimed.row->lease_until == t0 + 30s);

  const errand::fail failure{1, "worker-1", {"smtp: 451 try later"}};
  const auto expected = errand::decide(*claimed.row, failure, errand::retry_policy{}, t0 + 5s);
  const auto failed = store.fire(id, failure, t0 + 5s, {});
  REQUIRE(failed.status == errand::fire_status::applied);
  CHECK(*failed.row == expected.next);
  CHECK(failed.row->state == errand::job_state::retry_pending);
  CHECK(failed.row->last_error == "smtp: 451 try later");
  CHECK(failed.row->last_error_at == t0 + 5s);
  CHECK(failed.entry->payload == expected.record->payload);

  const auto again = store.fire(id, failure, t0 + 6s, {});
  CHECK(again.status == errand::fire_status::duplicate);
  CHECK(again.row == failed.row);
  const auto stale = store.fire(id, errand::succeed{1, "worker-1"}, t0 + 6s, {});
  CHECK(stale.status == errand::fire_status::rejected);
  CHECK_THAT(stale.message, errand::conformance::contains_text("is no longer held by it"));
  f.reopen();
  CHECK(f.store().get(id) == failed.row);
  CHECK(f.store().history(id).size() == 3);

  const auto retried = f.store().fire(id, errand::claim{"worker-2", 30s}, failed.row->run_at, {});
  REQUIRE(retried.status == errand::fire_status::applied);
  CHECK(retried.row->attempt == 2);
  CHECK_FALSE(retried.row->last_error.has_value());  // a fresh attempt starts clean
  const auto done = f.store().fire(id, errand::succeed{2, "worker-2"}, failed.row->run_at + 1s, {});
  REQUIRE(done.status == errand::fire_status::applied);
  CHECK(done.row->state == errand::job_state::succeeded);
  CHECK(f.store().history(id).size() == 5);
}

ERRAND_RECORD_CASE("records: a stale writer loses and writes nothing") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, id, "failed once", t0));
  const auto read_by_both = (*store.get(id)).*(D::version);
  errand::fire_options stale;
  stale.expected_version = read_by_both;
  REQUIRE(S::out_of_error(f.second_store(), id, t0 + 1s, stale).status == errand::fire_status::applied);
  const auto moved = *store.get(id);
  const auto lost = S::out_of_error(store, id, t0 + 2s, stale);
  CHECK(lost.status == errand::fire_status::conflict);
  CHECK_FALSE(lost);
  CHECK(lost.message == "errand: " + std::string(errand::record_traits<D>::table) + " record " + std::to_string(id) +
                            " is at version " + std::to_string(read_by_both + 1) + ", not " +
                            std::to_string(read_by_both) + "; nothing was written");
  CHECK(lost.row == moved);
  CHECK(store.get(id) == moved);
  CHECK(static_cast<std::int64_t>(store.history(id).size()) == read_by_both + 1);
}

TEMPLATE_TEST_CASE("records: an event fired again with its idempotency key is acknowledged once", "[records]",
                   record_fixture<errand::conformance::chats>) {
  using namespace errand::conformance;
  using namespace errand::conformance::records;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(script<chats>::fresh(), t0).id;
  errand::fire_options keyed;
  keyed.idempotency_key = "message-7";
  const auto first = store.fire(id, chat_events::acquire{"worker-1"}, t0, keyed);
  REQUIRE(first.status == errand::fire_status::applied);
  const auto again = f.second_store().fire(id, chat_events::acquire{"worker-1"}, t0 + 1s, keyed);
  CHECK(again.status == errand::fire_status::duplicate);
  CHECK(again);
  CHECK(again.entry == first.entry);
  CHECK(again.row == store.get(id));
  CHECK(store.history(id).size() == 2);
  CHECK(store.history(id).back().idempotency_key == "message-7");
  // The key is per record: another chat may use it.
  const auto other = store.create(script<chats>::fresh(), t0).id;
  CHECK(store.fire(other, chat_events::acquire{"worker-2"}, t0, keyed).status == errand::fire_status::applied);
  // A key already used is a duplicate even where the event would now be illegal.
  CHECK(store.fire(id, chat_events::acquire{"worker-1"}, t0 + 2s, keyed).status == errand::fire_status::duplicate);
}

ERRAND_RECORD_CASE("records: idempotency keys no database could hold are refused before anything is written") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, id, "failed", t0));
  const auto version = (*store.get(id)).*(D::version);
  for (const std::string& bad : {std::string(), std::string(201, 'k'), std::string("k\0y", 3), std::string("\xC3(")}) {
    errand::fire_options options;
    options.idempotency_key = bad;
    CHECK_THROWS_AS(S::out_of_error(store, id, t0, options), std::invalid_argument);
  }
  CHECK((*store.get(id)).*(D::version) == version);
  CHECK(static_cast<std::int64_t>(store.history(id).size()) == version);
}

TEMPLATE_TEST_CASE("records: writers in two stores at once lose no transition", "[records]",
                   record_fixture<errand::conformance::chats>) {
  using namespace errand::conformance;
  using namespace errand::conformance::records;
  TestType f;
  const auto id = f.store().create(script<chats>::fresh(), t0).id;
  constexpr int per_thread = 40;
  std::atomic<int> applied{0}, conflicts{0};
  auto writer = [&](auto& store, bool guarded) {
    for (int i = 0; i < per_thread; ++i) {
      errand::fire_options options;
      if (guarded) options.expected_version = store.get(id)->version;
      const auto result = script<chats>::self_loop(store, id, t0, options);
      if (result.status == errand::fire_status::applied) ++applied;
      else if (result.status == errand::fire_status::conflict) ++conflicts;
      else FAIL(result.message);
    }
  };
  std::thread a([&] { writer(f.store(), false); });
  std::thread b([&] { writer(f.second_store(), true); });
  std::thread c([&] { writer(f.store(), true); });
  a.join();
  b.join();
  c.join();
  CHECK(applied + conflicts == 3 * per_thread);
  CHECK(applied >= per_thread);  // the unguarded writer never loses
  const auto row = *f.store().get(id);
  const auto history = f.store().history(id);
  CHECK(row.version == 1 + applied);
  CHECK(static_cast<int>(history.size()) == 1 + applied);
  for (std::size_t i = 0; i < history.size(); ++i) CHECK(history[i].seq == static_cast<std::int64_t>(i + 1));
}

ERRAND_RECORD_CASE("records: query pages by state and by field") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(store.create(S::fresh(), t0).*(D::id));
  for (int i = 0; i < 7; i += 2) REQUIRE(S::into_error(store, ids[static_cast<std::size_t>(i)], "reason " + std::to_string(i), t0));

  errand::record_query<D> failing;
  failing.state = S::error_state;
  failing.limit = 3;
  const auto page1 = store.query(failing);
  REQUIRE(page1.size() == 3);
  CHECK(page1[0].*(D::id) == ids[0]);
  CHECK(page1[2].*(D::id) == ids[4]);
  failing.after_id = page1.back().*(D::id);
  const auto page2 = store.query(failing);
  REQUIRE(page2.size() == 1);
  CHECK(page2[0].*(D::id) == ids[6]);

  errand::record_query<D> by_reason;
  by_reason.where(D::error_reason, std::optional<std::string>("reason 4"));
  const auto found = store.query(by_reason);
  REQUIRE(found.size() == 1);
  CHECK(found[0].*(D::id) == ids[4]);

  errand::record_query<D> without_reason;
  without_reason.where(D::error_reason, std::optional<std::string>());
  CHECK(store.query(without_reason).size() == 3);

  errand::record_query<D> hostile;
  hostile.where(D::error_reason, std::optional<std::string>(std::string("a\0b", 3)));
  CHECK_THROWS_AS(store.query(hostile), std::invalid_argument);
}

TEMPLATE_TEST_CASE("records: every field type round-trips and can be queried", "[records]",
                   record_fixture<errand::conformance::work_orders>) {
  using namespace errand::conformance;
  using namespace errand::conformance::records;
  TestType f;
  auto& store = f.store();
  auto order = script<work_orders>::fresh();
  order.priority = -7;
  order.estimate_minutes = 9'000'000'000;
  order.cost = 1234.5;
  const auto id = store.create(order, t0).id;
  const auto due = at("2026-12-24T23:59:59.999999Z");
  REQUIRE(store.fire(id, order_events::schedule{due, crew_kind::plumbing}, t0, {}));
  REQUIRE(store.fire(id, order_events::start{}, t0, {}));
  REQUIRE(store.fire(id, order_events::complete{99.75}, t0, {}));
  f.reopen();
  const auto stored = *f.store().get(id);
  CHECK(stored.state == order_state::done);
  CHECK(stored.priority == -7);
  CHECK(stored.estimate_minutes == 9'000'000'000);
  CHECK(stored.due == due);
  CHECK(stored.crew == crew_kind::plumbing);
  CHECK(stored.cost == 99.75);
  CHECK(stored.urgent);
  CHECK_FALSE(stored.hold_reason.has_value());
  CHECK(stored.lock_version == 4);
  const auto history = f.store().history(id);
  REQUIRE(history.size() == 4);
  CHECK(history[1].payload == "{\"due\":\"2026-12-24T23:59:59.999999Z\",\"crew\":\"plumbing\"}");

  const auto other = f.store().create(script<work_orders>::fresh(), t0).id;
  errand::record_query<work_orders> plumbing;
  plumbing.where(&work_order::crew, std::optional<crew_kind>(crew_kind::plumbing)).where(&work_order::urgent, true);
  const auto found = f.store().query(plumbing);
  REQUIRE(found.size() == 1);
  CHECK(found[0].id == id);
  errand::record_query<work_orders> unscheduled;
  unscheduled.where(&work_order::due, std::optional<errand::time_point>());
  unscheduled.where(&work_order::priority, std::int32_t{2});
  const auto open = f.store().query(unscheduled);
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == other);
}

TEMPLATE_TEST_CASE("records: an event holding what no database stores is refused and writes nothing", "[records]",
                   record_fixture<errand::conformance::chats>, record_fixture<errand::conformance::work_orders>) {
  using namespace errand::conformance;
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  TestType f;
  auto& store = f.store();
  const auto id = store.create(script<D>::fresh(), t0).id;
  if constexpr (std::is_same_v<D, chats>) {
    CHECK_THROWS_WITH(store.fire(id, chat_events::user_message{"caf\xE9"}, t0, {}),
                      errand::conformance::contains_text("event 'user_message'") &&
                          errand::conformance::contains_text("nothing was written"));
    CHECK_THROWS_WITH(store.fire(id, chat_events::acquire{std::string("w\0", 2)}, t0, {}),
                      errand::conformance::contains_text("'worker'") && errand::conformance::contains_text("NUL"));
  } else {
    CHECK_THROWS_WITH(store.fire(id, order_events::schedule{errand::time_point::max(), crew_kind::plumbing}, t0, {}),
                      errand::conformance::contains_text("event 'schedule'") &&
                          errand::conformance::contains_text("outside the years 0001 to 9999") &&
                          errand::conformance::contains_text("nothing was written"));
  }
  CHECK((*store.get(id)).*(D::version) == 1);
  CHECK(store.history(id).size() == 1);
}

ERRAND_RECORD_CASE("records: prune deletes old records in the given states with their history, and only those") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  const auto old_failed = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, old_failed, "old", t0 + 1min));
  const auto old_fresh = store.create(S::fresh(), t0).*(D::id);  // old, but not in a pruned state
  const auto new_failed = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, new_failed, "new", t0 + 2h));

  errand::record_prune<D> request;
  request.states = {S::error_state};
  request.unchanged_since = t0 + 1h;
  const auto pruned = store.prune(request);
  CHECK(pruned.records_deleted == 1);
  CHECK(pruned.history_deleted == static_cast<std::int64_t>(store.history(new_failed).size()));
  CHECK_FALSE(store.get(old_failed).has_value());
  CHECK(store.history(old_failed).empty());
  CHECK(store.get(old_fresh).has_value());
  CHECK(store.history(old_fresh).size() == 1);
  CHECK(store.get(new_failed).has_value());

  errand::record_prune<D> trim;
  trim.keep_history = 1;
  const auto trimmed = store.prune(trim);
  CHECK(trimmed.records_deleted == 0);
  const auto kept = store.history(new_failed);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].to == S::error_state);
  CHECK((*store.get(new_failed)).*(D::version) > 1);
  errand::record_prune<D> nothing;
  nothing.keep_history = 0;
  CHECK_THROWS_AS(store.prune(nothing), std::invalid_argument);
  // Default states are the machine's terminal states: the error state here is pruned only if terminal.
  errand::record_prune<D> terminal_only;
  terminal_only.unchanged_since = t0 + 3h;
  store.prune(terminal_only);
  CHECK(store.get(new_failed).has_value() == !D::machine::is_terminal(S::error_state));
  CHECK(store.get(old_fresh).has_value());
}

ERRAND_RECORD_CASE("records: subscribers hear of committed transitions only, after commit") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  auto& store = f.store();
  std::vector<errand::record_notification<D>> heard;
  std::mutex mutex;
  std::vector<bool> visible_when_heard;
  auto subscription = store.subscribe([&](const errand::record_notification<D>& n) {
    const bool visible = f.second_store().get(n.row.*(D::id)) == n.row;  // after commit: readers see it
    std::scoped_lock lock(mutex);
    heard.push_back(n);
    visible_when_heard.push_back(visible);
  });
  const auto id = store.create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(store, id, "boom", t0));
  const auto before = heard.size();
  CHECK(S::illegal(store, store.create(S::fresh(), t0).*(D::id), t0).status == errand::fire_status::rejected);
  std::scoped_lock lock(mutex);
  CHECK(heard.size() == before + 1);  // the second create, not the rejection
  REQUIRE(before >= 2);
  const auto& last = heard[before - 1];
  CHECK(last.row == *store.get(id));
  CHECK(last.entry == store.history(id).back());
  CHECK(std::count(visible_when_heard.begin(), visible_when_heard.end(), false) == 0);
  subscription.reset();
}

ERRAND_RECORD_CASE("records: records and their history survive reopening") {
  using namespace errand::conformance::records;
  using D = definition_of<TestType>;
  using S = script<D>;
  TestType f;
  const auto id = f.store().create(S::fresh(), t0).*(D::id);
  REQUIRE(S::into_error(f.store(), id, "before the restart", t0));
  const auto row = f.store().get(id);
  const auto history = f.store().history(id);
  f.reopen();
  CHECK(f.store().get(id) == row);
  CHECK(f.store().history(id) == history);
  REQUIRE(S::out_of_error(f.store(), id, t0 + 1s));
  CHECK(f.store().history(id).size() == history.size() + 1);
}

#undef ERRAND_RECORD_CASE
