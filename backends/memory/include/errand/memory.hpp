#pragma once
// errand with the in-memory backend: <errand/errand.hpp> plus errand::memory_store.

#include <errand/errand.hpp>
#include <errand/memory/memory_store.hpp>
