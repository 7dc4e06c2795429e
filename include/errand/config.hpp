#pragma once
// How errand is compiled (docs/compile-time.md).
//
// By default errand is header-only: every translation unit that includes a
// store's header compiles that store, and every one that makes a runner<S>
// compiles the runner.
//
// With ERRAND_SEPARATE_COMPILATION defined for every translation unit of a
// program (target_compile_definitions(app PRIVATE ERRAND_SEPARATE_COMPILATION)),
// the stores' headers only declare them and the backends' umbrella headers
// declare runner<S> as instantiated elsewhere: each is compiled once, in the
// one source file that includes <errand/memory/src.hpp>,
// <errand/sqlite/src.hpp> or <errand/postgres/src.hpp>. The code is the same
// in both modes; only where it is compiled changes.

#if defined(ERRAND_SEPARATE_COMPILATION)
// Declared here, defined once in the source file that includes a src.hpp.
#define ERRAND_DECL
#else
// Defined in the header, in every translation unit that includes it.
#define ERRAND_DECL inline
#endif
