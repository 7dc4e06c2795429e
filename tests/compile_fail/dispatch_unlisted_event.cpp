// Runtime dispatch of an event type the machine does not list.
#include "traffic.hpp"

namespace traffic {
using lights =
    machine<red, events<go, slow, stop>, table<row<red, go, green>, row<green, slow, yellow>, row<yellow, stop, red>>>;
}

int main() {
  traffic::road road;
  return traffic::lights::dispatch(traffic::light::red, traffic::honk{}, road) ? 0 : 1;
}
