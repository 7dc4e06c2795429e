// A machine of lights with a row of door states.
#include "traffic.hpp"

namespace traffic {
enum class door { shut, open };
BOOST_DESCRIBE_ENUM(door, shut, open)
using lights =
    machine<red, events<go, stop>, table<row<red, go, green>, row<green, stop, red>, row<door::shut, go, door::open>>>;
}  // namespace traffic

int main() { return traffic::lights::row_count == 0; }
