#include "memory_fixture.hpp"

#include <tuple>

using conformance_fixtures = std::tuple<memory_fixture>;
#include "conformance_suite.hpp"
#include "seed_scenarios.hpp"
