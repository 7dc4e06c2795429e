// The lifecycle's invariants under random event sequences: a seeded driver
// throws claims, reports for current and stale attempts, duplicates, lease
// expiries at random times, heartbeats, cancels, requeues and reaper passes at
// jobs held in an errand::memory_store, moving a manual clock, and checks the
// invariants after every step.
//
// The seed is fixed so that a failure is reproducible (with the same standard
// library: its distributions are not portable); it is printed with any
// failure. ERRAND_PROPERTY_SEED=<n> runs another seed.

#include "errand_catch.hpp"
#include <errand/memory.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;
using errand::verdict;

constexpr std::uint64_t default_seed = 0x5EEDE77A4Dull;
constexpr int steps = 10000;
constexpr int initial_jobs = 40;

std::uint64_t chosen_seed() {
  if (const char* text = std::getenv("ERRAND_PROPERTY_SEED"); text && *text) return std::strtoull(text, nullptr, 0);
  return default_seed;
}

std::string state_name(job_state s) { return std::string(errand::name_of(s).value_or("<unknown>")); }

std::string rejection_name(errand::rejection why) {
  switch (why) {
    case errand::rejection::none:
      return "none";
    case errand::rejection::unknown_state:
      return "unknown_state";
    case errand::rejection::illegal_transition:
      return "illegal_transition";
    case errand::rejection::stale_report:
      return "stale_report";
    case errand::rejection::not_due:
      return "not_due";
    case errand::rejection::lease_held:
      return "lease_held";
    case errand::rejection::no_such_job:
      return "no_such_job";
  }
  return "?";
}

using worker_report = std::variant<errand::succeed, errand::fail, errand::lease_expired, errand::release>;

class driver {
 public:
  explicit driver(std::uint64_t seed) : random_(seed) {
    policy_.base = 1s;
    policy_.cap = 20s;
    policy_.jitter = 0.3;
    policy_.seed = seed;
    for (int i = 0; i < initial_jobs; ++i) enqueue();
  }

  // One random step; returns what it did, for the failure message.
  std::string step() {
    touched_.clear();
    log_.str({});
    if (unfinished() < initial_jobs) enqueue();  // succeeded is terminal: keep jobs to drive
    const int roll = pick(0, 99);
    if (roll < 14)
      claim_next();
    else if (roll < 18)
      claim_one();
    else if (roll < 28)
      succeed_current();
    else if (roll < 42)
      fail_current();
    else if (roll < 50)
      report_stale();
    else if (roll < 58)
      replay_applied();
    else if (roll < 65)
      expire_lease();
    else if (roll < 71)
      heartbeat(true);
    else if (roll < 74)
      heartbeat(false);
    else if (roll < 77)
      cancel();
    else if (roll < 82)
      requeue();
    else if (roll < 86)
      reap();
    else if (roll < 89)
      release_current();
    else if (roll < 99)
      advance();
    else
      enqueue();
    return log_.str();
  }

  enum class scope { touched, live, all };

  // Every invariant for the jobs in `which`: those the step wrote or tried to
  // write, those that can still move, or every job there is. Empty when all hold.
  std::string violations(scope which) {
    std::ostringstream out;
    const auto check = [&](std::int64_t id) {
      auto& expected = expected_.at(id);
      const auto row = store_.get(id);
      if (!row) {
        out << "job " << id << " vanished\n";
        return;
      }
      check_row(*row, expected, out);
      check_history(*row, expected, out);
      expected.attempt = row->attempt;
      states_seen_.insert(row->state);
    };
    if (which == scope::all)
      for (const auto& entry : expected_) check(entry.first);
    else
      for (const auto id : which == scope::live ? live_ : touched_) check(id);
    return out.str();
  }

  // What the step's own checks found wrong (decisions, the table, the store's answers).
  std::string take_failures() {
    auto text = failures_.str();
    failures_.str({});
    return text;
  }

  // Remembers the version each job had right after its last applied report, so
  // that replaying that report onto an unchanged row must be a duplicate.
  void note_reports() {
    for (const auto id : touched_) {
      const auto row = store_.get(id);
      const auto& reports = applied_reports_[id];
      if (!reports.empty() && row && reports_seen_[id] != reports.size()) {
        reports_seen_[id] = reports.size();
        last_report_version_[id] = row->version;
      }
    }
  }

  // What the run exercised, so that a driver that stopped reaching a case is noticed.
  const std::set<job_state>& states_seen() const { return states_seen_; }
  const std::map<std::string, int>& outcomes_seen() const { return outcomes_; }

 private:
  struct expectation {
    std::int64_t version = 1;
    std::size_t history = 0;
    std::int32_t attempt = 0;
  };

  // ---- random choices -------------------------------------------------------

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  bool coin(int percent) { return pick(0, 99) < percent; }

  std::string worker_name() { return std::string("w").append(std::to_string(pick(0, 4))); }

  std::string message() {
    switch (pick(0, 11)) {
      case 0:
        return "";
      case 1:
        return "disk full";
      case 2:
        return "timed out after 600s";
      case 3: {
        std::string bytes(static_cast<std::size_t>(pick(0, 40)), '\0');
        for (auto& c : bytes) c = static_cast<char>(pick(0, 255));
        return bytes;
      }
      case 4:
        return std::string(errand::max_error_bytes, 'x') + "\xF0\x9F";  // over the limit, ending in half a character
      case 5:
        return "quote \" and backslash \\";
      default:
        return "upstream returned 503";
    }
  }

  std::size_t unfinished() const { return live_.size(); }

  // Mostly a job that can still move, sometimes a finished one.
  std::optional<errand::job> random_job() {
    const auto pick_from = [&](const std::set<std::int64_t>& ids) {
      auto it = ids.begin();
      std::advance(it, pick(0, static_cast<int>(ids.size()) - 1));
      return *it;
    };
    return store_.get(finished_.empty() || coin(80) ? pick_from(live_) : pick_from(finished_));
  }

  std::optional<errand::job> random_job_in(job_state state) {
    errand::job_query query;
    query.state = state;
    query.limit = expected_.size();
    const auto rows = store_.query(query);
    if (rows.empty()) return std::nullopt;
    return rows[static_cast<std::size_t>(pick(0, static_cast<int>(rows.size()) - 1))];
  }

  // ---- writes -----------------------------------------------------------------

  void wrote(const errand::job& row, bool with_history) {
    if (row.state == job_state::succeeded) {
      finished_.insert(row.id);
      live_.erase(row.id);
    }
    auto& expected = expected_.at(row.id);
    ++expected.version;
    if (with_history) ++expected.history;
    touched_.insert(row.id);
  }

  // Decides `e` on `current`, checks the decision, writes it when applied.
  template <class Event>
  errand::decision decide_and_apply(const errand::job& current, const Event& e) {
    touched_.insert(current.id);
    auto d = errand::decide(current, e, policy_, clock_.now());
    const std::string outcome = d.outcome == verdict::applied     ? "applied"
                                : d.outcome == verdict::duplicate ? "duplicate"
                                                                  : "rejected";
    log_ << " -> " << outcome << (d.reason.empty() ? "" : ": " + d.reason);
    ++outcomes_[std::string(Event::name) + " " + outcome + (d.applied() ? " to " + state_name(d.next.state) : "")];
    if (d.why != errand::rejection::none) ++outcomes_[rejection_name(d.why)];
    if (!d.applied()) {
      if (d.record) fail_now("a decision that was not applied carries a history record");
      if (d.expected_version != current.version || errand::to_json(d.next) != errand::to_json(current))
        fail_now("a decision that was not applied changed the row");
      return d;
    }
    check_transition(current, e, d);
    if (store_.apply(d) != errand::write_result::applied) fail_now("the store refused an applied decision");
    wrote(d.next, true);
    if constexpr (std::is_constructible_v<worker_report, Event>) applied_reports_[current.id].push_back(e);
    return d;
  }

  void fail_now(const std::string& what) { failures_ << what << " (" << log_.str() << ")\n"; }

  // The table as documented, as an oracle for every applied transition.
  template <class Event>
  void check_transition(const errand::job& current, const Event& e, const errand::decision& d) {
    const auto from = current.state, to = d.next.state;
    const bool attempts_left = current.attempt < current.max_attempts;
    bool legal = false;
    if constexpr (std::is_same_v<Event, errand::claim>)
      legal = (from == job_state::pending || from == job_state::retry_pending) && to == job_state::running;
    else if constexpr (std::is_same_v<Event, errand::succeed>)
      legal = from == job_state::running && to == job_state::succeeded;
    else if constexpr (std::is_same_v<Event, errand::fail>)
      legal = from == job_state::running &&
              to == (e.error.retryable && attempts_left ? job_state::retry_pending : job_state::failed);
    else if constexpr (std::is_same_v<Event, errand::lease_expired>)
      legal = from == job_state::running && to == (attempts_left ? job_state::retry_pending : job_state::failed);
    else if constexpr (std::is_same_v<Event, errand::cancel>)
      legal = from != job_state::failed && from != job_state::succeeded && to == job_state::failed;
    else if constexpr (std::is_same_v<Event, errand::requeue>)
      legal = from == job_state::failed && to == job_state::pending;
    else if constexpr (std::is_same_v<Event, errand::release>)
      legal = from == job_state::running && to == job_state::pending && d.next.attempt == current.attempt - 1;
    if (!legal) fail_now("applied " + std::string(Event::name) + " from " + state_name(from) + " to " + state_name(to));
    if (!d.record || d.record->from != from || d.record->to != to || d.record->event != Event::name ||
        d.record->attempt != d.next.attempt || d.record->at != clock_.now())
      fail_now("the history record does not describe the transition");
    if (d.next.version != current.version + 1) fail_now("an applied decision did not bump the version by one");
  }

  // ---- the actions ----------------------------------------------------------

  void enqueue() {
    errand::job_spec spec;
    spec.kind = "k";
    spec.max_attempts = pick(1, 4);
    spec.priority = pick(0, 2);
    if (coin(30)) spec.run_at = clock_.now() + std::chrono::seconds{pick(1, 60)};
    const auto id = store_.enqueue(spec, clock_.now()).id;
    expected_[id] = {};
    live_.insert(id);
    log_ << "enqueue job " << id;
  }

  void claim_next() {
    const auto worker = worker_name();
    log_ << "store claim by " << worker;
    const auto claimed = store_.claim({worker, std::chrono::seconds{pick(5, 30)}, clock_.now(), {}});
    if (!claimed) return;
    log_ << ": job " << claimed->id;
    wrote(*claimed, true);
    if (claimed->last_error || claimed->last_error_kind || claimed->last_error_at)
      fail_now("a claimed job still carries an error");
    if (claimed->state != job_state::running || claimed->worker != worker)
      fail_now("a claim did not hand over the job");
  }

  void claim_one() {
    const auto row = random_job();
    log_ << "claim job " << row->id << " (" << state_name(row->state) << ")";
    const auto d = decide_and_apply(*row, errand::claim{worker_name(), std::chrono::seconds{pick(5, 30)}});
    const bool claimable = row->state == job_state::pending || row->state == job_state::retry_pending;
    if (claimable && row->run_at <= clock_.now() && !d.applied()) fail_now("a due job could not be claimed");
    if (claimable && row->run_at > clock_.now() && d.why != errand::rejection::not_due)
      fail_now("a job claimed before its run_at was not rejected as not due");
    if (d.applied() && d.next.last_error) fail_now("a claimed job still carries an error");
  }

  void succeed_current() {
    const auto row = random_job_in(job_state::running);
    if (!row) return;
    log_ << "succeed job " << row->id << " attempt " << row->attempt;
    std::optional<std::string> detail;
    if (coin(30)) detail = "did nothing";
    const auto d = decide_and_apply(*row, errand::succeed{row->attempt, *row->worker, detail});
    if (!d.applied()) fail_now("the holder's success was refused");
  }

  void fail_current() {
    const auto row = random_job_in(job_state::running);
    if (!row) return;
    log_ << "fail job " << row->id << " attempt " << row->attempt;
    const errand::failure error{message(), coin(80) ? "reported" : "timeout", coin(75)};
    const auto d = decide_and_apply(*row, errand::fail{row->attempt, *row->worker, error});
    if (!d.applied()) fail_now("the holder's failure was refused");
  }

  // A report from a worker that does not hold the attempt: an older attempt,
  // another worker, or a job that is not running at all.
  void report_stale() {
    const auto row = random_job();
    if (!row->worker) return;
    auto attempt = row->attempt;
    auto worker = *row->worker;
    const bool running = row->state == job_state::running;
    if (running) {
      if (coin(50) && attempt > 1)
        attempt = pick(1, attempt - 1);
      else
        worker += "-impostor";
    }
    log_ << "stale report for job " << row->id << " (" << state_name(row->state) << ") attempt " << attempt << " by "
         << worker;
    const auto before = applied_reports_[row->id].size();
    errand::decision d = coin(50) ? decide_and_apply(*row, errand::succeed{attempt, worker, std::nullopt})
                                  : decide_and_apply(*row, errand::fail{attempt, worker, {message()}});
    // A report for the attempt that already ended may be the very report
    // applied (a duplicate); anything else must not be written.
    if (d.applied()) fail_now("a stale report was applied");
    if (running && d.outcome != verdict::rejected) fail_now("a stale report on a running job was not rejected");
    if (applied_reports_[row->id].size() != before) fail_now("a stale report was recorded");
  }

  // Sends again a report that was applied earlier. When nothing changed since,
  // it must be acknowledged as a duplicate; otherwise it must be rejected.
  void replay_applied() {
    const auto row = random_job();
    auto& reports = applied_reports_[row->id];
    if (reports.empty()) return;
    const bool last = coin(50);
    const auto& report =
        last ? reports.back() : reports[static_cast<std::size_t>(pick(0, static_cast<int>(reports.size()) - 1))];
    const bool unchanged_since =
        last && last_report_version_.contains(row->id) && last_report_version_[row->id] == row->version;
    log_ << "replay to job " << row->id << (unchanged_since ? " (nothing changed since)" : "");
    const auto d = std::visit([&](const auto& e) { return decide_and_apply(*row, e); }, report);
    if (d.applied()) fail_now("a replayed report was applied twice");
    if (unchanged_since && d.outcome != verdict::duplicate)
      fail_now("the duplicate of the last report was not acknowledged");
  }

  void expire_lease() {
    const auto row = coin(70) ? random_job_in(job_state::running) : random_job();
    if (!row) return;
    const auto attempt = coin(85) || row->attempt == 0 ? row->attempt : pick(0, row->attempt - 1);
    log_ << "lease_expired job " << row->id << " (" << state_name(row->state) << ") attempt " << attempt;
    const bool held = row->state == job_state::running && row->lease_until && *row->lease_until > clock_.now();
    const auto d = decide_and_apply(*row, errand::lease_expired{attempt, errand::lease_expiry_reason(*row)});
    if (row->state == job_state::running && attempt == row->attempt) {
      if (held && d.why != errand::rejection::lease_held) fail_now("a lease still held was expired");
      if (!held && !d.applied()) fail_now("an expired lease of the current attempt was refused");
    }
  }

  void heartbeat(bool current) {
    const auto row = current ? random_job_in(job_state::running) : random_job();
    if (!row) return;
    const auto worker = current ? *row->worker : worker_name();
    const auto attempt = current ? row->attempt : row->attempt - pick(0, 1);
    log_ << "heartbeat job " << row->id << " attempt " << attempt << " by " << worker;
    touched_.insert(row->id);
    const auto d = errand::extend_lease(*row, worker, attempt, std::chrono::seconds{pick(5, 30)}, clock_.now());
    const bool holder = row->state == job_state::running && row->worker == worker && row->attempt == attempt;
    if (d.applied() != holder) fail_now("a heartbeat was decided against who holds the job");
    if (d.record) fail_now("a heartbeat carries a history record");
    if (!d.applied()) {
      if (errand::to_json(d.next) != errand::to_json(*row)) fail_now("a refused heartbeat changed the row");
      return;
    }
    if (store_.apply(d) != errand::write_result::applied) fail_now("the store refused a heartbeat");
    wrote(d.next, false);
  }

  void cancel() {
    const auto row = random_job();
    log_ << "cancel job " << row->id << " (" << state_name(row->state) << ")";
    const auto d = decide_and_apply(*row, coin(50) ? errand::cancel{} : errand::cancel{message()});
    const bool cancellable = row->state != job_state::failed && row->state != job_state::succeeded;
    if (d.applied() != cancellable) fail_now("cancel was decided against the table");
  }

  void requeue() {
    const auto row = coin(70) ? random_job_in(job_state::failed) : random_job();
    if (!row) return;
    log_ << "requeue job " << row->id << " (" << state_name(row->state) << ")";
    const auto d = decide_and_apply(*row, errand::requeue{std::nullopt, pick(-1, 3)});
    if (d.applied() != (row->state == job_state::failed)) fail_now("requeue was decided against the table");
    if (d.applied() && d.next.max_attempts <= row->attempt) fail_now("a requeued job has no attempt left");
  }

  // A worker hands back a job it claimed and never started; sometimes one that does not hold it.
  void release_current() {
    const auto row = random_job_in(job_state::running);
    if (!row) return;
    const bool holder = coin(80);
    const auto worker = holder ? *row->worker : *row->worker + "-impostor";
    log_ << "release job " << row->id << " attempt " << row->attempt << " by " << worker;
    const auto d = decide_and_apply(*row, errand::release{row->attempt, worker});
    if (d.applied() != holder) fail_now("a release was decided against who holds the job");
  }

  void reap() {
    log_ << "reap";
    for (const auto& row : errand::reap(store_, policy_, clock_.now())) {
      log_ << " job " << row.id;
      wrote(row, true);
      if (!row.last_error || !row.last_error->starts_with("lease expired: worker "))
        fail_now("the reaper did not record why");
    }
    errand::job_query query;
    query.state = job_state::running;
    query.limit = expected_.size();
    for (const auto& row : store_.query(query))
      if (*row.lease_until <= clock_.now()) fail_now("a reaper pass left an expired lease running");
  }

  void advance() {
    const auto by = std::chrono::milliseconds{pick(0, 15000)};
    log_ << "advance " << by.count() << " ms";
    clock_.advance(by);
  }

  // ---- the invariants -------------------------------------------------------

  void check_row(const errand::job& row, const expectation& expected, std::ostringstream& out) {
    const auto job = "job " + std::to_string(row.id) + " (" + state_name(row.state) + "): ";
    if (row.version != expected.version)
      out << job << "version " << row.version << ", expected " << expected.version << "\n";
    // Only a release gives an attempt back, one, to a job it leaves pending.
    const auto lowest = expected.attempt - (row.state == job_state::pending ? 1 : 0);
    if (row.attempt < lowest) out << job << "attempt went back from " << expected.attempt << "\n";
    if (row.attempt > row.max_attempts) out << job << "attempt beyond max_attempts\n";
    const bool ended = row.state == job_state::retry_pending || row.state == job_state::failed;
    if (ended && (!row.last_error || row.last_error->empty() || !row.last_error_at || !row.last_error_kind))
      out << job << "no reason recorded\n";
    if (!ended && (row.last_error || row.last_error_kind || row.last_error_at)) out << job << "a stale error\n";
    if (row.last_error &&
        (row.last_error->size() > errand::max_error_bytes || row.last_error->find('\0') != std::string::npos))
      out << job << "an unstorable error\n";
    const bool running = row.state == job_state::running;
    if (running != row.lease_until.has_value() || running != row.heartbeat_at.has_value())
      out << job << "running and holding a lease disagree\n";
  }

  void check_history(const errand::job& row, const expectation& expected, std::ostringstream& out) {
    const auto history = store_.history(row.id);
    const auto job = "job " + std::to_string(row.id) + ": ";
    if (history.size() != expected.history)
      out << job << history.size() << " history records, expected " << expected.history << "\n";
    auto previous = job_state::pending;
    std::int32_t previous_attempt = 0;
    for (std::size_t i = 0; i < history.size(); ++i) {
      const auto& r = history[i];
      if (r.seq != static_cast<std::int64_t>(i + 1)) out << job << "seq " << r.seq << " at position " << i + 1 << "\n";
      if (r.from != previous) out << job << "record " << r.seq << " starts where the last did not end\n";
      const bool given_back = r.event == "release" && r.attempt == previous_attempt - 1;
      if (r.attempt < previous_attempt && !given_back) out << job << "record " << r.seq << " goes back an attempt\n";
      previous = r.to;
      previous_attempt = r.attempt;
    }
    if (previous != row.state) out << job << "history ends in " << state_name(previous) << "\n";
    if (!history.empty() && history.back().attempt != row.attempt) out << job << "history's attempt disagrees\n";
    if (row.state == job_state::running && !history.empty() && history.back().event == "claim" && row.last_error)
      out << job << "an error right after a claim\n";
  }

  std::mt19937_64 random_;
  errand::manual_clock clock_;
  errand::memory_store store_;
  errand::retry_policy policy_;
  std::map<std::int64_t, expectation> expected_;
  std::map<std::int64_t, std::vector<worker_report>> applied_reports_;
  std::map<std::int64_t, std::size_t> reports_seen_;
  std::map<std::int64_t, std::int64_t> last_report_version_;
  std::set<std::int64_t> touched_;
  std::set<std::int64_t> live_;
  std::set<std::int64_t> finished_;
  std::set<job_state> states_seen_;
  std::map<std::string, int> outcomes_;
  std::ostringstream log_;
  std::ostringstream failures_;
};

}  // namespace

TEST_CASE("property: random event sequences keep the lifecycle's invariants after every step",
          "[property][contract][lifecycle]") {
  const auto seed = chosen_seed();
  CAPTURE(seed);
  driver d(seed);
  for (int i = 1; i <= steps; ++i) {
    const auto action = d.step();
    d.note_reports();
    const auto which = i == steps ? driver::scope::all : i % 50 == 0 ? driver::scope::live : driver::scope::touched;
    const auto broken = d.take_failures() + d.violations(which);
    if (!broken.empty()) {
      INFO("step " << i << ": " << action);
      FAIL(broken);
    }
  }
  // The run reached every state and every kind of answer, so the invariants
  // were checked where they matter.
  CHECK(d.states_seen().size() == 5);
  const auto& seen = d.outcomes_seen();
  for (const auto* outcome :
       {"claim applied to running", "succeed applied to succeeded", "fail applied to retry_pending",
        "fail applied to failed", "lease_expired applied to retry_pending", "lease_expired applied to failed",
        "cancel applied to failed", "requeue applied to pending", "release applied to pending", "succeed duplicate",
        "fail duplicate", "lease_expired duplicate", "release duplicate", "stale_report", "illegal_transition",
        "not_due", "lease_held"}) {
    INFO(outcome);
    CHECK(seen.contains(outcome));
  }
}
