// The column mapping names a field the row does not have (a typo).
#include "tickets.hpp"

#include <array>

namespace tickets {
struct tickets_table : tickets_without_reason<> {
  static constexpr auto error_reason = &ticket::failure;
  static constexpr std::array columns{errand::column_name{"failiure", "error_message"}};
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
