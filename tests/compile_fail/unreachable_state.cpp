// No row leads to yellow, so it can only be reached by a corrupt row.
#include "traffic.hpp"

namespace traffic {
using lights =
    machine<red, events<go, stop>, table<row<red, go, green>, row<green, stop, red>, row<yellow, stop, red>>>;
}

int main() { return traffic::lights::row_count == 0; }
