// The record conformance suite on postgres_record_store: each fixture opens
// its store in a schema of its own, dropped after; second_store() is another
// store on the same tables (another pool, another LISTEN connection), as
// another process would open; reopen() closes the store and opens it again.
#include "postgres_fixture.hpp"
#include <errand/postgres/postgres_record_store.hpp>

template <class D>
struct record_fixture : own_schema_fixture<errand::postgres_record_store<D>> {
  static constexpr const char* name = "postgres";
};

#include <errand/conformance/records.hpp>
