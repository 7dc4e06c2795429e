// The record conformance suite on postgres_record_store: each fixture opens
// its store in a schema of its own, dropped after; second_store() is another
// store on the same tables (another pool, another LISTEN connection), as
// another process would open; reopen() closes the store and opens it again.
#include "pg_test_support.hpp"
#include <errand/postgres/postgres_record_store.hpp>

#include <memory>

template <class D>
struct record_fixture {
  using store_type = errand::postgres_record_store<D>;
  static constexpr const char* name = "postgres";

  store_type& store() { return *store_; }
  store_type& second_store() {
    if (!second_) second_ = std::make_unique<store_type>(schema_.options());
    return *second_;
  }
  void reopen() {
    store_.reset();
    store_ = std::make_unique<store_type>(schema_.options());
  }

 private:
  pg_test::scratch_schema schema_{"errand_records"};  // dropped after the stores closed
  std::unique_ptr<store_type> store_ = std::make_unique<store_type>(schema_.options());
  std::unique_ptr<store_type> second_;
};

#include <errand/conformance/records.hpp>
