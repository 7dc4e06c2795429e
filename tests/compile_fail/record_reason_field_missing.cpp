// The machine has an error state, but the definition names no field for the reason.
#include "tickets.hpp"

namespace tickets {
struct tickets_table : tickets_without_reason<> {};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
