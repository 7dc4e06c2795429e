// The errand command on PostgreSQL: the schema is read on a connection of
// its own before a store opens the tables (without migrating them), and
// transitions other processes commit arrive through the store's LISTEN.

#include "backends.hpp"
#include "database.hpp"
#include "store_database.hpp"
#include <errand/postgres.hpp>

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace errand_tool {

namespace {

errand::postgres_options store_options(const database_options& options) {
  errand::postgres_options o;
  o.url = options.location;
  o.schema = options.schema;
  o.table_prefix = options.table_prefix;
  o.migrate = false;
  o.max_connections = 4;
  return o;
}

std::string named(const database_options& options) {
  return "PostgreSQL database '" + errand::detail::pg::redacted(options.location) + "'";
}

// The store's subscription: resetting it, when this is destroyed, waits for a
// notification being delivered on the store's LISTEN thread, and none is
// delivered after.
class subscribed final : public following {
 public:
  subscribed(errand::postgres_store& store, errand::listener on_transition)
      : subscription_(store.subscribe(std::move(on_transition))) {}

 private:
  errand::subscription subscription_;
};

class postgres_database final : public store_database<errand::postgres_store> {
 public:
  explicit postgres_database(const database_options& options)
      : store_database(named(options), store_options(options)) {}

  std::unique_ptr<following> follow(errand::listener on_transition) override {
    return std::make_unique<subscribed>(store(), std::move(on_transition));
  }
};

}  // namespace

schema_state inspect_postgres_schema(const database_options& options) {
  const auto tables = errand::postgres_tables_for(options.schema, options.table_prefix);
  schema_state schema;
  schema.database = named(options);
  schema.jobs_table = tables.jobs;
  schema.known = errand::postgres_schema_version;
  using errand::detail::pg::sql_literal;
  try {
    errand::detail::pg::connection c(options.location);
    c.autocommit([&](errand::detail::pg::transaction& tx) {
      schema.has_jobs_table =
          tx.exec("SELECT to_regclass(" + sql_literal(tables.jobs) + ") IS NOT NULL").at(0).at(0) == "t";
      std::map<int, std::string> applied;
      if (tx.exec("SELECT to_regclass(" + sql_literal(tables.schema_version) + ") IS NOT NULL").at(0).at(0) == "t")
        for (const auto& row : tx.exec("SELECT version, to_char(applied_at AT TIME ZONE 'UTC', "
                                       "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM " +
                                       tables.schema_version + " ORDER BY version"))
          applied[std::stoi(row.at(0).value_or("0"))] = row.at(1).value_or("");
      schema.found = applied.empty() ? 0 : applied.rbegin()->first;
      schema.steps = steps_of(errand::postgres_migrations(tables), applied);
      for (const auto& row : tx.exec("SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON "
                                     "n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relname LIKE "
                                     "'%schema_version' ORDER BY 1, 2")) {
        const auto name = row.at(1).value_or("");
        const auto prefix = name.substr(0, name.size() - 14);
        if (row.at(0) != tables.schema || prefix != tables.prefix)
          schema.elsewhere.push_back("--schema " + row.at(0).value_or("") + " --prefix " +
                                     (prefix.empty() ? "''" : prefix));
      }
    });
  } catch (const errand::store_error& e) {
    throw tool_error(unusable_database, "cannot use " + named(options) + ": " + e.what());
  }
  return schema;
}

void migrate_postgres_tables(const database_options& options) {
  auto o = store_options(options);
  o.migrate = true;
  errand::postgres_migrate(o);
}

std::unique_ptr<database> open_postgres_database(const database_options& options) {
  require_current(inspect_postgres_schema(options));
  try {
    return std::make_unique<postgres_database>(options);
  } catch (const errand::store_error& e) {
    throw tool_error(unusable_database, "cannot use " + named(options) + ": " + e.what());
  }
}

}  // namespace errand_tool
