// The control case for records: a well-formed definition must compile.
#include "tickets.hpp"

namespace tickets {
struct tickets_table : tickets_without_reason<> {
  static constexpr auto error_reason = &ticket::failure;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
