// Opening a database errand cannot write: each reason a path fails gets a
// sentence of its own, naming the path and what is wrong with it, with no
// doubled prefix and none of the store's internal steps; nothing is created
// and nothing already there is lost. Real files and directories throughout.
//
// Permission bits do not stop root, and tests may run as root. So every open
// that permissions must refuse runs in a child process that, when it is root,
// first gives its privileges up for those of the unprivileged user 65534
// (nobody): the kernel then refuses it exactly as it refuses any user.

#include "errand_catch.hpp"
#include <errand/sqlite.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace {

namespace fs = std::filesystem;

const errand::time_point t0 = errand::manual_clock{}.now();

// A directory of the test's own, reachable by every user, removed at the end.
class scratch_directory {
 public:
  scratch_directory() {
    std::string name = (fs::temp_directory_path() / "errand-sqlite-open-XXXXXX").string();
    if (!::mkdtemp(name.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + name);
    path_ = name;
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  }
  scratch_directory(const scratch_directory&) = delete;
  scratch_directory& operator=(const scratch_directory&) = delete;
  ~scratch_directory() {
    std::error_code ignored;
    for (const auto& entry : fs::recursive_directory_iterator(path_, ignored))
      if (entry.is_directory(ignored))
        fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }

  // A subdirectory with exactly these permissions.
  fs::path directory(const std::string& name, fs::perms perms) const {
    const auto dir = path_ / name;
    fs::create_directory(dir);
    fs::permissions(dir, perms);
    return dir;
  }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

constexpr auto everyone_all = fs::perms::all;
constexpr auto everyone_read_exec = fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec;
constexpr auto everyone_read = fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;
constexpr auto everyone_read_write =
    everyone_read | fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;

// What opening a store on `path` says, as an unprivileged user: "opened", or
// the exception's message.
std::string open_unprivileged(const fs::path& path) {
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    std::string said;
    constexpr uid_t nobody = 65534;
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 || ::setuid(nobody) != 0)) {
      said = std::string("cannot give up root: ") + std::strerror(errno);
    } else {
      try {
        errand::sqlite_store store(path.string());
        said = "opened";
      } catch (const std::exception& e) {
        said = e.what();
      }
    }
    const ssize_t written = ::write(pipe_ends[1], said.data(), said.size());
    ::_exit(written == static_cast<ssize_t>(said.size()) ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  std::string said;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;)
    said.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  return said;
}

// The unprivileged user can reach the scratch directory and write where
// everyone may: without this, a refusal below could have another cause.
void require_unprivileged_user_works(const scratch_directory& scratch) {
  const auto open_dir = scratch.directory("control", everyone_all);
  REQUIRE(open_unprivileged(open_dir / "jobs.db") == "opened");
}

// A database holding one job, closed, with no journal files beside it.
void make_database(const fs::path& path, fs::perms perms) {
  { errand::sqlite_store(path.string()).enqueue({.kind = "send_invoice"}, t0); }
  for (const char* journal : {"-wal", "-shm"}) fs::remove(path.string() + journal);
  fs::permissions(path, perms);
}

std::int64_t jobs_in(const fs::path& path) {
  return errand::sqlite_store(path.string()).count_by_state().at(errand::job_state::pending);
}

void check_one_sentence(const std::string& message) {
  CHECK(message.find("errand sqlite:") == 0);
  CHECK(message.find("errand sqlite:", 1) == std::string::npos);  // no doubled prefix
  for (const char* step : {"PRAGMA", "preparing", "opening the database", "SQLite code"}) {
    INFO("internal step '" << step << "'");
    CHECK(message.find(step) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("opening: a directory that does not exist is named, and nothing is created", "[sqlite][open][bad-input]") {
  scratch_directory scratch;
  const auto missing = scratch.path() / "not-made-yet";
  const auto path = missing / "jobs.db";
  const std::string expected =
      "errand sqlite: cannot open '" + path.string() + "': directory '" + missing.string() + "' does not exist";

  try {
    errand::sqlite_store store(path.string());
    FAIL("a path in a missing directory was opened");
  } catch (const errand::store_error& e) {
    CHECK(e.what() == expected);
    check_one_sentence(e.what());
  }
  CHECK(open_unprivileged(path) == expected);
  CHECK_FALSE(fs::exists(missing));
}

TEST_CASE("opening: a directory errand may not write to is named; nothing is created, nothing lost",
          "[sqlite][open][bad-input]") {
  scratch_directory scratch;
  require_unprivileged_user_works(scratch);
  const auto locked = scratch.directory("locked", everyone_all);
  const auto existing = locked / "existing.db";
  make_database(existing, everyone_read_write);
  fs::permissions(locked, everyone_read_exec);

  // A new file there, and a writable database whose journal files SQLite could not create.
  for (const auto& path : {locked / "jobs.db", existing}) {
    INFO(path);
    const std::string said = open_unprivileged(path);
    CHECK(said == "errand sqlite: cannot open '" + path.string() + "': directory '" + locked.string() +
                      "' is not writable, and SQLite creates the database and its journal files there");
    check_one_sentence(said);
  }
  CHECK_FALSE(fs::exists(locked / "jobs.db"));
  fs::permissions(locked, everyone_all);
  CHECK(jobs_in(existing) == 1);
}

TEST_CASE("opening: a read-only database file is named, and its jobs are kept", "[sqlite][open][bad-input]") {
  scratch_directory scratch;
  require_unprivileged_user_works(scratch);
  const auto dir = scratch.directory("data", everyone_all);
  const auto path = dir / "jobs.db";
  make_database(path, everyone_read);

  const std::string said = open_unprivileged(path);
  CHECK(said == "errand sqlite: cannot open '" + path.string() +
                    "': the file is read-only, and errand writes every change to it");
  check_one_sentence(said);

  fs::permissions(path, everyone_all);
  CHECK(jobs_in(path) == 1);
}

TEST_CASE("opening: each reason has a sentence of its own", "[sqlite][open][bad-input]") {
  scratch_directory scratch;
  require_unprivileged_user_works(scratch);
  const auto missing = open_unprivileged(scratch.path() / "nowhere" / "jobs.db");
  const auto locked = open_unprivileged(scratch.directory("locked", everyone_read_exec) / "jobs.db");
  const auto data = scratch.directory("data", everyone_all);
  make_database(data / "jobs.db", everyone_read);
  const auto read_only = open_unprivileged(data / "jobs.db");

  const auto reason = [](const std::string& message) { return message.substr(message.find("': ") + 3); };
  CHECK(reason(missing) != reason(locked));
  CHECK(reason(locked) != reason(read_only));
  CHECK(reason(read_only) != reason(missing));
}
