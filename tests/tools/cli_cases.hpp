#pragma once
// The errand command as an operator uses it, on a database a store of the
// test's holds open as a worker would: what each command prints, its JSON,
// its exit status, and for every bad input a clear sentence, a status other
// than 0 and a database left exactly as it was.
//
// A backend's test file names its fixture, then includes this header once:
//
//   using cli_fixtures = std::tuple<sqlite_cli_fixture>;
//   #include "cli_cases.hpp"
//
// A fixture provides store(), where() (the --db arguments), nowhere() (a
// --db that cannot be opened), dump() (every row, as text), sql(statement),
// make_schema_newer() and schema_version (the version its store migrates to).

#include "errand_catch.hpp"
#include "process.hpp"
#include <errand/errand.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace cli_test {

using errand::job_state;

inline const errand::time_point t0 = errand::manual_clock{}.now();
inline const errand::retry_policy policy{std::chrono::seconds{10}, 2.0, std::chrono::minutes{5}, 0.0, 7};

// What `errand show --json` prints, as far as the tests read it.
struct shown {
  errand::job job;
  std::vector<errand::history_record> history;
  std::vector<errand::error_info> errors;
};
BOOST_DESCRIBE_STRUCT(shown, (), (job, history, errors))

struct listed {
  std::vector<errand::job> jobs;
  std::optional<std::string> next;
};
BOOST_DESCRIBE_STRUCT(listed, (), (jobs, next))

// The jobs every test starts from, one in each situation an operator meets.
struct seeded {
  std::int64_t failed = 0;     // mail, send_invoice: SMTP 550, not retryable
  std::int64_t waiting = 0;    // mail, send_invoice: retry_pending after SMTP 451
  std::int64_t recovered = 0;  // images, resize: failed once (disk full), then succeeded
  std::int64_t running = 0;    // images, thumbnail: held by worker thumbnailer-1
  std::int64_t pending = 0;    // images, resize: due in three hours
};

inline errand::job_spec spec(std::string queue, std::string kind) {
  errand::job_spec s;
  s.queue = std::move(queue);
  s.kind = std::move(kind);
  s.payload = R"({"invoice":7})";
  return s;
}

template <class Store>
std::int64_t fail_next(Store& store, const std::string& queue, errand::time_point at, const std::string& message,
                       const std::string& kind, bool retryable) {
  const auto claimed = store.claim({"worker-" + queue, std::chrono::seconds{30}, at, {queue}});
  REQUIRE(claimed);
  const errand::fail e{claimed->attempt, *claimed->worker, {message, kind, retryable, {}}};
  REQUIRE(errand::report(store, claimed->id, e, policy, at).applied());
  return claimed->id;
}

template <class Store>
seeded seed(Store& store) {
  using namespace std::chrono_literals;
  seeded s;
  store.enqueue(spec("mail", "send_invoice"), t0);
  s.failed = fail_next(store, "mail", t0, "SMTP 550: mailbox unavailable", "smtp", false);
  store.enqueue(spec("mail", "send_invoice"), t0 + 1s);
  s.waiting = fail_next(store, "mail", t0 + 1s, "SMTP 451: mailbox busy", "smtp", true);
  store.enqueue(spec("images", "resize"), t0 + 2s);
  s.recovered = fail_next(store, "images", t0 + 2s, "disk full", "io", true);
  const auto again = store.claim({"worker-images", 30s, t0 + 1h, {"images"}});
  REQUIRE(again->id == s.recovered);
  REQUIRE(
      errand::report(store, s.recovered, errand::succeed{again->attempt, *again->worker}, policy, t0 + 1h).applied());
  s.running = store.enqueue(spec("images", "thumbnail"), t0 + 2h).id;
  REQUIRE(store.claim({"thumbnailer-1", 30s, t0 + 2h, {"images"}})->id == s.running);
  auto later = spec("images", "resize");
  later.run_at = t0 + 3h;
  s.pending = store.enqueue(later, t0 + 2h).id;
  return s;
}

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The errand command on the fixture's database.
template <class Fixture>
ran errand_on(const Fixture& fixture, std::vector<std::string> args) {
  auto argv = fixture.where();
  argv.insert(argv.begin(), ERRAND_CLI);
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

template <class Fixture>
std::vector<std::string> command_on(const Fixture& fixture, std::vector<std::string> args) {
  auto argv = fixture.where();
  argv.insert(argv.begin(), ERRAND_CLI);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace cli_test

TEMPLATE_LIST_TEST_CASE("errand show answers why a job failed, in one command", "[cli]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  const auto s = seed(fixture.store());

  const auto shown_text = errand_on(fixture, {"show", std::to_string(s.failed)});
  INFO(shown_text.out << shown_text.err);
  CHECK(shown_text.status == 0);
  CHECK(
      has(shown_text.out, "job " + std::to_string(s.failed) + " · send_invoice · queue mail · failed, attempt 1 of 3"));
  CHECK(
      has(shown_text.out, "why it failed:\n  SMTP 550: mailbox unavailable\n  (smtp, attempt 1, 2026-01-01T00:00:00Z"));
  CHECK(has(shown_text.out, "pending → running"));
  CHECK(has(shown_text.out, "running → failed   fail   1        worker-mail  smtp: SMTP 550: mailbox unavailable"));

  const auto recovered = errand_on(fixture, {"show", std::to_string(s.recovered)});
  CHECK(recovered.status == 0);
  CHECK(has(recovered.out, "succeeded on attempt 2, after 1 failed attempt(s) listed below"));
  CHECK(has(recovered.out, "io: disk full"));

  const auto json = errand_on(fixture, {"show", std::to_string(s.waiting), "--json"});
  REQUIRE(json.status == 0);
  const auto report = errand::from_json<shown>(json.out);
  CHECK(report.job.state == job_state::retry_pending);
  CHECK(report.job.last_error == "SMTP 451: mailbox busy");
  REQUIRE(report.history.size() == 2);
  CHECK(report.history[1].event == "fail");
  REQUIRE(report.errors.size() == 1);
  CHECK(report.errors[0].kind == "smtp");
  CHECK(report.errors[0].attempt == 1);
}

TEMPLATE_LIST_TEST_CASE("errand jobs lists failures first, filters, pages and prints JSON", "[cli]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  const auto s = seed(fixture.store());

  const auto failures = errand_on(fixture, {"jobs"});
  INFO(failures.out << failures.err);
  CHECK(failures.status == 0);
  CHECK(has(failures.out, "Jobs holding an error, latest change first"));
  const auto waiting_at = failures.out.find("SMTP 451");
  const auto failed_at = failures.out.find("SMTP 550");
  CHECK(waiting_at != std::string::npos);
  CHECK(failed_at != std::string::npos);
  CHECK(waiting_at < failed_at);
  CHECK_FALSE(has(failures.out, "thumbnail"));

  const auto every = errand::from_json<listed>(errand_on(fixture, {"jobs", "--all", "--json"}).out);
  std::vector<std::int64_t> ids;
  for (const auto& row : every.jobs) ids.push_back(row.id);
  CHECK(ids == std::vector<std::int64_t>{s.pending, s.running, s.recovered, s.waiting, s.failed});
  CHECK_FALSE(every.next);

  const auto images =
      errand::from_json<listed>(errand_on(fixture, {"jobs", "--queue", "images", "--kind", "resize", "--json"}).out);
  CHECK(images.jobs.empty());  // neither resize job holds an error
  const auto resize = errand::from_json<listed>(
      errand_on(fixture, {"jobs", "--queue", "images", "--kind", "resize", "--all", "--json"}).out);
  CHECK(resize.jobs.size() == 2);
  const auto running = errand::from_json<listed>(errand_on(fixture, {"jobs", "--state", "running", "--json"}).out);
  REQUIRE(running.jobs.size() == 1);
  CHECK(running.jobs[0].worker == "thumbnailer-1");
  const auto early = errand::from_json<listed>(
      errand_on(fixture, {"jobs", "--all", "--before", "2026-01-01T00:00:02Z", "--json"}).out);
  CHECK(early.jobs.size() == 2);
  const auto late =
      errand::from_json<listed>(errand_on(fixture, {"jobs", "--all", "--since", "2026-01-01T02:00:00Z", "--json"}).out);
  CHECK(late.jobs.size() == 2);

  // Pages of two visit every job once.
  std::vector<std::int64_t> paged;
  std::vector<std::string> args{"jobs", "--all", "--limit", "2", "--json"};
  for (int page = 0; page < 10; ++page) {
    const auto one = errand::from_json<listed>(errand_on(fixture, args).out);
    for (const auto& row : one.jobs) paged.push_back(row.id);
    if (!one.next) break;
    args = {"jobs", "--all", "--limit", "2", "--json", "--after", *one.next};
  }
  CHECK(paged == ids);
  const auto text_page = errand_on(fixture, {"jobs", "--all", "--limit", "2"});
  CHECK(has(text_page.out, "more: add --after " + std::to_string(s.running) + "@"));
}

TEMPLATE_LIST_TEST_CASE("errand errors groups what jobs fail with, with counts and example ids", "[cli]",
                        cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  const auto s = seed(store);
  auto urgent = spec("mail", "send_invoice");
  urgent.priority = -1;  // claimed before the job waiting to retry
  store.enqueue(urgent, t0 + 5h);
  const auto another = fail_next(store, "mail", t0 + 5h, "SMTP 550: mailbox unavailable", "smtp", false);

  const auto text = errand_on(fixture, {"errors"});
  INFO(text.out << text.err);
  CHECK(text.status == 0);
  CHECK(has(text.out, "2     smtp  SMTP 550: mailbox unavailable  2026-01-01T05:00:00Z  2026-01-01T00:00:00Z  " +
                          std::to_string(another) + ", " + std::to_string(s.failed)));
  CHECK(has(text.out, "1     smtp  SMTP 451: mailbox busy"));
  const auto failed_only = errand_on(fixture, {"errors", "--state", "failed", "--json"});
  CHECK(failed_only.status == 0);
  CHECK(has(failed_only.out, R"("groups":[{"error_kind":"smtp","message":"SMTP 550: mailbox unavailable","jobs":2,)"));
  CHECK_FALSE(has(failed_only.out, "mailbox busy"));
}

TEMPLATE_LIST_TEST_CASE("errand retry and cancel go through decide(), and a dry run writes nothing", "[cli]",
                        cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  const auto s = seed(store);

  const auto before = fixture.dump();
  const auto dry = errand_on(fixture, {"retry", std::to_string(s.failed), "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.status == 0);
  CHECK(has(dry.out, "failed → pending  would be retried\n"));  // attempts were left: max_attempts stays
  CHECK(has(dry.out, "dry run, nothing written: 1 to be retried"));
  CHECK(fixture.dump() == before);

  const auto retried = errand_on(fixture, {"retry", std::to_string(s.failed), "--reason", "mailbox fixed"});
  INFO(retried.out << retried.err);
  CHECK(retried.status == 0);
  CHECK(has(retried.out, "failed → pending  retried"));
  const auto row = store.get(s.failed);
  CHECK(row->state == job_state::pending);
  CHECK_FALSE(row->last_error);  // contract item 2: the retry starts clean
  const auto history = store.history(s.failed);
  REQUIRE(history.size() == 3);
  CHECK(history[2].event == "requeue");
  CHECK(has(history[2].payload, "mailbox fixed"));
  CHECK(errand::errors_of(history).size() == 1);  // the failure stays in the history

  // A succeeded job cannot be retried, nor one already pending: each is refused by name.
  const auto mixed = errand_on(fixture, {"retry", std::to_string(s.recovered), std::to_string(s.failed), "--json"});
  CHECK(mixed.status == 5);
  CHECK(has(mixed.out, "state 'succeeded' cannot take event 'requeue'"));
  CHECK(store.get(s.recovered)->state == job_state::succeeded);

  const auto cancelled = errand_on(fixture, {"cancel", std::to_string(s.running), "--reason", "customer left"});
  INFO(cancelled.out << cancelled.err);
  CHECK(cancelled.status == 0);
  CHECK(has(cancelled.out, "running → failed  cancelled"));
  const auto gone = store.get(s.running);
  CHECK(gone->state == job_state::failed);
  CHECK(gone->last_error == "customer left");
  CHECK(gone->last_error_kind == "cancelled");
  // The worker that held it finds out it lost the job: its report is stale.
  const auto late = errand::report(store, s.running, errand::succeed{1, "thumbnailer-1"}, policy, t0 + 3h);
  CHECK(late.why == errand::rejection::stale_report);

  // Selecting: every failed send_invoice job, in one command.
  const auto bulk = errand_on(fixture, {"retry", "--state", "failed", "--kind", "thumbnail", "--json"});
  CHECK(bulk.status == 0);
  CHECK(store.get(s.running)->state == job_state::pending);
}

TEMPLATE_LIST_TEST_CASE("errand stats counts per state and queue, and names the oldest due job", "[cli]",
                        cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  const auto s = seed(fixture.store());
  const auto text = errand_on(fixture, {"stats"});
  INFO(text.out << text.err);
  CHECK(text.status == 0);
  CHECK(has(text.out, "images  1        1        0              0       1          1    job " +
                          std::to_string(s.pending) + ", waiting"));
  CHECK(has(text.out, "mail    0        0        1              1       0          1    job " +
                          std::to_string(s.waiting) + ", waiting"));
  CHECK(has(text.out, "(all)   1        1        1              1       1          2"));
  const auto json = errand_on(fixture, {"stats", "--window", "1h", "--json"});
  CHECK(json.status == 0);
  CHECK(has(json.out, R"("jobs":{"failed":1,"pending":1,"retry_pending":1,"running":1,"succeeded":1})"));
  CHECK(has(json.out, R"("window_seconds":3600)"));
}

TEMPLATE_LIST_TEST_CASE("errand tail prints the transitions other processes commit, as they commit", "[cli]",
                        cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  const auto s = seed(store);
  process tail(command_on(fixture, {"tail", "--errors", "--count", "2"}));
  REQUIRE(tail.wait_for_output("errand: following"));

  // The test's store is another process's worker, as far as tail can tell.
  REQUIRE(errand::report(store, s.failed, errand::requeue{}, policy, t0 + 4h).applied());  // no error: skipped
  const errand::fail oom{1, "thumbnailer-1", {"out of memory", "oom", false, {}}};
  REQUIRE(errand::report(store, s.running, oom, policy, t0 + 4h).applied());
  REQUIRE(errand::report(store, s.pending, errand::cancel{"no longer needed"}, policy, t0 + 4h).applied());

  const auto done = tail.finish();
  REQUIRE(done);
  INFO(done->out << done->err);
  CHECK(done->status == 0);
  CHECK(has(done->out, "job " + std::to_string(s.running) +
                           " thumbnail (images)  running → failed  fail #1  "
                           "thumbnailer-1  oom: out of memory\n"));
  CHECK(has(done->out, "job " + std::to_string(s.pending) +
                           " resize (images)  pending → failed  cancel #0  "
                           "cancelled: no longer needed\n"));
  CHECK_FALSE(has(done->out, "requeue"));

  process json(command_on(fixture, {"tail", "--json", "--job", std::to_string(s.failed), "--count", "1"}));
  REQUIRE(json.wait_for_output("errand: following"));
  REQUIRE(errand::report(store, s.failed, errand::cancel{"given up"}, policy, t0 + 5h).applied());
  const auto line = json.finish();
  REQUIRE(line);
  CHECK(has(line->out, R"("error":{"message":"given up","kind":"cancelled")"));
}

TEMPLATE_LIST_TEST_CASE("errand prune deletes finished jobs and old history", "[cli]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  const auto s = seed(store);
  const auto before = fixture.dump();
  const auto nothing_asked = errand_on(fixture, {"prune"});
  CHECK(nothing_asked.status == 2);
  CHECK(has(nothing_asked.err, "prune: say what to delete"));
  CHECK(fixture.dump() == before);

  const auto pruned = errand_on(fixture, {"prune", "--finished-before", "2026-01-01T01:30:00Z"});
  INFO(pruned.out << pruned.err);
  CHECK(pruned.status == 0);
  CHECK(has(pruned.out, "deleted 2 finished job(s) and 6 history record(s)"));
  CHECK_FALSE(store.get(s.failed));
  CHECK_FALSE(store.get(s.recovered));
  CHECK(store.get(s.waiting));
  const auto trimmed = errand_on(fixture, {"prune", "--keep-history", "1", "--json"});
  CHECK(trimmed.status == 0);
  CHECK(has(trimmed.out, R"({"jobs_deleted":0,"history_deleted":1})"));
}

TEMPLATE_LIST_TEST_CASE("errand migrate shows the schema, and a schema the command does not know is refused",
                        "[cli][bad-input]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  const auto s = seed(fixture.store());
  const std::string latest = std::to_string(TestType::schema_version);
  const std::string previous = std::to_string(TestType::schema_version - 1);
  const auto current = errand_on(fixture, {"migrate", "--check"});
  INFO(current.out << current.err);
  CHECK(current.status == 0);
  CHECK(has(current.out, "schema version " + latest + "; this errand writes " + latest + ": up to date"));
  CHECK(has(current.out, "3        queue settings; unique keys held for a scope"));

  // An older schema: read and write commands refuse it until migrate --apply upgrades it.
  fixture.sql("DELETE FROM errand_schema_version WHERE version = " + latest);
  auto before = fixture.dump();
  const auto older = errand_on(fixture, {"retry", std::to_string(s.failed)});
  CHECK(older.status == 3);
  CHECK(has(older.err, "is at schema version " + previous + "; this errand needs version " + latest +
                           ". Upgrade it with `errand migrate --apply`"));
  CHECK(errand_on(fixture, {"migrate", "--check"}).status == 3);
  CHECK(fixture.dump() == before);
  const auto applied = errand_on(fixture, {"migrate", "--apply"});
  CHECK(applied.status == 0);
  CHECK(has(applied.out, "up to date"));
  CHECK(errand_on(fixture, {"show", std::to_string(s.failed)}).status == 0);

  // A newer schema: every command refuses it, migrate --apply included, and writes nothing.
  fixture.make_schema_newer();
  before = fixture.dump();
  for (const auto& args :
       {std::vector<std::string>{"jobs"}, std::vector<std::string>{"retry", std::to_string(s.failed)},
        std::vector<std::string>{"cancel", std::to_string(s.running), "--reason", "x"},
        std::vector<std::string>{"prune", "--keep-history", "0"}, std::vector<std::string>{"migrate", "--apply"}}) {
    const auto newer = errand_on(fixture, args);
    INFO(args[0] << ": " << newer.out << newer.err);
    CHECK(newer.status == 3);
    CHECK(has(newer.err, "is at schema version 99, newer than this errand knows (" + latest + ")"));
  }
  CHECK(fixture.dump() == before);
}

TEMPLATE_LIST_TEST_CASE("errand refuses bad input with a sentence and a status, and writes nothing", "[cli][bad-input]",
                        cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  const auto s = seed(fixture.store());
  const auto before = fixture.dump();
  struct bad {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  const std::vector<bad> cases{
      {{"show", "424242"}, 4, "errand: no job 424242 in "},
      {{"retry", "424242"}, 4, ""},
      {{"cancel", "424242", "--reason", "x"}, 4, ""},
      {{"jobs", "--state", "exploded"},
       2,
       "errand: 'exploded' is not a job state; the states are pending, running, retry_pending, failed, succeeded"},
      {{"retry", "--state", "exploded"}, 2, "is not a job state"},
      {{"jobs", "--since", "yesterday"}, 2, "--since 'yesterday' is neither an age"},
      {{"jobs", "--since", "9999999999999999d"}, 2, "--since '9999999999999999d' is neither an age"},
      {{"jobs", "--after", "nonsense"}, 2, "--after 'nonsense' is not a cursor"},
      {{"show", "seven"}, 2, "Could not convert"},
      {{"retry"}, 2, "retry: name job ids, or select jobs"},
      {{"retry", "1", "--state", "failed"}, 2, "not both"},
      {{"cancel", std::to_string(s.running)}, 2, "--reason is required"},
      {{"cancel", std::to_string(s.running), "--reason", ""}, 2, "cancel: --reason must say why"},
      {{"stats", "--window", "forever"}, 2, "--window 'forever' is not an age"},
      {{"stats", "--window", "99999999999999w"}, 2, "--window '99999999999999w' is not an age"},
      {{"prune", "--finished-before", "soon"}, 2, "--finished-before 'soon' is neither an age"},
      {{"--prefix", "no such prefix", "jobs"}, 2, "is not a plain"},
      {{"--prefix", "other_", "jobs"}, 3, "has no table"},
      {{"frobnicate"}, 2, "frobnicate"},
  };
  for (const auto& c : cases) {
    const auto r = errand_on(fixture, c.args);
    INFO(c.args[0] << (c.args.size() > 1 ? " " + c.args[1] : "") << ": " << r.out << r.err);
    CHECK(r.status == c.status);
    CHECK(has(r.err, c.says));
    CHECK(fixture.dump() == before);
  }

  // A --db that names nothing errand can open: a missing file, a server nobody runs.
  auto argv = fixture.nowhere();
  argv.insert(argv.begin(), ERRAND_CLI);
  argv.push_back("jobs");
  const auto nowhere = run(argv);
  INFO(nowhere.err);
  CHECK(nowhere.status == 3);
  CHECK((has(nowhere.err, "no SQLite file at") || has(nowhere.err, "cannot use PostgreSQL database")));
  CHECK(has(nowhere.err, "errand: "));
  CHECK(fixture.dump() == before);
}

TEMPLATE_LIST_TEST_CASE("errand shows hostile error text as text on a terminal", "[cli][bad-input]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  store.enqueue(spec("mail", "send_invoice"), t0);
  const auto id = fail_next(store, "mail", t0, "boom\x1b]0;owned\x07\x1b[2J<script>alert(1)</script>\nline two",
                            "exception", false);
  const auto shown_text = errand_on(fixture, {"show", std::to_string(id)});
  CHECK(shown_text.status == 0);
  CHECK_FALSE(has(shown_text.out, "\x1b"));
  CHECK_FALSE(has(shown_text.out, "\x07"));
  CHECK(has(shown_text.out, "boom\\x1b]0;owned\\x07\\x1b[2J<script>alert(1)</script>\n  line two"));
  const auto listed_text = errand_on(fixture, {"jobs"});
  CHECK_FALSE(has(listed_text.out, "\x1b"));
  CHECK(has(listed_text.out, "</script>⏎line two"));
  // JSON carries the text as it is, escaped the JSON way.
  CHECK(has(errand_on(fixture, {"show", std::to_string(id), "--json"}).out, R"(boom\u001b]0;owned\u0007)"));
}

TEMPLATE_LIST_TEST_CASE("errand retries jobs while workers fail them, and every write is a compare-and-set",
                        "[cli][concurrency]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  constexpr int job_count = 40;
  std::vector<errand::job_spec> specs(job_count, spec("flaky", "probe"));
  for (auto& one : specs) one.max_attempts = 1;
  store.enqueue_batch(specs, t0);

  // Workers fail every attempt, not retryable, until the test stops them.
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w)
    workers.emplace_back([&, w] {
      const std::string name = "prober-" + std::to_string(w);
      while (!stop) {
        const auto now = errand::system_clock{}.now();
        for (const auto& row : store.claim_batch({name, std::chrono::seconds{30}, now, {"flaky"}}, 4)) {
          const errand::fail e{
              row.attempt, name, {"probe failed on attempt " + std::to_string(row.attempt), "probe", false, {}}};
          if (!errand::report(store, row.id, e, policy, now).applied()) ++refused;
        }
        std::this_thread::yield();
      }
    });

  int retries = 0;
  for (int round = 0; round < 6; ++round) {
    const auto r = errand_on(fixture, {"retry", "--state", "failed", "--queue", "flaky", "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);  // a failed job is claimed by no worker: only this command moves it
    for (std::size_t at = r.out.find(R"("outcome":"applied")"); at != std::string::npos;
         at = r.out.find(R"("outcome":"applied")", at + 1))
      ++retries;
  }
  stop = true;
  for (auto& t : workers) t.join();

  CHECK(refused == 0);
  CHECK(retries > 0);
  int requeues = 0;
  for (const auto& row : store.query({.queue = "flaky", .limit = job_count})) {
    const auto history = store.history(row.id);
    job_state at = job_state::pending;
    for (std::size_t i = 0; i < history.size(); ++i) {
      REQUIRE(history[i].seq == static_cast<std::int64_t>(i + 1));
      REQUIRE(history[i].from == at);  // every write saw the row it replaced
      at = history[i].to;
      if (history[i].event == "requeue") ++requeues;
    }
    CHECK(at == row.state);
  }
  CHECK(requeues == retries);
}

TEMPLATE_LIST_TEST_CASE("errand serve warns when anyone may reach it without a token, and stops on Ctrl-C",
                        "[cli][serve]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  seed(fixture.store());
  process open(command_on(fixture, {"serve", "--listen", "0.0.0.0", "--port", "0"}));
  REQUIRE(open.wait_for_output("errand: dashboard for "));
  REQUIRE(
      open.wait_for_output("errand: WARNING: listening on 0.0.0.0 without --token: anyone who can reach this "
                           "port can read every job, and retry or cancel them"));
  open.signal(SIGINT);
  const auto stopped = open.finish();
  REQUIRE(stopped);
  CHECK(stopped->status == 0);

  process guarded(command_on(fixture, {"serve", "--listen", "0.0.0.0", "--port", "0", "--token", "s3cret"}));
  REQUIRE(guarded.wait_for_output("errand: open http://0.0.0.0:"));
  CHECK_FALSE(has(guarded.err(), "WARNING"));
  guarded.signal(SIGTERM);
  const auto ended = guarded.finish();
  REQUIRE(ended);
  CHECK(ended->status == 0);
}

TEMPLATE_LIST_TEST_CASE("errand queues pauses, limits and resumes a queue for every runner, and lists them",
                        "[cli][queues]", cli_fixtures) {
  using namespace cli_test;
  TestType fixture;
  auto& store = fixture.store();
  seed(store);
  const auto none = errand_on(fixture, {"queues"});
  CHECK(none.status == 0);
  CHECK(has(none.out, "no queue is paused or limited"));

  CHECK(errand_on(fixture, {"queues", "pause", "mail"}).status == 0);
  CHECK(errand_on(fixture, {"queues", "limit", "reports", "2"}).status == 0);
  const auto listed = errand_on(fixture, {"queues"});
  INFO(listed.out << listed.err);
  CHECK(has(listed.out, "mail     yes     -"));
  CHECK(has(listed.out, "reports  no      2"));
  const auto settings = store.queue_settings();
  REQUIRE(settings.size() == 2);
  CHECK(settings[0].paused);
  CHECK(settings[1].max_running == 2);
  CHECK(has(errand_on(fixture, {"queues", "--json"}).out, R"("queue":"reports","paused":false,"max_running":2)"));

  // Bad input: a sentence, status 2, nothing written.
  const auto before = fixture.dump();
  for (const auto& args :
       {std::vector<std::string>{"queues", "limit", "reports", "0"},
        std::vector<std::string>{"queues", "limit", "reports"}, std::vector<std::string>{"queues", "pause"},
        std::vector<std::string>{"queues", "stop", "mail"}}) {
    const auto refused = errand_on(fixture, args);
    INFO(args[1] << ": " << refused.err);
    CHECK(refused.status == 2);
  }
  CHECK(store.queue_settings() == settings);
  CHECK(fixture.dump() == before);

  CHECK(errand_on(fixture, {"queues", "resume", "mail"}).status == 0);
  CHECK(errand_on(fixture, {"queues", "limit", "reports", "none"}).status == 0);
  CHECK(store.queue_settings().empty());
}
