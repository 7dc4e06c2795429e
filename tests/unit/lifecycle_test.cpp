// lifecycle.hpp: the canonical job lifecycle as a table, its guards and the
// actions that turn the contract into data, exercised through the machine's
// own dispatch (decide_test covers decide() on top of it).

#include "errand_catch.hpp"
#include <errand/lifecycle.hpp>

#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_lifecycle;
using errand::job_state;

const errand::time_point t0 = errand::time_point{std::chrono::seconds{1'767'225'600}};  // 2026-01-01T00:00:00Z

constexpr job_state all_states[] = {job_state::pending, job_state::running, job_state::retry_pending, job_state::failed,
                                    job_state::succeeded};

// One transition through the machine itself, with the context decide() builds.
struct transition {
  errand::job current;
  errand::job next;
  errand::retry_policy policy = errand::retry_policy::immediate();

  explicit transition(errand::job row) : current(row), next(row) {}

  template <class Event>
  errand::dispatch_result<job_state> take(const Event& e, errand::time_point now = t0) {
    errand::transition_context context{current, next, policy, now};
    return job_lifecycle::dispatch(current.state, e, context);
  }
};

errand::job row_in(job_state state, std::int32_t attempt = 1, std::int32_t max_attempts = 3) {
  errand::job row;
  row.id = 7;
  row.state = state;
  row.attempt = attempt;
  row.max_attempts = max_attempts;
  row.worker = "w1";
  if (state == job_state::running) {
    row.lease_until = t0 + 30s;
    row.heartbeat_at = t0;
  }
  if (state == job_state::retry_pending || state == job_state::failed) {
    row.last_error = "disk full";
    row.last_error_kind = "reported";
    row.last_error_at = t0 - 1min;
  }
  return row;
}

// The table as the documentation states it: which states take which events.
bool documented(job_state from, std::string_view event) {
  using enum job_state;
  if (event == "claim") return from == pending || from == retry_pending;
  if (event == "succeed" || event == "fail" || event == "lease_expired") return from == running;
  if (event == "cancel") return from == pending || from == retry_pending || from == running;
  if (event == "requeue") return from == failed;
  if (event == "release") return from == running;
  return false;
}

}  // namespace

TEST_CASE("the lifecycle starts pending and only succeeded is terminal", "[lifecycle]") {
  STATIC_REQUIRE(job_lifecycle::initial == job_state::pending);
  STATIC_REQUIRE(job_lifecycle::is_terminal(job_state::succeeded));
  STATIC_REQUIRE_FALSE(job_lifecycle::is_terminal(job_state::failed));  // an operator can requeue it
  STATIC_REQUIRE(job_lifecycle::state_count == 5);
  STATIC_REQUIRE(job_lifecycle::row_count == 12);
}

TEST_CASE("which states are claimable, leased and finished comes from the table", "[lifecycle]") {
  using errand::job_state;
  CHECK(std::vector(errand::claimable_states.begin(), errand::claimable_states.end()) ==
        std::vector{job_state::pending, job_state::retry_pending});
  CHECK(std::vector(errand::leased_states.begin(), errand::leased_states.end()) ==
        std::vector{job_state::running});
  CHECK(std::vector(errand::finished_states.begin(), errand::finished_states.end()) ==
        std::vector{job_state::failed, job_state::succeeded});
  // unfinished_states (job.hpp, for unique keys) is the rest.
  for (const auto state : errand::enumerators<job_state>())
    CHECK(errand::is_finished(state) != (std::find(errand::unfinished_states.begin(), errand::unfinished_states.end(),
                                                   state) != errand::unfinished_states.end()));
}

TEST_CASE("the state names are the strings a database stores", "[lifecycle]") {
  CHECK(errand::name_of(job_state::pending) == "pending");
  CHECK(errand::name_of(job_state::running) == "running");
  CHECK(errand::name_of(job_state::retry_pending) == "retry_pending");
  CHECK(errand::name_of(job_state::failed) == "failed");
  CHECK(errand::name_of(job_state::succeeded) == "succeeded");
  CHECK(errand::from_name<job_state>("retry_pending") == job_state::retry_pending);
  CHECK_FALSE(errand::from_name<job_state>("RETRY_PENDING").has_value());
}

TEST_CASE("the event names are the ones history records carry", "[lifecycle]") {
  std::vector<std::string_view> names;
  boost::mp11::mp_for_each<boost::mp11::mp_transform<boost::mp11::mp_identity, job_lifecycle::event_list>>(
      [&](auto tag) { names.push_back(decltype(tag)::type::name); });
  CHECK(names ==
        std::vector<std::string_view>{"claim", "succeed", "fail", "lease_expired", "cancel", "requeue", "release"});
}

TEST_CASE("the table takes exactly the documented events in each state", "[lifecycle]") {
  boost::mp11::mp_for_each<boost::mp11::mp_transform<boost::mp11::mp_identity, job_lifecycle::event_list>>(
      [&](auto tag) {
        using event = typename decltype(tag)::type;
        for (const auto state : all_states) {
          INFO(*errand::name_of(state) << " takes " << event::name);
          CHECK(job_lifecycle::can_take<event>(state) == documented(state, event::name));
        }
      });
}

TEST_CASE("the targets of each event, in row order", "[lifecycle]") {
  const auto fail_targets = job_lifecycle::targets<errand::fail>(job_state::running);
  CHECK(std::vector<job_state>(fail_targets.begin(), fail_targets.end()) ==
        std::vector<job_state>{job_state::retry_pending, job_state::failed});
  const auto expiry_targets = job_lifecycle::targets<errand::lease_expired>(job_state::running);
  CHECK(std::vector<job_state>(expiry_targets.begin(), expiry_targets.end()) ==
        std::vector<job_state>{job_state::retry_pending, job_state::failed});
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::pending, errand::claim>() == job_state::running);
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::retry_pending, errand::claim>() == job_state::running);
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::running, errand::succeed>() == job_state::succeeded);
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::running, errand::cancel>() == job_state::failed);
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::failed, errand::requeue>() == job_state::pending);
  STATIC_REQUIRE(job_lifecycle::target_of<job_state::running, errand::release>() == job_state::pending);
}

TEST_CASE("contract 6: every (state, event) pair outside the table is rejected naming both, and writes nothing",
          "[contract][lifecycle]") {
  int rejected = 0;
  boost::mp11::mp_for_each<boost::mp11::mp_transform<boost::mp11::mp_identity, job_lifecycle::event_list>>(
      [&](auto tag) {
        using event = typename decltype(tag)::type;
        for (const auto state : all_states) {
          if (documented(state, event::name)) continue;
          ++rejected;
          transition t(row_in(state));
          const auto result = t.take(event{});
          INFO(result.message());
          CHECK_FALSE(result);
          CHECK(result.reason == errand::rejection_reason::no_transition);
          CHECK(result.message() == "state '" + std::string(*errand::name_of(state)) + "' cannot take event '" +
                                        std::string(event::name) + "'");
          CHECK(t.next.state == state);
          CHECK(t.next.attempt == t.current.attempt);
          CHECK(t.next.last_error == t.current.last_error);
          CHECK(t.next.lease_until == t.current.lease_until);
        }
      });
  CHECK(rejected == 5 * 7 - 10);  // 10 (state, event) pairs have rows
}

TEST_CASE("contract 6: a state value that is no state is rejected as unknown, naming its value",
          "[contract][lifecycle]") {
  transition t(row_in(static_cast<job_state>(9)));
  const auto result = t.take(errand::cancel{});
  CHECK_FALSE(result);
  CHECK(result.reason == errand::rejection_reason::unknown_state);
  CHECK(result.message() == "unknown state <unknown 9> cannot take event 'cancel'");
}

TEST_CASE("typed dispatch from a known state compiles only for legal transitions", "[lifecycle]") {
  errand::job current = row_in(job_state::pending, 0);
  errand::job next = current;
  const auto policy = errand::retry_policy::immediate();
  errand::transition_context context{current, next, policy, t0};
  const auto result = job_lifecycle::dispatch<job_state::pending>(errand::claim{"w1", 10s}, context);
  CHECK(result);
  CHECK(result.to == job_state::running);
  CHECK(next.attempt == 1);
}

TEST_CASE("claim starts a fresh attempt with a lease and a clean slate (contract 2)", "[contract][lifecycle]") {
  transition t(row_in(job_state::retry_pending, 2));
  t.current.detail = "left over";
  t.next.detail = "left over";
  REQUIRE(t.take(errand::claim{"w9", 45s}, t0 + 1min).to == job_state::running);
  CHECK(t.next.attempt == 3);
  CHECK(t.next.worker == "w9");
  CHECK(t.next.lease_until == t0 + 1min + 45s);
  CHECK(t.next.heartbeat_at == t0 + 1min);
  CHECK_FALSE(t.next.last_error);
  CHECK_FALSE(t.next.last_error_kind);
  CHECK_FALSE(t.next.last_error_at);
  CHECK_FALSE(t.next.detail);
}

TEST_CASE("succeed releases the lease and keeps the detail", "[lifecycle]") {
  transition t(row_in(job_state::running));
  REQUIRE(t.take(errand::succeed{1, "w1", "no changes"}).to == job_state::succeeded);
  CHECK_FALSE(t.next.lease_until);
  CHECK_FALSE(t.next.heartbeat_at);
  CHECK(t.next.detail == "no changes");
}

TEST_CASE("the retry guard: retryable and attempts left", "[lifecycle]") {
  const errand::failure retryable{"flaky", "reported", true};
  const errand::failure permanent{"bad input", "reported", false};
  CHECK(transition(row_in(job_state::running, 1, 3)).take(errand::fail{1, "w1", retryable}).to ==
        job_state::retry_pending);
  CHECK(transition(row_in(job_state::running, 2, 3)).take(errand::fail{2, "w1", retryable}).to ==
        job_state::retry_pending);
  CHECK(transition(row_in(job_state::running, 3, 3)).take(errand::fail{3, "w1", retryable}).to == job_state::failed);
  CHECK(transition(row_in(job_state::running, 1, 3)).take(errand::fail{1, "w1", permanent}).to == job_state::failed);
  CHECK(transition(row_in(job_state::running, 1, 3)).take(errand::lease_expired{1, "gone"}).to ==
        job_state::retry_pending);
  CHECK(transition(row_in(job_state::running, 3, 3)).take(errand::lease_expired{3, "gone"}).to == job_state::failed);
}

TEST_CASE("a failure releases the lease and records the reason, its kind and time (contract 1)",
          "[contract][lifecycle]") {
  transition t(row_in(job_state::running));
  t.policy = errand::retry_policy{};
  t.policy.base = 5s;
  t.policy.jitter = 0;
  REQUIRE(t.take(errand::fail{1, "w1", {"timed out after 600s", "timeout", true}}, t0 + 10min).to ==
          job_state::retry_pending);
  CHECK(t.next.last_error == "timed out after 600s");
  CHECK(t.next.last_error_kind == "timeout");
  CHECK(t.next.last_error_at == t0 + 10min);
  CHECK(t.next.run_at == t0 + 10min + 5s);
  CHECK_FALSE(t.next.lease_until);
  CHECK_FALSE(t.next.heartbeat_at);
  CHECK(t.next.worker == "w1");  // who last held it stays visible
}

TEST_CASE("cancel records 'cancelled' and keeps an earlier reason when it has none (contract 1)",
          "[contract][lifecycle]") {
  transition kept(row_in(job_state::retry_pending));
  REQUIRE(kept.take(errand::cancel{}, t0 + 1h).to == job_state::failed);
  CHECK(kept.next.last_error == "disk full");
  CHECK(kept.next.last_error_kind == "cancelled");
  CHECK(kept.next.last_error_at == t0 + 1h);

  transition none(row_in(job_state::running));
  REQUIRE(none.take(errand::cancel{}).to == job_state::failed);
  CHECK(none.next.last_error == errand::no_reason_reported);
  CHECK_FALSE(none.next.lease_until);
}

TEST_CASE("release hands a claimed job back unstarted: the lease goes and the attempt is undone", "[lifecycle]") {
  transition t(row_in(job_state::running, 3, 3));
  REQUIRE(t.take(errand::release{3, "w1"}).to == job_state::pending);
  CHECK(t.next.attempt == 2);
  CHECK(t.next.max_attempts == 3);  // its last attempt is still to come
  CHECK_FALSE(t.next.lease_until);
  CHECK_FALSE(t.next.heartbeat_at);
  CHECK_FALSE(t.next.last_error);
}

TEST_CASE("requeue reopens a failed job, due now, with its error cleared (contract 2)", "[contract][lifecycle]") {
  transition t(row_in(job_state::failed, 3, 3));
  REQUIRE(t.take(errand::requeue{"after the fix", 2}, t0 + 2h).to == job_state::pending);
  CHECK(t.next.max_attempts == 5);
  CHECK(t.next.attempt == 3);
  CHECK(t.next.run_at == t0 + 2h);
  CHECK_FALSE(t.next.last_error);
  CHECK_FALSE(t.next.last_error_kind);
  CHECK_FALSE(t.next.last_error_at);
}
