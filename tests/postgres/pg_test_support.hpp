#pragma once
// What every PostgreSQL test needs: the server's URL, names no other test
// uses, and a plain connection for the SQL a test runs behind the store's back.
//
// The URL comes from ERRAND_TEST_PG_URL, or from the file named by
// ERRAND_TEST_PG_URL_FILE, which scripts/pg-test-server.sh writes (ctest runs
// it as the fixture setup of every postgres test). Without a server the test
// program says so loudly before any test runs and exits with 77, which ctest
// reports as skipped, never as passed; with CI=true it exits with 1 instead,
// so CI fails.

#include <errand/postgres.hpp>
#include <errand/postgres/detail/connection.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pg_test {

inline constexpr int skipped = 77;

[[noreturn]] inline void no_server(const std::string& why) {
  const std::string bar(78, '!');
  std::cerr << bar << "\n!! NO POSTGRESQL SERVER: " << why << "\n";
  if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") {
    std::cerr << "!! CI=true: the PostgreSQL tests FAIL.\n" << bar << std::endl;
    std::exit(1);
  }
  std::cerr << "!! These PostgreSQL tests are SKIPPED, not passed. Install postgresql, or set\n"
               "!! ERRAND_TEST_PG_URL, or run them through ctest (scripts/pg-test-server.sh).\n"
            << bar << std::endl;
  std::exit(skipped);
}

inline std::string read_url() {
  if (const char* url = std::getenv("ERRAND_TEST_PG_URL"); url && *url) return url;
  const char* file = std::getenv("ERRAND_TEST_PG_URL_FILE");
  if (!file || !*file) no_server("neither ERRAND_TEST_PG_URL nor ERRAND_TEST_PG_URL_FILE is set");
  std::ifstream in(file);
  std::string url;
  if (!std::getline(in, url) || url.empty()) no_server(std::string("no URL in ") + file);
  if (url.rfind("unavailable", 0) == 0) no_server(url);
  return url;
}

inline const std::string& url() {
  static const std::string value = [] {
    const std::string found = read_url();
    try {
      errand::detail::pg::connection probe(found);
    } catch (const std::exception& e) {
      no_server(std::string("cannot connect to ") + errand::detail::pg::redacted(found) + ": " + e.what());
    }
    return found;
  }();
  return value;
}

// Checked once, before Catch2 runs anything; a test that starts servers of
// its own defines ERRAND_PG_TEST_OWN_SERVER and checks each as it starts it.
#ifndef ERRAND_PG_TEST_OWN_SERVER
inline const bool server_checked = !url().empty();
#endif

// A name no other test, process or earlier run uses.
inline std::string unique_name(const std::string& stem) {
  static std::atomic<int> counter{0};
  return stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// SQL run behind the store's back, each statement on its own.
inline errand::detail::pg::rows sql(const std::string& statement) {
  errand::detail::pg::connection c(url());
  return c.autocommit([&](errand::detail::pg::transaction& tx) { return tx.exec(statement); });
}

inline void drop_schema(const std::string& schema) { sql("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE"); }

// The test server's URL with one connection setting replaced (libpq lets the
// last value of a setting win).
inline std::string with_setting(const std::string& url, const std::string& key, const std::string& value) {
  if (url.find("://") == std::string::npos) return url + " " + key + "='" + value + "'";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

// A database of its own in `encoding` (C collation), dropped with the object.
class scratch_database {
 public:
  explicit scratch_database(const std::string& encoding) : name_(unique_name("errand_db")) {
    sql("CREATE DATABASE " + name_ + " ENCODING '" + encoding + "' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
  }
  ~scratch_database() {
    try {
      sql("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "could not drop database " << name_ << ": " << e.what() << std::endl;
    }
  }
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  const std::string& name() const { return name_; }
  std::string url() const { return with_setting(pg_test::url(), "dbname", name_); }
  // The tables and sequences in it, which a refused store must not have made.
  std::string relations() const {
    errand::detail::pg::connection c(url());
    return *c.autocommit([](errand::detail::pg::transaction& tx) {
               return tx.exec("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')");
             })
                .at(0)
                .at(0);
  }

 private:
  std::string name_;
};

// Every payload announced on a channel, up to a marker sent last: PostgreSQL
// delivers notifications in commit order, so whatever a transaction rolled
// back had announced would arrive before the marker. Waits for the marker a
// minute at most, never asserting on time.
class announcements {
 public:
  explicit announcements(const std::string& channel)
      : channel_(channel), connection_(url(), {channel}, [this](const std::string&, const std::string& payload) {
          payloads_.push_back(payload);
        }) {}

  std::vector<std::string> until_marker() {
    sql("SELECT pg_notify('" + channel_ + "', 'marker')");
    for (int i = 0; i < 600 && (payloads_.empty() || payloads_.back() != "marker"); ++i)
      connection_.wait(std::chrono::milliseconds{100});
    if (payloads_.empty() || payloads_.back() != "marker")
      throw std::runtime_error("no marker on " + channel_ + " within a minute");
    payloads_.pop_back();
    return std::exchange(payloads_, {});
  }

 private:
  std::string channel_;
  std::vector<std::string> payloads_;
  errand::detail::pg::listening_connection connection_;
};

// A store in a schema of its own, dropped with the object.
class scratch_schema {
 public:
  explicit scratch_schema(const std::string& stem = "errand_test") : name_(unique_name(stem)) { drop_schema(name_); }
  ~scratch_schema() {
    try {
      drop_schema(name_);
    } catch (const std::exception& e) {
      std::cerr << "could not drop schema " << name_ << ": " << e.what() << std::endl;
    }
  }
  scratch_schema(const scratch_schema&) = delete;
  scratch_schema& operator=(const scratch_schema&) = delete;

  const std::string& name() const { return name_; }
  errand::postgres_options options() const {
    errand::postgres_options o;
    o.url = url();
    o.schema = name_;
    return o;
  }

 private:
  std::string name_;
};

}  // namespace pg_test
