// red is declared terminal, yet a row leaves it.
#include "traffic.hpp"

namespace traffic {
using lights = machine<green, events<go, slow, stop>,
                       table<row<green, slow, yellow>, row<yellow, stop, red>, row<red, go, green>>, terminal<red>>;
}

int main() { return traffic::lights::row_count == 0; }
