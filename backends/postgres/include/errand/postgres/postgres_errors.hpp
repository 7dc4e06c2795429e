#pragma once
// What errand::postgres_store throws. Every one is an errand::store_error, so
// one catch serves for all stores; these say more where the cure differs.
//
//   postgres_login_error       the server answered and will not let this
//                              connection in: wrong settings, not a bad moment.
//                              Thrown at once, never retried.
//   postgres_connection_error  no server answered, or the connection broke
//                              (after options.connect_attempts tries). Nothing
//                              of the operation was written; later may work.
//   postgres_statement_error   the server refused a statement (sqlstate says
//                              why); nothing of the operation was written.

#include <errand/store.hpp>

#include <string>
#include <utility>

namespace errand {

struct postgres_login_error : store_error {
  using store_error::store_error;
};

struct postgres_connection_error : store_error {
  using store_error::store_error;
};

struct postgres_statement_error : store_error {
  postgres_statement_error(const std::string& what, std::string state)
      : store_error(what), sqlstate(std::move(state)) {}
  std::string sqlstate;  // "23505" unique violation, "22P02" invalid JSON, "40001" serialization failure, ...
};

}  // namespace errand
