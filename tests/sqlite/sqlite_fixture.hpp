#pragma once
// The SQLite store under the conformance suite: on a file (reopen closes the
// connection and opens the file again; a second store is a second connection
// to it) and on ":memory:" (which has nothing to reopen and no second
// connection: the data lives only as long as its connection).

#include "temp_database.hpp"
#include <errand/sqlite.hpp>

#include <optional>

struct sqlite_file_fixture {
  using store_type = errand::sqlite_store;
  static constexpr const char* name = "sqlite file";

  sqlite_file_fixture() { store_.emplace(database_.path()); }
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

struct sqlite_memory_fixture {
  using store_type = errand::sqlite_store;
  static constexpr const char* name = "sqlite :memory:";

  store_type& store() { return store_; }
  store_type& second_store() { return store_; }
  void reopen() {}

 private:
  store_type store_{":memory:"};
};
