#pragma once
// A persisted machine every record compile-fail case builds its one mistake
// from: a ticket that can fail with a reason and be reopened.

#include <errand/record.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tickets {

enum class status { open, working, broken, closed };
BOOST_DESCRIBE_ENUM(status, open, working, broken, closed)

struct ticket {
  std::int64_t id = 0;
  status state = status::open;
  std::optional<std::string> failure;
  std::string note;
  std::int64_t version = 0;
};
BOOST_DESCRIBE_STRUCT(ticket, (), (id, state, failure, note, version))

struct work {
  static constexpr std::string_view name = "work";
};
struct broke {
  static constexpr std::string_view name = "broke";
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(broke, (), (reason))
struct close {
  static constexpr std::string_view name = "close";
};
struct reopen {
  static constexpr std::string_view name = "reopen";
};

using errand::row;
using enum status;

template <class IntoBroken = broke>
using ticket_machine =
    errand::machine<open, errand::events<work, IntoBroken, close, reopen>,
                    errand::table<row<open, work, working>, row<working, IntoBroken, broken>,
                                  row<working, close, closed>, row<broken, reopen, open>>,
                    errand::terminal<closed>, errand::error_states<broken>>;

// A record definition without its reason field: each case adds one, or not,
// and makes its one mistake.
template <class Machine = ticket_machine<>>
struct tickets_without_reason {
  using row = ticket;
  using machine = Machine;
  static constexpr std::string_view table_name = "tickets";
  static constexpr auto id = &ticket::id;
  static constexpr auto state = &ticket::state;
  static constexpr auto version = &ticket::version;
};

}  // namespace tickets
