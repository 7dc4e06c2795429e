// Bad input against the SQLite store (contract 7 of docs/concepts.md): rows broken by hand
// with the sqlite3 shell are reported with their id while every other job
// keeps working, and any error text is stored.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();

// Three pending jobs, 1, 2 and 3, in a file.
struct three_jobs {
  temp_database db;
  std::optional<errand::sqlite_store> store;

  three_jobs() {
    store.emplace(db.path());
    for (const char* kind : {"one", "two", "three"}) {
      errand::job_spec s;
      s.kind = kind;
      store->enqueue(s, t0);
    }
  }

  void operator_runs(const std::string& sql) {
    const auto result = sqlite3_cli(db.path(), sql);
    INFO(result.output);
    REQUIRE(result.status == 0);
  }
};

// The corrupt_row `action` throws, or a failed check.
template <class Action>
errand::corrupt_row corrupt_row_from(Action&& action) {
  try {
    action();
  } catch (const errand::corrupt_row& e) {
    return e;
  }
  FAIL("no corrupt_row was thrown");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("bad input: a row with an unknown state is reported with its id; every other job keeps working",
          "[sqlite][bad-input]") {
  three_jobs f;
  auto& store = *f.store;
  f.operator_runs("PRAGMA ignore_check_constraints = ON; UPDATE errand_jobs SET state = 'exploded' WHERE id = 2;");

  const auto from_get = corrupt_row_from([&] { store.get(2); });
  CHECK(from_get.id == 2);
  CHECK(std::string(from_get.what()) ==
        "errand: job 2 cannot be read: column 'state' holds 'exploded', which is not a job state");

  CHECK(store.get(1)->kind == "one");
  CHECK(store.get(3)->kind == "three");

  // A listing that reaches the row says so instead of leaving a job out; the next page goes on past it.
  CHECK(corrupt_row_from([&] { store.query({}); }).id == 2);
  CHECK(store.query({.limit = 1}).size() == 1);
  CHECK(store.query({.after_id = 2}).at(0).id == 3);
  CHECK(corrupt_row_from([&] { store.count_by_state(); }).id == 2);

  // Claims and reports go on for the others.
  const auto claimed = store.claim_batch({"w", 30s, t0, {}}, 10);
  REQUIRE(claimed.size() == 2);
  CHECK(claimed[0].id == 1);
  CHECK(claimed[1].id == 3);
  CHECK(errand::report(store, 1, errand::succeed{1, "w", {}}, {}, t0).applied());
  CHECK(corrupt_row_from([&] { errand::report(store, 2, errand::cancel{}, {}, t0); }).id == 2);

  // Once the operator repairs the row, nothing was lost.
  f.operator_runs("UPDATE errand_jobs SET state = 'pending' WHERE id = 2;");
  CHECK(store.claim({"w", 30s, t0, {}})->id == 2);
  CHECK(store.count_by_state() == errand::state_counts{{job_state::running, 2}, {job_state::succeeded, 1}});
}

TEST_CASE("bad input: a time that is not a time is reported; claims and the reaper skip the row",
          "[sqlite][bad-input]") {
  three_jobs f;
  auto& store = *f.store;
  const auto running = store.claim_batch({"w", 30s, t0, {}}, 2);
  REQUIRE(running.size() == 2);
  // Job 1 runs with a lease nobody can read, job 3 waits with a run_at nobody can
  // read; both texts sort as due, so the claim and the reaper meet them.
  f.operator_runs(
      "UPDATE errand_jobs SET lease_until = '2026-01-01 soon' WHERE id = 1;"
      "UPDATE errand_jobs SET run_at = '2025-13-45T99:00:00Z' WHERE id = 3;");

  CHECK(
      std::string(corrupt_row_from([&] { store.get(1); }).what()) ==
      "errand: job 1 cannot be read: column 'lease_until' holds '2026-01-01 soon', which is not an ISO-8601 UTC time");
  CHECK(corrupt_row_from([&] { store.get(3); }).id == 3);

  CHECK_FALSE(store.claim({"w", 30s, t0 + 1h, {}}));
  const auto expired = store.expired_leases(t0 + 1h, 10);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == 2);
  const auto recovered = errand::reap(store, errand::retry_policy::immediate(), t0 + 1h);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].id == 2);
  CHECK(store.claim({"w2", 30s, t0 + 1h, {}})->id == 2);
}

TEST_CASE("bad input: text where a number belongs is reported naming the column", "[sqlite][bad-input]") {
  three_jobs f;
  f.operator_runs("UPDATE errand_jobs SET attempt = 'three' WHERE id = 1;");
  CHECK(std::string(corrupt_row_from([&] { f.store->get(1); }).what()) ==
        "errand: job 1 cannot be read: column 'attempt' holds text 'three', not an integer");
  CHECK(f.store->claim({"w", 30s, t0, {}})->id == 2);
}

TEST_CASE("bad input: broken JSON in a history payload is reported with the job and the record",
          "[sqlite][bad-input]") {
  three_jobs f;
  auto& store = *f.store;
  for (int i = 0; i < 2; ++i) {
    const auto claimed = store.claim({"w", 30s, t0, {}});
    errand::report(store, claimed->id, errand::fail{1, "w", {"disk full", "reported", false, {}}}, {}, t0);
  }
  f.operator_runs("UPDATE errand_history SET payload = '{\"attempt\":1,\"err' WHERE job_id = 1 AND seq = 2;");

  const auto e = corrupt_row_from([&] { store.latest_outcome(1); });
  CHECK(e.id == 1);
  CHECK(std::string(e.what()).find("errand: job 1 cannot be read: history record 2 ('fail'): payload: ") == 0);
  // The record itself is still there, verbatim, and so is the reason on the row.
  CHECK(store.history(1).at(1).payload == R"({"attempt":1,"err)");
  CHECK(store.get(1)->last_error == "disk full");
  CHECK(store.latest_outcome(2)->text == "disk full");
}

TEST_CASE("bad input: a history record with an unknown state is reported with its job's id", "[sqlite][bad-input]") {
  three_jobs f;
  auto& store = *f.store;
  store.claim({"w", 30s, t0, {}});
  f.operator_runs("PRAGMA ignore_check_constraints = ON; UPDATE errand_history SET to_state = 'sideways';");
  CHECK(std::string(corrupt_row_from([&] { store.history(1); }).what()) ==
        "errand: job 1 cannot be read: column 'to_state' holds 'sideways', which is not a job state");
  CHECK(store.get(1)->state == job_state::running);
}

TEST_CASE("bad input: a job's payload that is not JSON is the user's; errand returns it verbatim",
          "[sqlite][bad-input]") {
  three_jobs f;
  f.operator_runs("UPDATE errand_jobs SET payload = '{\"order\": 4' WHERE id = 1;");
  const auto claimed = f.store->claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->payload == R"({"order": 4)");
}

TEST_CASE("bad input: any error text is stored, through SQLite, on the row and in the history payload",
          "[sqlite][bad-input][contract]") {
  three_jobs f;
  auto& store = *f.store;
  std::string hostile = "it's \"quoted\", back\\slashed, ";
  hostile += '\0';
  hostile += " NUL, \xC3\x28 \xFF\xFE bad UTF-8, emoji \xF0\x9F\x92\xA5, '); DROP TABLE errand_jobs; --";
  std::string huge(1 << 20, 'x');
  huge[4096] = '\0';
  huge[8000] = '\xFF';
  const std::vector<std::string> texts{hostile, huge, std::string(1, '\0')};

  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto claimed = store.claim({"w", 30s, t0, {}});
    REQUIRE(claimed);
    REQUIRE(
        errand::report(store, claimed->id, errand::fail{1, "w", {texts[i], "reported", false, {}}}, {}, t0).applied());
  }
  f.store.reset();
  errand::sqlite_store reopened(f.db.path());
  for (std::int64_t id = 1; id <= 3; ++id) {
    INFO("job " << id);
    const auto row = reopened.get(id);
    CHECK(row->state == job_state::failed);
    CHECK(row->last_error == errand::storable_error_text(texts[static_cast<std::size_t>(id - 1)]));
    CHECK(errand::errors_of(reopened.history(id)).at(0).message == *row->last_error);
  }
  CHECK(reopened.get(2)->last_error->size() <= errand::max_error_bytes);

  // What an operator sees with SQL: valid text with no NUL, within the limit, the
  // marker on the cut one, and history payloads SQLite itself parses as JSON.
  raw_connection raw(f.db.path());
  CHECK(raw.text("SELECT count(*) FROM errand_jobs WHERE instr(CAST(last_error AS BLOB), x'00') > 0") == "0");
  CHECK(raw.text("SELECT max(length(CAST(last_error AS BLOB))) <= " + std::to_string(errand::max_error_bytes) +
                 " FROM errand_jobs") == "1");
  CHECK(raw.text("SELECT last_error LIKE '%[truncated from 1048576 bytes]' FROM errand_jobs WHERE id = 2") == "1");
  CHECK(raw.text("SELECT count(*) FROM errand_history WHERE json_valid(payload)") == "6");
  CHECK(raw.text("SELECT count(*) FROM errand_jobs j JOIN errand_history h ON h.job_id = j.id AND h.event = 'fail' "
                 "WHERE json_extract(h.payload, '$.error.message') = j.last_error") == "3");
  CHECK(raw.text("SELECT count(*) FROM errand_jobs") == "3");
}
