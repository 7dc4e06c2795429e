// The column mapping names a field the row does not have (a typo).
#include "tickets.hpp"

#include <array>

namespace tickets {
struct tickets_table {
  using row = ticket;
  using machine = ticket_machine<>;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
  static constexpr auto error_reason = &ticket::failure;
  static constexpr std::array columns{errand::column_name{"failiure", "error_message"}};
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
