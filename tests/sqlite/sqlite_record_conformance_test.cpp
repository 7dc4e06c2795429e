// The record conformance suite on the SQLite record store, on a database file:
// a second store is a second connection to the file, as another process opens
// it, and reopening closes the connection and opens the file again.
#include "sqlite_fixture.hpp"
#include <errand/sqlite/sqlite_record_store.hpp>

template <class D>
struct record_fixture : file_fixture<errand::sqlite_record_store<D>> {};

#include <errand/conformance/records.hpp>
