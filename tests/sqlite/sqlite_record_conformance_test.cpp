// The record conformance suite on the SQLite record store, on a database file:
// a second store is a second connection to the file, as another process opens
// it, and reopening closes the connection and opens the file again.
#include "temp_database.hpp"
#include <errand/sqlite/sqlite_record_store.hpp>

#include <optional>

template <class D>
struct record_fixture {
  using store_type = errand::sqlite_record_store<D>;
  static constexpr const char* name = "sqlite file";

  record_fixture() { store_.emplace(database_.path()); }
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

#include <errand/conformance/records.hpp>
