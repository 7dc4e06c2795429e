#pragma once
// The compiled part of errand's PostgreSQL backend, for programs built with
// ERRAND_SEPARATE_COMPILATION (config.hpp, docs/compile-time.md). One source
// file of the program includes it, and the src.hpp of every other backend the
// program uses; no other file includes any. That file compiles
// postgres_store, postgres_migrate() and runner<postgres_store>, and the core's part
// (<errand/src.hpp>); every other file only declares them.

#if !defined(ERRAND_SEPARATE_COMPILATION)
#error "<errand/postgres/src.hpp> is only for programs built with ERRAND_SEPARATE_COMPILATION"
#endif

#define ERRAND_POSTGRES_SOURCE
#include <errand/postgres.hpp>
#include <errand/postgres/migrate.hpp>
#include <errand/postgres/postgres_store.hpp>
#include <errand/src.hpp>

template class errand::detail::store_facade<errand::detail::pg::store_engine>;
template class errand::runner<errand::postgres_store>;
