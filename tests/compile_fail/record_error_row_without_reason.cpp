// A row enters the error state `broken` on an event that carries no reason:
// the record would say it failed without saying why.
#include "tickets.hpp"

namespace tickets {
struct shrug {
  static constexpr std::string_view name = "shrug";
};
struct tickets_table {
  using row = ticket;
  using machine = ticket_machine<shrug>;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
  static constexpr auto error_reason = &ticket::failure;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
