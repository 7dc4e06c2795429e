// The source state is a compile-time constant and no row takes stop from green.
#include "traffic.hpp"

namespace traffic {
using lights =
    machine<red, events<go, slow, stop>, table<row<red, go, green>, row<green, slow, yellow>, row<yellow, stop, red>>>;
}

int main() {
  traffic::road road;
  return traffic::lights::dispatch<traffic::light::green>(traffic::stop{}, road) ? 0 : 1;
}
