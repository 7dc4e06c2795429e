// The record conformance suite on the in-memory record store.
#include "memory_fixture.hpp"
#include <errand/memory/memory_record_store.hpp>

template <class D>
struct record_fixture : one_object_fixture<errand::memory_record_store<D>> {
  static constexpr const char* name = "memory";
};

#include <errand/conformance/records.hpp>
