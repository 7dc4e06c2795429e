// The reason is kept in a plain std::string: leaving the error state could
// only write '' there, not NULL.
#include "tickets.hpp"

namespace tickets {
struct tickets_table : tickets_without_reason<> {
  static constexpr auto error_reason = &ticket::note;
};
}  // namespace tickets

int main() { return errand::record_traits<tickets::tickets_table>::has_error_states ? 0 : 1; }
