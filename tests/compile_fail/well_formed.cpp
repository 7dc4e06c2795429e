// The control case: a well-formed machine, built the same way as the failing
// cases, must compile. If it does not, the harness is broken, not the checks.
#include "traffic.hpp"

namespace traffic {
using lights = machine<
    red, events<go, slow, stop>,
    table<row<red, go, green, road_clear>, row<red, go, red>, row<green, slow, yellow>, row<yellow, stop, red>>>;
static_assert(lights::target_of<green, slow>() == yellow);
}  // namespace traffic

int main() {
  traffic::road road;
  const auto typed = traffic::lights::dispatch<traffic::light::green>(traffic::slow{}, road);
  const auto runtime = traffic::lights::dispatch(typed.to, traffic::stop{}, road);
  return runtime.to == traffic::light::red ? 0 : 1;
}
