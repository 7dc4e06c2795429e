#pragma once
// How errand's SQLite stores open their database. The defaults are what most
// applications want: WAL, synchronous=NORMAL, a 5 s busy timeout, tables
// named errand_jobs, errand_history and errand_schema_version.

#include <chrono>
#include <string>

namespace errand {

// PRAGMA synchronous. In WAL mode NORMAL never corrupts the database; a power
// loss (not a process crash) may roll back the last transactions. FULL syncs
// the WAL on every commit, so a committed transition survives power loss too,
// at the price of one fsync per transition.
enum class sqlite_synchronous { normal, full };

struct sqlite_options {
  // Prepended to every table and index name, so several applications (or
  // several errand instances) can share one file. Letters, digits and '_',
  // not starting with a digit.
  std::string table_prefix = "errand_";
  sqlite_synchronous synchronous = sqlite_synchronous::normal;
  // WAL lets readers run beside the one writer and is what makes a claim
  // cheap. Switch it off only where WAL cannot work (a network file system).
  bool write_ahead_log = true;
  // How long SQLite itself waits for another connection's lock before it
  // reports SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
  // After SQLite gave up waiting (SQLITE_BUSY or SQLITE_LOCKED), the whole
  // operation is rolled back and tried again this many times, with a short
  // growing pause in between; then store_error.
  int max_busy_retries = 8;
};

// Tag: the store uses a sqlite3* the application opened and keeps owning.
struct adopt_connection_t {
  explicit adopt_connection_t() = default;
};
inline constexpr adopt_connection_t adopt_connection{};

}  // namespace errand
