// Resource faults on a real SQLite file: the disk fills up, another program
// holds the lock past the busy timeout, the file is corrupted. Each gives a
// clear store_error, no committed job is lost, and the store works again once
// the fault is gone.

#include "errand_catch.hpp"
#include "sqlite_cli.hpp"
#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using errand::job_state;

const errand::time_point t0 = errand::manual_clock{}.now();

errand::job_spec spec(std::string kind = "work", std::size_t payload_bytes = 0) {
  errand::job_spec s;
  s.kind = std::move(kind);
  // Appended piece by piece: GCC 12 at -O3 sees a -Wrestrict overlap in "\"" + std::string(...).
  s.payload.assign(1, '"');
  s.payload.reserve(payload_bytes + 2);
  s.payload.append(payload_bytes, 'p');
  s.payload += '"';
  return s;
}

// While it lives, no file this process writes may grow past `bytes`: a write
// beyond that fails with EFBIG, the way a full disk fails it with ENOSPC.
class file_size_limit {
 public:
  explicit file_size_limit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // report the failed write, don't kill the process
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limited);
  }
  file_size_limit(const file_size_limit&) = delete;
  file_size_limit& operator=(const file_size_limit&) = delete;
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
};

std::vector<std::int64_t> ids_in(errand::sqlite_store& store) {
  std::vector<std::int64_t> ids;
  for (const auto& row : store.query({.limit = 100000})) ids.push_back(row.id);
  return ids;
}

}  // namespace

TEST_CASE("faults: a full disk fails the write with a clear error; committed jobs stay; writes resume after",
          "[sqlite][fault]") {
  temp_database db;
  errand::sqlite_store store(db.path());
  std::vector<errand::job_spec> committed(20, spec("kept", 100));
  store.enqueue_batch(committed, t0);
  const auto before = ids_in(store);
  REQUIRE(before.size() == 20);

  std::string error;
  std::size_t accepted = 0;
  {
    file_size_limit full(std::filesystem::file_size(db.path()) + std::filesystem::file_size(db.path() + "-wal") +
                         64 * 1024);
    const std::vector<errand::job_spec> big(50, spec("big", 4000));
    for (int batch = 0; batch < 100 && error.empty(); ++batch) {
      try {
        store.enqueue_batch(big, t0);
        accepted += big.size();
      } catch (const errand::store_error& e) {
        error = e.what();
      }
    }
  }
  INFO(error);
  REQUIRE_FALSE(error.empty());
  CHECK_THAT(error, contains_text("full") || contains_text("disk I/O error"));

  // Every batch either committed whole or not at all, and the first twenty are untouched.
  const auto after = ids_in(store);
  CHECK(after.size() == before.size() + accepted);
  for (const auto id : before) CHECK(store.get(id)->kind == "kept");

  const auto resumed = store.enqueue(spec("after"), t0).id;
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(store.get(resumed)->kind == "after");
  CHECK(raw_connection(db.path()).text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("faults: a lock held past the busy timeout is a clear error; nothing is written; it works once released",
          "[sqlite][fault]") {
  temp_database db;
  errand::sqlite_options options;
  options.busy_timeout = 20ms;
  options.max_busy_retries = 2;
  errand::sqlite_store store(db.path(), options);
  const auto kept = store.enqueue(spec("kept"), t0).id;

  raw_connection other_program(db.path());
  REQUIRE(other_program.execute("BEGIN EXCLUSIVE") == SQLITE_OK);
  CHECK_THROWS_WITH(store.enqueue(spec("blocked"), t0), contains_text("locked"));
  CHECK_THROWS_AS(store.claim({"w", 30s, t0, {}}), errand::store_error);
  REQUIRE(other_program.execute("COMMIT") == SQLITE_OK);

  const auto counts = store.count_by_state();
  CHECK(counts == errand::state_counts{{job_state::pending, 1}});
  const auto claimed = store.claim({"w", 30s, t0, {}});
  REQUIRE(claimed);
  CHECK(claimed->id == kept);
  CHECK(store.enqueue(spec("after"), t0).created);
}

TEST_CASE("faults: a corrupted file is refused with a clear error naming it; the backup opens with every job",
          "[sqlite][fault]") {
  temp_database db;
  const std::string backup = db.path() + ".backup";
  {
    errand::sqlite_store store(db.path());
    store.enqueue_batch(std::vector<errand::job_spec>(200, spec("kept", 200)), t0);
  }
  std::filesystem::copy_file(db.path(), backup, std::filesystem::copy_options::overwrite_existing);
  {
    // Garbage over the first page's header and the pages after it, as a bad
    // disk or a stray write would leave it.
    std::fstream file(db.path(), std::ios::in | std::ios::out | std::ios::binary);
    const std::string garbage(8192, '\x5A');
    file.seekp(0);
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  try {
    errand::sqlite_store opened(db.path());
    FAIL("a corrupted database opened");
  } catch (const errand::store_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK_THAT(message, contains_text(db.path()));
    CHECK_THAT(message, contains_text("not a database") || contains_text("malformed"));
  }

  std::filesystem::copy_file(backup, db.path(), std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(backup);
  errand::sqlite_store restored(db.path());
  CHECK(restored.count_by_state() == errand::state_counts{{job_state::pending, 200}});
}
