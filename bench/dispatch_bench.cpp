// Dispatching an event from a state read at run time, three ways, in one binary:
//
//   errand  errand::job_lifecycle::dispatch (the table is a type)
//   switch  a hand-written switch over (event, state)
//   msm     Boost.MSM's back end, modelling the same table
//
// All three run the same pre-generated sequence of (state, event, row) steps,
// legal and illegal mixed, and do the same work per transition. Two workloads:
//
//   lifecycle  the lifecycle's own guards and actions on a transition_context
//              (what decide() runs);
//   bare       the same table with token guards and actions that only add to a
//              tally, so that the cost of dispatch itself is not hidden by the work.
//
// Before timing anything the program checks that the three agree on every step;
// after timing it prints each way's CPU time as a ratio of the switch's.
//
//   dispatch_bench --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true

#include <errand/lifecycle.hpp>

#include <benchmark/benchmark.h>
#include <boost/mp11/algorithm.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using errand::job_state;
namespace rules = errand::lifecycle_rules;

// ---------------------------------------------------------------------------
// Workloads: what a transition does besides changing state.

// The lifecycle's own guards, actions and context.
struct lifecycle_work {
  using context = errand::transition_context;
  using guard = rules::retry_allowed;
  template <class Action>
  using action = Action;
};

// A context that only tallies which action ran and how often a guard was asked.
struct tally {
  const errand::job& current;
  std::uint64_t sum = 0;
};

struct token_guard {
  bool operator()(const tally& t, const errand::fail& e) const {
    return e.error.retryable && t.current.attempt < t.current.max_attempts;
  }
  bool operator()(const tally& t, const errand::lease_expired&) const {
    return t.current.attempt < t.current.max_attempts;
  }
};

// Distinct weights, so the tally tells which actions ran, not only how many.
template <class Action>
inline constexpr std::uint64_t weight = 0;
template <>
inline constexpr std::uint64_t weight<rules::start_attempt> = 1;
template <>
inline constexpr std::uint64_t weight<rules::finish> = 10;
template <>
inline constexpr std::uint64_t weight<rules::schedule_retry> = 100;
template <>
inline constexpr std::uint64_t weight<rules::give_up> = 1000;
template <>
inline constexpr std::uint64_t weight<rules::reopen> = 10000;

template <class Action>
struct token_action {
  void operator()(tally& t, const auto&) const { t.sum += weight<Action>; }
};

struct bare_work {
  using context = tally;
  using guard = token_guard;
  template <class Action>
  using action = token_action<Action>;
};

// ---------------------------------------------------------------------------
// errand: the lifecycle's table with the workload's guard and actions swapped in.

template <class Work>
struct with_work {
  template <class Row>
  using fn = errand::row<Row::from, typename Row::event_type, Row::to,
                         std::conditional_t<Row::guarded, typename Work::guard, errand::always>,
                         typename Work::template action<typename Row::action_type>>;
};

template <class Work, class Rows>
struct rebuild;
template <class Work, class... Rows>
struct rebuild<Work, boost::mp11::mp_list<Rows...>> {
  using type = errand::machine<errand::job_lifecycle::initial,
                               errand::events<errand::claim, errand::succeed, errand::fail, errand::lease_expired,
                                              errand::cancel, errand::requeue, errand::release>,
                               errand::table<typename with_work<Work>::template fn<Rows>...>,
                               errand::terminal<job_state::succeeded>,
                               errand::error_states<job_state::retry_pending, job_state::failed>>;
};

template <class Work>
using errand_machine = typename rebuild<Work, errand::job_lifecycle::row_list>::type;

// The lifecycle workload runs errand::job_lifecycle itself, not a copy of it.
static_assert(std::is_same_v<errand_machine<lifecycle_work>, errand::job_lifecycle>);

struct outcome {
  job_state to;
  bool accepted;
};

template <class Work>
struct errand_way {
  using machine_type = errand_machine<Work>;
  template <class Event>
  outcome operator()(job_state from, const Event& e, typename Work::context& c) const {
    const auto result = machine_type::dispatch(from, e, c);
    return {result.to, result.accepted};
  }
};

// ---------------------------------------------------------------------------
// switch: the table written out by hand, one function per event.

template <class Work>
struct switch_way {
  using context = typename Work::context;
  template <class Action>
  using act = typename Work::template action<Action>;
  using guard = typename Work::guard;

  outcome operator()(job_state from, const errand::claim& e, context& c) const {
    switch (from) {
      case job_state::pending:
      case job_state::retry_pending:
        act<rules::start_attempt>{}(c, e);
        return {job_state::running, true};
      default:
        return {from, false};
    }
  }
  outcome operator()(job_state from, const errand::succeed& e, context& c) const {
    if (from != job_state::running) return {from, false};
    act<rules::finish>{}(c, e);
    return {job_state::succeeded, true};
  }
  template <class Failure>
  outcome failure(job_state from, const Failure& e, context& c) const {
    if (from != job_state::running) return {from, false};
    if (guard{}(c, e)) {
      act<rules::schedule_retry>{}(c, e);
      return {job_state::retry_pending, true};
    }
    act<rules::give_up>{}(c, e);
    return {job_state::failed, true};
  }
  outcome operator()(job_state from, const errand::fail& e, context& c) const { return failure(from, e, c); }
  outcome operator()(job_state from, const errand::lease_expired& e, context& c) const { return failure(from, e, c); }
  outcome operator()(job_state from, const errand::cancel& e, context& c) const {
    switch (from) {
      case job_state::pending:
      case job_state::retry_pending:
      case job_state::running:
        act<rules::give_up>{}(c, e);
        return {job_state::failed, true};
      default:
        return {from, false};
    }
  }
  outcome operator()(job_state from, const errand::requeue& e, context& c) const {
    if (from != job_state::failed) return {from, false};
    act<rules::reopen>{}(c, e);
    return {job_state::pending, true};
  }
};

// ---------------------------------------------------------------------------
// Boost.MSM: the same table in MSM's functor front end, configured for speed
// (no message queue, no exception handling).

namespace msm = boost::msm;
namespace mpl = boost::mpl;

template <class Work>
struct msm_lifecycle : msm::front::state_machine_def<msm_lifecycle<Work>> {
  using no_message_queue = int;
  using no_exception_thrown = int;

  struct pending : msm::front::state<> {};
  struct running : msm::front::state<> {};
  struct retry_pending : msm::front::state<> {};
  struct failed : msm::front::state<> {};
  struct succeeded : msm::front::state<> {};
  using initial_state = pending;

  typename Work::context* context = nullptr;
  bool accepted = false;

  template <class Action>
  struct run {
    template <class Event, class Fsm, class Source, class Target>
    void operator()(const Event& e, Fsm& fsm, Source&, Target&) const {
      fsm.accepted = true;
      typename Work::template action<Action>{}(*fsm.context, e);
    }
  };
  struct allowed {
    template <class Event, class Fsm, class Source, class Target>
    bool operator()(const Event& e, Fsm& fsm, Source&, Target&) const {
      return typename Work::guard{}(std::as_const(*fsm.context), e);
    }
  };

  using none = msm::front::none;
  template <class From, class Event, class To, class Action, class Guard = none>
  using row = msm::front::Row<From, Event, To, Action, Guard>;

  // MSM tries the rows of one (state, event) from the bottom up, so the
  // guarded retry row comes after the unguarded give-up row it takes priority over.
  struct transition_table
      : mpl::vector<row<pending, errand::claim, running, run<rules::start_attempt>>,
                    row<retry_pending, errand::claim, running, run<rules::start_attempt>>,
                    row<running, errand::succeed, succeeded, run<rules::finish>>,
                    row<running, errand::fail, failed, run<rules::give_up>>,
                    row<running, errand::fail, retry_pending, run<rules::schedule_retry>, allowed>,
                    row<running, errand::lease_expired, failed, run<rules::give_up>>,
                    row<running, errand::lease_expired, retry_pending, run<rules::schedule_retry>, allowed>,
                    row<pending, errand::cancel, failed, run<rules::give_up>>,
                    row<retry_pending, errand::cancel, failed, run<rules::give_up>>,
                    row<running, errand::cancel, failed, run<rules::give_up>>,
                    row<failed, errand::requeue, pending, run<rules::reopen>>> {};

  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {}
};

template <class Work>
struct msm_way {
  using machine_type = msm::back::state_machine<msm_lifecycle<Work>>;
  using stt = typename machine_type::stt;
  using front = msm_lifecycle<Work>;

  machine_type machine;
  std::array<int, 5> id_of{};
  std::array<job_state, 5> state_of{};

  msm_way() {
    const auto map = [&](job_state s, int id) {
      id_of[static_cast<std::size_t>(s)] = id;
      state_of[static_cast<std::size_t>(id)] = s;
    };
    map(job_state::pending, msm::back::get_state_id<stt, typename front::pending>::value);
    map(job_state::running, msm::back::get_state_id<stt, typename front::running>::value);
    map(job_state::retry_pending, msm::back::get_state_id<stt, typename front::retry_pending>::value);
    map(job_state::failed, msm::back::get_state_id<stt, typename front::failed>::value);
    map(job_state::succeeded, msm::back::get_state_id<stt, typename front::succeeded>::value);
    machine.start();
  }

  template <class Event>
  outcome operator()(job_state from, const Event& e, typename Work::context& c) {
    // MSM restores a state only through Boost.Serialization, which writes this
    // same array; the states are empty, so there is nothing else to restore.
    const_cast<int*>(machine.current_state())[0] = id_of[static_cast<std::size_t>(from)];
    machine.context = &c;
    machine.accepted = false;
    machine.process_event(e);
    return {state_of[static_cast<std::size_t>(machine.current_state()[0])], machine.accepted};
  }
};

// ---------------------------------------------------------------------------
// The sequence every way runs.

enum class event_kind : std::uint8_t { claim, succeed, fail_retryable, fail_fatal, lease_expired, cancel, requeue };

struct step {
  job_state state;
  event_kind event;
  std::uint8_t row;  // which stored row (attempt, max_attempts, last_error) the guards and actions read
};

struct inputs {
  std::vector<step> steps;
  std::vector<errand::job> rows;
  errand::retry_policy policy;
  errand::time_point now = errand::time_point{std::chrono::seconds{1'767'225'600}};
  // Short texts: the small-string buffer holds them, so no step allocates.
  errand::claim claim{"w1", std::chrono::seconds{30}};
  errand::succeed succeed{1, "w1", std::nullopt};
  errand::fail fail_retryable{1, "w1", {"conn reset", std::string(errand::error_kind::reported), true, std::nullopt}};
  errand::fail fail_fatal{1, "w1", {"bad input", std::string(errand::error_kind::reported), false, std::nullopt}};
  errand::lease_expired lease_expired{1, "lease expired"};
  errand::cancel cancel{"operator"};
  errand::requeue requeue{std::nullopt, 1};
};

constexpr std::size_t step_count = 4096;

// A fixed seed: every run, and every way, sees the same sequence. About two
// thirds of the steps are legal transitions.
const inputs& sequence() {
  static const inputs in = [] {
    inputs made;
    for (std::int32_t i = 0; i < 8; ++i) {
      errand::job row;
      row.id = i + 1;
      row.attempt = i % 4;
      row.max_attempts = 3;
      if (i % 2) row.last_error = "earlier";
      made.rows.push_back(row);
    }
    std::mt19937 generator(20261122);
    std::uniform_int_distribution<int> states(0, 4), events(0, 6), rows(0, 7), legal(0, 2);
    const auto legal_event_for = [&](job_state s) {
      switch (s) {
        case job_state::pending:
          return legal(generator) ? event_kind::claim : event_kind::cancel;
        case job_state::retry_pending:
          return legal(generator) ? event_kind::claim : event_kind::cancel;
        case job_state::running:
          return static_cast<event_kind>(1 + events(generator) % 5);
        case job_state::failed:
          return event_kind::requeue;
        case job_state::succeeded:
          break;
      }
      return event_kind::claim;  // illegal: succeeded is terminal
    };
    made.steps.reserve(step_count);
    for (std::size_t i = 0; i < step_count; ++i) {
      const auto state = static_cast<job_state>(states(generator));
      const auto event = legal(generator) ? legal_event_for(state) : static_cast<event_kind>(events(generator));
      made.steps.push_back({state, event, static_cast<std::uint8_t>(rows(generator))});
    }
    return made;
  }();
  return in;
}

errand::transition_context make_context(const inputs& in, const errand::job& current, errand::job& next,
                                        const lifecycle_work*) {
  return {current, next, in.policy, in.now};
}
tally make_context(const inputs&, const errand::job& current, errand::job&, const bare_work*) { return {current}; }

// One step: the same outer switch on the event kind for every way.
template <class Work, class Way>
outcome run_step(Way& way, const inputs& in, const step& s, errand::job& next, std::uint64_t& sum) {
  auto context = make_context(in, in.rows[s.row], next, static_cast<const Work*>(nullptr));
  outcome result{};
  switch (s.event) {
    case event_kind::claim:
      result = way(s.state, in.claim, context);
      break;
    case event_kind::succeed:
      result = way(s.state, in.succeed, context);
      break;
    case event_kind::fail_retryable:
      result = way(s.state, in.fail_retryable, context);
      break;
    case event_kind::fail_fatal:
      result = way(s.state, in.fail_fatal, context);
      break;
    case event_kind::lease_expired:
      result = way(s.state, in.lease_expired, context);
      break;
    case event_kind::cancel:
      result = way(s.state, in.cancel, context);
      break;
    case event_kind::requeue:
      result = way(s.state, in.requeue, context);
      break;
  }
  if constexpr (std::is_same_v<Work, bare_work>) sum += context.sum;
  return result;
}

template <class Work, template <class> class Way>
void dispatch_sequence(benchmark::State& state) {
  const inputs& in = sequence();
  Way<Work> way;
  errand::job next = in.rows[0];
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (const step& s : in.steps) {
      const outcome result = run_step<Work>(way, in, s, next, sum);
      benchmark::DoNotOptimize(result);
    }
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * in.steps.size()));
}

// The fields the lifecycle's actions write.
bool same_effects(const errand::job& a, const errand::job& b) {
  return a.attempt == b.attempt && a.max_attempts == b.max_attempts && a.run_at == b.run_at && a.worker == b.worker &&
         a.lease_until == b.lease_until && a.heartbeat_at == b.heartbeat_at && a.last_error == b.last_error &&
         a.last_error_kind == b.last_error_kind && a.last_error_at == b.last_error_at && a.detail == b.detail;
}

// The three ways must agree on every step before their times mean anything.
struct agreement {
  std::string problem;  // empty when the three ways agree on every step
  std::size_t accepted = 0;
};

template <class Work>
agreement check_agreement() {
  const inputs& in = sequence();
  errand_way<Work> by_errand;
  switch_way<Work> by_switch;
  msm_way<Work> by_msm;
  errand::job next_errand = in.rows[0], next_switch = in.rows[0], next_msm = in.rows[0];
  std::uint64_t sum_errand = 0, sum_switch = 0, sum_msm = 0;
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < in.steps.size(); ++i) {
    const auto& s = in.steps[i];
    const auto a = run_step<Work>(by_errand, in, s, next_errand, sum_errand);
    const auto b = run_step<Work>(by_switch, in, s, next_switch, sum_switch);
    const auto c = run_step<Work>(by_msm, in, s, next_msm, sum_msm);
    const bool same_row = same_effects(next_errand, next_switch) && same_effects(next_errand, next_msm);
    if (a.to != b.to || a.to != c.to || a.accepted != b.accepted || a.accepted != c.accepted || !same_row ||
        sum_errand != sum_switch || sum_errand != sum_msm)
      return {"step " + std::to_string(i) + ": the ways disagree", accepted};
    accepted += a.accepted;
  }
  if (accepted == 0 || accepted == in.steps.size()) return {"the sequence must mix legal and illegal steps", accepted};
  return {{}, accepted};
}

// Console output as usual, then each way's median time over the switch's.
// CPU time, not wall time: on a shared machine a benchmark descheduled for a
// while should not look slower for it.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  ratio_reporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      if (median || single) times_[run.run_name.function_name] = run.GetAdjustedCPUTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nratio to the hand-written switch (median CPU time; 1.00 = as fast):\n");
    for (const char* workload : {"lifecycle", "bare"}) {
      const auto baseline = times_.find(std::string(workload) + "/switch");
      if (baseline == times_.end()) continue;
      for (const char* way : {"errand", "msm"}) {
        const auto measured = times_.find(std::string(workload) + "/" + way);
        if (measured != times_.end())
          std::printf("  %-10s %-7s %.3fx\n", workload, way, measured->second / baseline->second);
      }
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const auto& check : {check_agreement<lifecycle_work>(), check_agreement<bare_work>()}) {
    if (!check.problem.empty()) {
      std::fprintf(stderr, "dispatch_bench: %s\n", check.problem.c_str());
      return 1;
    }
  }
  std::printf("errand, switch and msm agree on all %zu steps; %zu are legal transitions\n", sequence().steps.size(),
              check_agreement<bare_work>().accepted);

  // --fixed_iterations=N runs each benchmark exactly N times, with no
  // calibration runs, so that an instruction count (bench/dispatch_instructions.sh)
  // divides into a count per dispatch.
  std::int64_t fixed_iterations = 0;
  std::vector<char*> arguments;
  for (int i = 0; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument.starts_with("--fixed_iterations="))
      fixed_iterations = std::stoll(std::string(argument.substr(std::string_view("--fixed_iterations=").size())));
    else
      arguments.push_back(argv[i]);
  }
  const auto add = [&](const char* name, void (*function)(benchmark::State&)) {
    auto* registered = benchmark::RegisterBenchmark(name, function);
    if (fixed_iterations > 0) registered->Iterations(fixed_iterations);
  };
  add("lifecycle/errand", dispatch_sequence<lifecycle_work, errand_way>);
  add("lifecycle/switch", dispatch_sequence<lifecycle_work, switch_way>);
  add("lifecycle/msm", dispatch_sequence<lifecycle_work, msm_way>);
  add("bare/errand", dispatch_sequence<bare_work, errand_way>);
  add("bare/switch", dispatch_sequence<bare_work, switch_way>);
  add("bare/msm", dispatch_sequence<bare_work, msm_way>);

  int remaining = static_cast<int>(arguments.size());
  benchmark::Initialize(&remaining, arguments.data());
  if (benchmark::ReportUnrecognizedArguments(remaining, arguments.data())) return 1;
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
