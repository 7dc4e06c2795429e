// errand's compiled part for every test program (tests/CMakeLists.txt): the
// one source file docs/compile-time.md asks for, with every backend built.
#include <errand/src.hpp>
#ifdef ERRAND_COMPILE_MEMORY
#include <errand/memory/src.hpp>
#endif
#ifdef ERRAND_COMPILE_SQLITE
#include <errand/sqlite/src.hpp>
#endif
#ifdef ERRAND_COMPILE_POSTGRES
#include <errand/postgres/src.hpp>
#endif
