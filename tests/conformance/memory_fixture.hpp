#pragma once
#include <errand/memory.hpp>

// The memory store has nothing to reopen: "reopening" keeps the same object,
// which is what an application holding it across requests sees.
struct memory_fixture {
  using store_type = errand::memory_store;
  static constexpr const char* name = "memory";
  store_type& store() { return store_; }
  void reopen() {}

 private:
  store_type store_;
};
