// target_of asks where stop leads from green; no row says.
#include "traffic.hpp"

namespace traffic {
using lights =
    machine<red, events<go, slow, stop>, table<row<red, go, green>, row<green, slow, yellow>, row<yellow, stop, red>>>;
}

int main() { return traffic::lights::target_of<traffic::light::green, traffic::stop>() == traffic::light::red; }
