#pragma once
// errand with the SQLite backend: <errand/errand.hpp> plus errand::sqlite_store.

#include <errand/errand.hpp>
#include <errand/sqlite/sqlite_store.hpp>

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/sqlite/src.hpp>.
extern template class errand::runner<errand::sqlite_store>;
#endif
