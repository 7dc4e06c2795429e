// A row from a light to a door state.
#include "traffic.hpp"

namespace traffic {
enum class door { shut, open };
using broken_row = row<red, go, door::open>;
}  // namespace traffic

int main() { return traffic::broken_row::guarded; }
