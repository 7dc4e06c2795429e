#pragma once
// The SQLite stores under the conformance suites: on a file (reopen closes the
// connection and opens the file again; a second store is a second connection
// to it) and on ":memory:" (which has nothing to reopen and no second
// connection: the data lives only as long as its connection).

#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <optional>

// Any store opened from a path (the job store, a record store) on a file of its own.
template <class Store>
struct file_fixture {
  using store_type = Store;
  static constexpr const char* name = "sqlite file";

  file_fixture() { store_.emplace(database_.path()); }
  store_type& store() { return *store_; }
  store_type& second_store() {
    if (!second_) second_.emplace(database_.path());
    return *second_;
  }
  void reopen() {
    store_.reset();
    store_.emplace(database_.path());
  }

 private:
  temp_database database_;
  std::optional<store_type> store_;
  std::optional<store_type> second_;
};

using sqlite_file_fixture = file_fixture<errand::sqlite_store>;

struct sqlite_memory_fixture {
  using store_type = errand::sqlite_store;
  static constexpr const char* name = "sqlite :memory:";

  store_type& store() { return store_; }
  store_type& second_store() { return store_; }
  void reopen() {}

 private:
  store_type store_{":memory:"};
};
