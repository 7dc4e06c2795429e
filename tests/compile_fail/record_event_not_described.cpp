// An event with data is not described, so its payload could not reach history.
#include "tickets.hpp"

namespace tickets {
struct exploded {
  static constexpr std::string_view name = "exploded";
  std::string reason;
};
struct tickets_table {
  using row = ticket;
  using machine = ticket_machine<exploded>;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
  static constexpr auto error_reason = &ticket::failure;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
