// An event with data is not described, so its payload could not reach history.
#include "tickets.hpp"

namespace tickets {
struct exploded {
  static constexpr std::string_view name = "exploded";
  std::string reason;
};
struct tickets_table : tickets_without_reason<ticket_machine<exploded>> {
  static constexpr auto error_reason = &ticket::failure;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
