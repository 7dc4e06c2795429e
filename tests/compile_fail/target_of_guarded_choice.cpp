// go from red leads to green or red, as a guard decides: no single target to name.
#include "traffic.hpp"

namespace traffic {
using lights = machine<
    red, events<go, slow, stop>,
    table<row<red, go, green, road_clear>, row<red, go, red>, row<green, slow, yellow>, row<yellow, stop, red>>>;
}

int main() { return traffic::lights::target_of<traffic::light::red, traffic::go>() == traffic::light::red; }
