#pragma once
// The compiled part of errand's in-memory backend, for programs built with
// ERRAND_SEPARATE_COMPILATION (config.hpp, docs/compile-time.md). One source
// file of the program includes it, and the src.hpp of every other backend the
// program uses; no other file includes any. That file compiles
// memory_store and runner<memory_store>, and the core's part
// (<errand/src.hpp>); every other file only declares them.

#if !defined(ERRAND_SEPARATE_COMPILATION)
#error "<errand/memory/src.hpp> is only for programs built with ERRAND_SEPARATE_COMPILATION"
#endif

#define ERRAND_MEMORY_SOURCE
#include <errand/memory.hpp>
#include <errand/memory/memory_store.hpp>
#include <errand/src.hpp>

template class errand::detail::store_facade<errand::detail::memory::store_engine>;
template class errand::runner<errand::memory_store>;
