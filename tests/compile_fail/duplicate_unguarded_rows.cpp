// Two unguarded rows for (green, slow): which one wins would depend on row order alone.
#include "traffic.hpp"

namespace traffic {
using lights =
    machine<red, events<go, slow, stop>,
            table<row<red, go, green>, row<green, slow, yellow>, row<green, slow, red>, row<yellow, stop, red>>>;
}

int main() { return traffic::lights::row_count == 0; }
