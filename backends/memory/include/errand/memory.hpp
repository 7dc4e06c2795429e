#pragma once
// errand with the in-memory backend: <errand/errand.hpp> plus errand::memory_store.

#include <errand/errand.hpp>
#include <errand/memory/memory_store.hpp>

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/memory/src.hpp>.
extern template class errand::runner<errand::memory_store>;
#endif
