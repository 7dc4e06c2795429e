#pragma once
// The compiled part of errand's SQLite backend, for programs built with
// ERRAND_SEPARATE_COMPILATION (config.hpp, docs/compile-time.md). One source
// file of the program includes it, and the src.hpp of every other backend the
// program uses; no other file includes any. That file compiles
// sqlite_store and runner<sqlite_store>, and the core's part
// (<errand/src.hpp>); every other file only declares them.

#if !defined(ERRAND_SEPARATE_COMPILATION)
#error "<errand/sqlite/src.hpp> is only for programs built with ERRAND_SEPARATE_COMPILATION"
#endif

#define ERRAND_SQLITE_SOURCE
#include <errand/sqlite.hpp>
#include <errand/sqlite/sqlite_store.hpp>
#include <errand/src.hpp>

template class errand::detail::store_facade<errand::detail::sqlite::store_engine>;
template class errand::runner<errand::sqlite_store>;
