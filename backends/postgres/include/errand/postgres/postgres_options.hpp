#pragma once
// How errand::postgres_store reaches its server and names its tables. The
// defaults are what most applications want: tables errand_jobs,
// errand_history and errand_schema_version in the public schema, migrated
// when the store opens, transitions announced with NOTIFY.

#include <chrono>
#include <cstddef>
#include <string>

namespace errand {

struct postgres_options {
  // A libpq connection string: "postgresql://user:secret@db.example:5432/app"
  // or "host=db.example dbname=app user=worker". Empty: libpq's defaults and
  // PG* environment variables. Add application_name=... to tell workers
  // apart in pg_stat_activity.
  std::string url;

  // The schema holding errand's tables; created when missing. Lower-case
  // letters, digits and '_', not starting with a digit.
  std::string schema = "public";

  // Prepended to every table, index and constraint name, so several errand
  // instances can share one schema. Same characters as the schema.
  std::string table_prefix = "errand_";

  // Apply the migrations this version knows when the store opens (under an
  // advisory lock, so processes starting together migrate once). Switch off
  // where a deployment step migrates: the store then only checks the version.
  bool migrate = true;

  // Connections the store opens at most; a thread that finds them all busy
  // waits for one. Each worker thread holds one for the length of a call.
  std::size_t max_connections = 8;

  // Opening a connection that fails is tried this many times, the pause
  // doubling from reconnect_backoff, before the operation fails with
  // store_error. A connection that breaks mid-operation fails that operation
  // (nothing partial is written) and is replaced by the next operation.
  int connect_attempts = 3;
  std::chrono::milliseconds reconnect_backoff{100};

  // Announce every committed transition and enqueue with pg_notify, so
  // subscribers and idle workers in other processes hear of it. Costs a
  // little per transition; a deployment with a single process may turn it off.
  bool notify = true;

  // With notify, whether the job queue announces every transition, or only
  // enqueues, the transitions that make a job claimable (a retry, a requeue,
  // a release: all idle workers need) and those that record an error (a
  // failure: what operators watch for). PostgreSQL commits transactions that
  // notify one at a time, so without the claims' and successes'
  // announcements many workers' small transactions share their disk
  // flushes; subscribers in other processes (errand tail, the dashboard's
  // live feed) then hear only the announced transitions, while those in this
  // process hear every commit either way. Record stores announce every
  // transition.
  bool announce_every_transition = true;
};

}  // namespace errand
