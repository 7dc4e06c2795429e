// Connection settings the server refuses for good (an unknown role, a wrong
// or missing password, a database that does not exist) fail at once, with
// the server's reason, as errand::postgres_login_error (a server that does not
// answer is tried options.connect_attempts times: postgres_store_test).
// Against the real throwaway server, whose pg_hba.conf asks members of
// errand_password_login for a password (scripts/pg-test-server.sh).
//
// A retried refusal would sleep reconnect_backoff (an hour here) before its
// second try, so a regression hangs until ctest's timeout fails it.
#include "errand_catch.hpp"
#include "pg_test_support.hpp"

#include <string>
#include <typeinfo>

namespace {

using namespace std::chrono_literals;

using pg_test::with_setting;

errand::postgres_options refused_retries(std::string url) {
  errand::postgres_options options;
  options.url = std::move(url);
  options.connect_attempts = 5;
  options.reconnect_backoff = 1h;
  return options;
}

// What opening a store says, as the exception a user catches.
template <class Expected>
std::string refusal_of(const errand::postgres_options& options) {
  try {
    errand::postgres_store store(options);
  } catch (const errand::store_error& e) {
    INFO(e.what());
    CHECK(typeid(e) == typeid(Expected));
    CHECK(std::string(typeid(e).name()).find("detail") == std::string::npos);
    return e.what();
  }
  FAIL("the store opened");
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A role that must log in with a password, dropped with the object.
class password_role {
 public:
  explicit password_role(const std::string& password) : name_(pg_test::unique_name("login")) {
    REQUIRE_FALSE(pg_test::sql("SELECT 1 FROM pg_roles WHERE rolname = 'errand_password_login'").empty());
    pg_test::sql("CREATE ROLE " + name_ + " LOGIN PASSWORD '" + password + "' IN ROLE errand_password_login");
  }
  ~password_role() { pg_test::sql("DROP ROLE IF EXISTS " + name_); }
  password_role(const password_role&) = delete;
  password_role& operator=(const password_role&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace

TEST_CASE("login: a role the server does not know fails at once, with the server's reason", "[postgres][login]") {
  const auto role = pg_test::unique_name("nobody_here");
  const auto said =
      refusal_of<errand::postgres_login_error>(refused_retries(with_setting(pg_test::url(), "user", role)));
  CHECK(contains(said, "refused the connection (trying again will not help)"));
  CHECK(contains(said, "role \"" + role + "\" does not exist"));
  CHECK_FALSE(contains(said, "attempts"));
}

TEST_CASE("login: a wrong password, or none, fails at once, and the password is not shown", "[postgres][login]") {
  password_role role("right-password");
  const auto as_role = with_setting(pg_test::url(), "user", role.name());

  const auto wrong =
      refusal_of<errand::postgres_login_error>(refused_retries(with_setting(as_role, "password", "wrong-password")));
  CHECK(contains(wrong, "password authentication failed for user \"" + role.name() + "\""));
  CHECK_FALSE(contains(wrong, "wrong-password"));

  const auto none = refusal_of<errand::postgres_login_error>(refused_retries(as_role));
  CHECK(contains(none, "no password supplied"));

  // The control: the right password gets in.
  CHECK_NOTHROW(errand::detail::pg::connection(with_setting(as_role, "password", "right-password")));
}

TEST_CASE("login: a database that does not exist fails at once, with the server's reason", "[postgres][login]") {
  const auto database = pg_test::unique_name("no_such_db");
  const auto said =
      refusal_of<errand::postgres_login_error>(refused_retries(with_setting(pg_test::url(), "dbname", database)));
  CHECK(contains(said, "database \"" + database + "\" does not exist"));
}
