// The one source file of the program that compiles errand's PostgreSQL store
// and its runner, as docs/compile-time.md tells users to write it.
#include <errand/postgres/src.hpp>
