// The translation unit bench/compile_time.sh times: the core's umbrella header,
// the job lifecycle instantiated, and decide() for every lifecycle event, which
// is what a backend's source file costs to compile before its own code.
#include <errand/errand.hpp>

#include <string>

namespace {

errand::decision decide_each(const errand::job& row, const errand::retry_policy& policy, errand::time_point now,
                             int which) {
  switch (which) {
    case 0:
      return errand::decide(row, errand::claim{"worker"}, policy, now);
    case 1:
      return errand::decide(row, errand::succeed{1, "worker"}, policy, now);
    case 2:
      return errand::decide(row, errand::fail{1, "worker", {"it broke"}}, policy, now);
    case 3:
      return errand::decide(row, errand::lease_expired{1, "lease expired"}, policy, now);
    case 4:
      return errand::decide(row, errand::cancel{}, policy, now);
    default:
      return errand::decide(row, errand::requeue{}, policy, now);
  }
}

}  // namespace

int main(int argc, char**) {
  const errand::manual_clock clock;
  errand::job_spec spec;
  spec.kind = "probe";
  const auto row = errand::make_job(spec, 1, clock.now());
  const auto decided = decide_each(row, errand::retry_policy{}, clock.now(), argc - 1);
  return decided.applied() && errand::job_lifecycle::can_take<errand::claim>(row.state) ? 0 : 1;
}
