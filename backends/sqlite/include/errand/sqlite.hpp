#pragma once
// errand with the SQLite backend: <errand/errand.hpp> plus errand::sqlite_store.

#include <errand/errand.hpp>
#include <errand/sqlite/sqlite_store.hpp>
