// The states have no names: nothing could be stored or read back.
#include "traffic.hpp"

namespace traffic {
enum class bare { on, off };
using switch_machine =
    machine<bare::off, events<go, stop>, table<row<bare::off, go, bare::on>, row<bare::on, stop, bare::off>>>;
}  // namespace traffic

int main() { return traffic::switch_machine::row_count == 0; }
