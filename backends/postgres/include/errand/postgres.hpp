#pragma once
// errand with the PostgreSQL backend: <errand/errand.hpp> plus errand::postgres_store and
// errand::postgres_server_clock.

#include <errand/errand.hpp>
#include <errand/postgres/migrate.hpp>
#include <errand/postgres/postgres_store.hpp>
#include <errand/postgres/server_clock.hpp>
