// The record conformance suite on the in-memory record store.
#include <errand/memory/memory_record_store.hpp>

// Nothing but this object holds its records, so its second store and its
// reopened self are the same object.
template <class D>
struct record_fixture {
  using store_type = errand::memory_record_store<D>;
  static constexpr const char* name = "memory";
  store_type& store() { return store_; }
  store_type& second_store() { return store_; }
  void reopen() {}

 private:
  store_type store_;
};

#include <errand/conformance/records.hpp>
