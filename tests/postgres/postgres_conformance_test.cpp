#include "postgres_fixture.hpp"

#include <tuple>

using conformance_fixtures = std::tuple<postgres_schema_fixture, postgres_prefix_fixture>;
#include "conformance_suite.hpp"
#include "seed_scenarios.hpp"
