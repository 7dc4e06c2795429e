#pragma once
#include <errand/memory.hpp>

// The memory stores have nothing to reopen: "reopening" keeps the same object,
// which is what an application holding it across requests sees. Nothing but
// this object shares its data, so its second store is itself. The job store's
// fixture and the record store's (memory_record_conformance_test.cpp) are this.
template <class Store>
struct one_object_fixture {
  using store_type = Store;
  store_type& store() { return store_; }
  store_type& second_store() { return store_; }
  void reopen() {}

 private:
  store_type store_;
};

struct memory_fixture : one_object_fixture<errand::memory_store> {
  static constexpr const char* name = "memory";
};
