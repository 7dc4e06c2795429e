#pragma once
// errand with the PostgreSQL backend: <errand/errand.hpp> plus errand::postgres_store and
// errand::postgres_server_clock.

#include <errand/errand.hpp>
#include <errand/postgres/migrate.hpp>
#include <errand/postgres/postgres_store.hpp>
#include <errand/postgres/server_clock.hpp>

#if defined(ERRAND_SEPARATE_COMPILATION)
// Compiled once, in the source file that includes <errand/postgres/src.hpp>.
extern template class errand::runner<errand::postgres_store>;
#endif
