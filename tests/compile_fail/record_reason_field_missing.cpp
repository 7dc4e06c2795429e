// The machine has an error state, but the definition names no field for the reason.
#include "tickets.hpp"

namespace tickets {
struct tickets_table {
  using row = ticket;
  using machine = ticket_machine<>;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
