#pragma once
// Every libpqxx call errand makes, and nothing else: the rest of the backend
// sees text cells, errand's own exceptions and no libpqxx type.
//
// Debian 12 ships libpqxx 6.4; Conan and vcpkg ship 8.x. Most of what errand
// needs is spelled the same in both (pqxx::connection, pqxx::work,
// pqxx::nontransaction, connection::prepare, transaction_base::exec for plain
// SQL, result/row iteration, field::is_null, field::as<std::string>, the
// exception classes, await_notification). Two things diverge, and both are
// chosen here by version:
//
//   libpqxx        statement with N parameters                        LISTEN
//   6.x, 7.0-7.9   tx.exec_prepared(name, make_dynamic_params())      notification_receiver
//                  tx.exec_params(sql, make_dynamic_params())
//   7.10, 8.x      tx.exec(pqxx::prepped{name}, pqxx::params)         connection::listen(channel, handler)
//                  tx.exec(sql, pqxx::params)
//
// 7.10 deprecated the left column and 8.0 removed dynamic_params, so the
// right column is used wherever it exists.
//
// An application's own transaction (postgres_store::enqueue and the record
// store's create/fire overloads that take a pqxx::transaction_base&) is used
// through a pqxx::subtransaction, a SAVEPOINT, so a statement errand's write
// has refused leaves the application's transaction usable; errand's prepared
// statements exist only on its own connections, so there the same SQL is sent
// as a parameterised statement.
//
// Exceptions are translated by what the caller can do about them:
// transaction_rollback (serialization_failure, deadlock_detected) is caught
// before sql_error, because the transaction can simply be run again; a broken
// connection or an in-doubt commit means the connection must be dropped.

#include <errand/detail/text.hpp>
#include <errand/postgres/postgres_errors.hpp>
#include <errand/store.hpp>

#include <pqxx/pqxx>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 10)
#define ERRAND_PQXX_HAS_PARAMS_AND_LISTEN 1
#else
#define ERRAND_PQXX_HAS_PARAMS_AND_LISTEN 0
#endif

namespace errand::detail::pg {

// A statement parameter or a result cell as text; nullopt is SQL NULL.
using cell = std::optional<std::string>;
using row = std::vector<cell>;
using rows = std::vector<row>;

// The connection is gone (or a commit's outcome is unknown): nothing of the
// failed transaction was written, and the connection must not be reused.
using connection_lost = postgres_connection_error;

// The server refused a statement; `sqlstate` says why.
using statement_failed = postgres_statement_error;

// The server rolled the transaction back to resolve a conflict (deadlock,
// serialization failure); running it again is safe. The store runs it again,
// and throws a plain postgres_statement_error when it gives up.
struct transaction_aborted : postgres_statement_error {
  using postgres_statement_error::postgres_statement_error;
};

// libpq could not open a connection: `server_says` is its message, and
// `for_good` whether trying again could change anything.
struct connect_failure : store_error {
  connect_failure(std::string says, bool permanent)
      : store_error(concat("errand: cannot connect to PostgreSQL: ", says)),
        server_says(std::move(says)),
        for_good(permanent) {}
  std::string server_says;
  bool for_good;
};

// Whether a failed connection attempt will fail again whatever the timing.
// libpq gives no SQLSTATE for it, only its message: a server that answered
// reports "FATAL:" (an unknown role, a wrong password, a missing database, no
// pg_hba.conf entry: all for good, but for a server starting up, shutting
// down, recovering or full); a connection string libpq cannot parse, or one
// without the password the server asks for, fails before the server decides.
// Everything else (refused, timed out, no such host) is worth another try. A
// server whose messages are translated (lc_messages) may not say "FATAL:";
// its refusals are then tried again, and still fail with its reason.
inline bool fails_for_good(std::string_view libpq_message) {
  for (const std::string_view client_side :
       {"no password supplied", "invalid connection option", "missing \"=\" after", "invalid URI",
        "unterminated quoted string", "invalid integer value", "invalid sslmode value", "invalid port number"})
    if (libpq_message.find(client_side) != std::string_view::npos) return true;
  if (libpq_message.find("FATAL:") == std::string_view::npos) return false;
  for (const std::string_view not_now :
       {"the database system is starting up", "the database system is shutting down",
        "the database system is in recovery mode", "the database system is not yet accepting connections",
        "the database system is not accepting connections", "sorry, too many clients already",
        "remaining connection slots are reserved"})
    if (libpq_message.find(not_now) != std::string_view::npos) return false;
  return true;
}

inline std::unique_ptr<pqxx::connection> open_pqxx_connection(const std::string& url) {
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const std::exception& e) {
    std::string says = e.what();
    while (!says.empty() && (says.back() == '\n' || says.back() == ' ')) says.pop_back();
    const bool permanent = fails_for_good(says);
    throw connect_failure(std::move(says), permanent);
  }
}

namespace pqxx_calls {

inline rows to_rows(const pqxx::result& result) {
  rows out;
  out.reserve(static_cast<std::size_t>(result.size()));
  for (const auto& r : result) {
    row cells;
    cells.reserve(static_cast<std::size_t>(r.size()));
    for (const auto& field : r) {
      if (field.is_null())
        cells.emplace_back();
      else
        cells.emplace_back(field.template as<std::string>());
    }
    out.push_back(std::move(cells));
  }
  return out;
}

// Runs `call`, turning libpqxx's exceptions into errand's. `open` tells
// whether the connection survived an error that is not a broken connection
// (libpqxx 8 no longer derives every connection-poisoning error from
// broken_connection).
template <class Connection, class Call>
decltype(auto) translated(const Connection& connection, Call&& call) {
  try {
    return std::forward<Call>(call)();
  } catch (const pqxx::serialization_failure& e) {
    // Named by SQLSTATE class 40 here: libpqxx 6 gives these no sqlstate().
    throw transaction_aborted(std::string("errand: PostgreSQL serialization failure, nothing written: ") + e.what(),
                              "40001");
  } catch (const pqxx::deadlock_detected& e) {
    throw transaction_aborted(std::string("errand: PostgreSQL deadlock, nothing written: ") + e.what(), "40P01");
  } catch (const pqxx::transaction_rollback& e) {
    throw transaction_aborted(
        std::string("errand: PostgreSQL rolled the transaction back, nothing written: ") + e.what(), "40000");
  } catch (const pqxx::broken_connection& e) {
    throw connection_lost(std::string("errand: PostgreSQL connection lost, nothing written: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw connection_lost(std::string("errand: PostgreSQL connection lost during commit: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    if (!connection.is_open())
      throw connection_lost(std::string("errand: PostgreSQL connection lost, nothing written: ") + e.what());
    throw statement_failed(std::string("errand: PostgreSQL refused a statement: ") + e.what(),
                           std::string(e.sqlstate()));
  } catch (const pqxx::failure& e) {
    if (!connection.is_open())
      throw connection_lost(std::string("errand: PostgreSQL connection lost, nothing written: ") + e.what());
    throw store_error(std::string("errand: PostgreSQL client error: ") + e.what());
  }
}

}  // namespace pqxx_calls

// What a transaction runs on: pqxx::connection_base in libpqxx 6, pqxx::connection later.
using connection_of_transaction = std::remove_reference_t<decltype(std::declval<pqxx::transaction_base&>().conn())>;

// One of errand's statements: prepared under `name` on errand's own
// connections, sent as `sql` with parameters on an application's.
struct statement {
  std::string name;
  std::string sql;
};

// One open transaction (or, for a single statement, autocommit).
class transaction {
 public:
  // Plain SQL without parameters (DDL, locks, statements built from
  // validated identifiers).
  rows exec(const std::string& sql) {
    return pqxx_calls::translated(connection_, [&] { return pqxx_calls::to_rows(tx_.exec(sql)); });
  }

  // A statement prepared on this connection with connection::prepare.
  rows exec_prepared(const std::string& name, std::span<const cell> params) {
    return pqxx_calls::translated(connection_, [&] {
      const parameters values(params);
#if ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
      return pqxx_calls::to_rows(tx_.exec(pqxx::prepped{name}, values.list));
#else
      return pqxx_calls::to_rows(tx_.exec_prepared(name, pqxx::prepare::make_dynamic_params(values.list)));
#endif
    });
  }

  // SQL with $1, $2, ... parameters, not prepared: for statements whose text
  // varies, and on an application's connection, where errand prepared nothing.
  rows exec_params(const std::string& sql, std::span<const cell> params) {
    return pqxx_calls::translated(connection_, [&] {
      const parameters values(params);
#if ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
      return pqxx_calls::to_rows(tx_.exec(sql, values.list));
#else
      return pqxx_calls::to_rows(tx_.exec_params(sql, pqxx::prepare::make_dynamic_params(values.list)));
#endif
    });
  }

  // A statement of errand's: prepared under `name` on errand's own
  // connections, sent as parameterised SQL on an application's.
  rows exec_statement(const std::string& name, const std::string& sql, std::span<const cell> params) {
    return prepared_ ? exec_prepared(name, params) : exec_params(sql, params);
  }

  void commit() {
    pqxx_calls::translated(connection_, [&] { tx_.commit(); });
  }

 private:
  friend class connection;
  template <class Body>
  friend decltype(auto) in_application_transaction(pqxx::transaction_base& application, Body&& body);

  // The parameters as libpqxx takes them; nullopt is NULL.
  struct parameters {
    explicit parameters(std::span<const cell> params) {
      list.reserve(params.size());
      for (const auto& p : params) {
#if ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
        if (p)
          list.append(*p);
        else
          list.append();
#else
        list.push_back(p ? p->c_str() : nullptr);
#endif
      }
    }
#if ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
    pqxx::params list;
#else
    std::vector<const char*> list;
#endif
  };

  transaction(const connection_of_transaction& connection, pqxx::transaction_base& tx, bool prepared)
      : connection_(connection), tx_(tx), prepared_(prepared) {}
  const connection_of_transaction& connection_;
  pqxx::transaction_base& tx_;
  bool prepared_;
};

#if PQXX_VERSION_MAJOR < 7
// libpqxx 6 sends a subtransaction's SAVEPOINT before its first exec() only:
// exec_params() and exec_prepared() would run outside it, in the enclosing
// transaction, and a refused statement would abort that. This one sends the
// SAVEPOINT at once, as libpqxx 7 and later do.
class savepoint : public pqxx::subtransaction {
 public:
  savepoint(pqxx::dbtransaction& enclosing, const std::string& name)
      : pqxx::internal::namedclass("subtransaction", enclosing.conn().adorn_name(name)),
        pqxx::subtransaction(enclosing, name) {
    Begin();
  }
};
#else
using savepoint = pqxx::subtransaction;
#endif

// Runs body(transaction&) inside the application's transaction, in a
// SAVEPOINT released when body returns: the writes commit or roll back with
// the application's, and an exception rolls back to the savepoint, leaving
// the application's transaction as it was and usable. A pqxx::nontransaction
// has no transaction to join, and is refused.
template <class Body>
decltype(auto) in_application_transaction(pqxx::transaction_base& application, Body&& body) {
  auto* enclosing = dynamic_cast<pqxx::dbtransaction*>(&application);
  if (!enclosing)
    throw std::invalid_argument(
        "errand: an application transaction must be a pqxx::work (or another pqxx::dbtransaction); a "
        "pqxx::nontransaction commits each statement on its own; nothing was written");
  return pqxx_calls::translated(application.conn(), [&]() -> decltype(auto) {
    savepoint errands(*enclosing, "errand");
    transaction view(application.conn(), errands, false);
    if constexpr (std::is_void_v<std::invoke_result_t<Body, transaction&>>) {
      body(view);
      errands.commit();
    } else {
      auto result = body(view);
      errands.commit();
      return result;
    }
  });
}

// One connection to the server. Not thread-safe: one thread uses it at a time.
class connection {
 public:
  // Throws connect_failure.
  explicit connection(const std::string& url) : connection_(open_pqxx_connection(url)) {}

  void prepare(const std::string& name, const std::string& sql) {
    pqxx_calls::translated(*connection_, [&] { connection_->prepare(name, sql); });
  }

  bool is_open() const noexcept { return connection_->is_open(); }
  int backend_pid() const noexcept { return connection_->backendpid(); }

  // Runs body(transaction&) in one transaction and commits it; an exception
  // leaves nothing written.
  template <class Body>
  decltype(auto) in_transaction(Body&& body) {
    return pqxx_calls::translated(*connection_, [&]() -> decltype(auto) {
      pqxx::work tx(*connection_);
      transaction view(*connection_, tx, true);
      if constexpr (std::is_void_v<std::invoke_result_t<Body, transaction&>>) {
        body(view);
        tx.commit();
      } else {
        auto result = body(view);
        tx.commit();
        return result;
      }
    });
  }

  // Runs body(transaction&) without BEGIN/COMMIT: each statement commits on
  // its own, which is all a single statement needs.
  template <class Body>
  decltype(auto) autocommit(Body&& body) {
    return pqxx_calls::translated(*connection_, [&]() -> decltype(auto) {
      pqxx::nontransaction tx(*connection_);
      transaction view(*connection_, tx, true);
      return body(view);
    });
  }

 private:
  std::unique_ptr<pqxx::connection> connection_;
};

// A connection that LISTENs on some channels and hands each notification's
// channel and payload to a callback.
class listening_connection {
 public:
  using handler = std::function<void(const std::string& channel, const std::string& payload)>;

  listening_connection(const std::string& url, const std::vector<std::string>& channels, handler on_notification)
      : connection_(url), on_notification_(std::move(on_notification)) {
    pqxx_calls::translated(raw(), [&] {
      for (const auto& channel : channels) {
#if ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
        raw().listen(channel, [this](pqxx::notification n) {
          on_notification_(std::string(n.channel), std::string(n.payload));
        });
#else
        receivers_.push_back(std::make_unique<receiver>(raw(), channel, on_notification_));
#endif
      }
    });
  }

  // Waits until notifications arrive or `timeout` passes, and delivers them.
  void wait(std::chrono::milliseconds timeout) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout - seconds);
    pqxx_calls::translated(raw(), [&] { raw().await_notification(seconds.count(), micros.count()); });
    if (!raw().is_open()) throw connection_lost("errand: PostgreSQL LISTEN connection lost");
  }

  int backend_pid() const noexcept { return connection_.backend_pid(); }

 private:
  pqxx::connection& raw() { return *connection_.connection_; }

#if !ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
  class receiver : public pqxx::notification_receiver {
   public:
    receiver(pqxx::connection& c, const std::string& channel, const handler& on_notification)
        : pqxx::notification_receiver(c, channel), on_notification_(on_notification) {}
    void operator()(const std::string& payload, int) override { on_notification_(channel(), payload); }

   private:
    const handler& on_notification_;
  };
#endif

  struct owned_connection {
    explicit owned_connection(const std::string& url) : connection_(open_pqxx_connection(url)) {}
    int backend_pid() const noexcept { return connection_->backendpid(); }
    std::unique_ptr<pqxx::connection> connection_;
  };

  owned_connection connection_;
  handler on_notification_;
#if !ERRAND_PQXX_HAS_PARAMS_AND_LISTEN
  std::vector<std::unique_ptr<receiver>> receivers_;  // destroyed before the connection
#endif
};

}  // namespace errand::detail::pg
