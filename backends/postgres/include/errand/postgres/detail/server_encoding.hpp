#pragma once
// errand writes UTF-8 (it refuses any other text at its door), and a
// database in another encoding does not keep it as written: SQL_ASCII and
// LATIN1 take UTF-8's bytes as other characters, so psql, a dashboard or any
// client asking for UTF-8 reads an error reason back garbled, and JSONB and
// the JSON functions refuse a \u escape beyond ASCII, which a payload may
// hold: a write that fails long after the store opened. Opening a store on
// such a database fails at once instead, before anything is created.

#include <errand/postgres/detail/pqxx.hpp>
#include <errand/store.hpp>

#include <string>

namespace errand::detail::pg {

inline void refuse_unless_utf8(transaction& tx) {
  const auto found = tx.exec("SELECT current_setting('server_encoding'), current_database()");
  const std::string encoding = found.at(0).at(0).value_or("");
  if (encoding == "UTF8") return;
  throw store_error("errand: database \"" + found.at(0).at(1).value_or("") + "\" has server encoding " + encoding +
                    "; errand stores UTF-8 text and needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8' "
                    "TEMPLATE template0); nothing was created or changed");
}

}  // namespace errand::detail::pg
