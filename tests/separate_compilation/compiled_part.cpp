// The one source file of the program that compiles errand's stores and their
// runners, as docs/compile-time.md tells users to write it.
#include <errand/memory/src.hpp>
#ifdef ERRAND_TEST_SQLITE
#include <errand/sqlite/src.hpp>
#endif
