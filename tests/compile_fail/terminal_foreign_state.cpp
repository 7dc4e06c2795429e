// terminal<...> names a door state in a machine of lights.
#include "traffic.hpp"

namespace traffic {
enum class door { shut, open };
BOOST_DESCRIBE_ENUM(door, shut, open)
using lights =
    machine<red, events<go, slow, stop>, table<row<red, go, green>, row<green, slow, yellow>, row<yellow, stop, red>>,
            terminal<door::open>>;
}  // namespace traffic

int main() { return traffic::lights::row_count == 0; }
