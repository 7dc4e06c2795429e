// honk is listed as an event, but no row takes it.
#include "traffic.hpp"

namespace traffic {
using lights = machine<red, events<go, slow, stop, honk>,
                       table<row<red, go, green>, row<green, slow, yellow>, row<yellow, stop, red>>>;
}

int main() { return traffic::lights::row_count == 0; }
