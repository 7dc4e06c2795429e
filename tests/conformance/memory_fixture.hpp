#pragma once
#include <errand/memory.hpp>

// The memory store has nothing to reopen: "reopening" keeps the same object,
// which is what an application holding it across requests sees. Nothing but
// this object shares its data, so its second store is itself.
struct memory_fixture {
  using store_type = errand::memory_store;
  static constexpr const char* name = "memory";
  store_type& store() { return store_; }
  store_type& second_store() { return store_; }
  void reopen() {}

 private:
  store_type store_;
};
