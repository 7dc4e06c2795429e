// A row enters the error state `broken` on an event that carries no reason:
// the record would say it failed without saying why.
#include "tickets.hpp"

namespace tickets {
struct shrug {
  static constexpr std::string_view name = "shrug";
};
struct tickets_table : tickets_without_reason<ticket_machine<shrug>> {
  static constexpr auto error_reason = &ticket::failure;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
