#pragma once
// What every PostgreSQL benchmark needs: the server (ERRAND_BENCH_PG_URL,
// which `scripts/pg-test-server.sh run --` sets), one statement run on it, and
// a schema per benchmark, dropped before and after.

#include <errand/clock.hpp>
#include <errand/postgres/detail/pqxx.hpp>
#include <errand/postgres/postgres_options.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>

namespace errand_bench {

namespace pg = errand::detail::pg;

inline const std::string& server_url() {
  static const std::string url = [] {
    const char* value = std::getenv("ERRAND_BENCH_PG_URL");
    if (!value || !*value) {
      std::cerr << "set ERRAND_BENCH_PG_URL to a PostgreSQL URL, e.g.\n"
                   "  scripts/pg-test-server.sh run -- build/<preset>/bench/<benchmark>\n";
      std::exit(2);
    }
    return std::string(value);
  }();
  return url;
}

inline pg::rows sql(const std::string& statement) {
  pg::connection c(server_url());
  return c.autocommit([&](pg::transaction& tx) { return tx.exec(statement); });
}

// Names the server's version and durability settings in the benchmark's context lines.
inline void describe_server() {
  const auto rows =
      sql("SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') ||"
          " ', synchronous_commit=' || current_setting('synchronous_commit') || ', shared_buffers=' ||"
          " current_setting('shared_buffers') || ', full_page_writes=' || current_setting('full_page_writes')");
  benchmark::AddCustomContext("postgresql", rows.at(0).at(0).value_or("?"));
}

inline errand::time_point now() { return errand::system_clock{}.now(); }

// A schema for one benchmark, dropped when it ends.
class scratch {
 public:
  explicit scratch(std::string name) : name_(std::move(name)) { drop(); }
  ~scratch() { drop(); }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;

  const std::string& name() const { return name_; }

  errand::postgres_options options() const {
    errand::postgres_options o;
    o.url = server_url();
    o.schema = name_;
    return o;
  }

 private:
  void drop() { sql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  std::string name_;
};

}  // namespace errand_bench
