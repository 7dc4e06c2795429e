#include "postgres_fixture.hpp"

#include <tuple>

using conformance_fixtures = std::tuple<postgres_schema_fixture, postgres_prefix_fixture>;
#include "bug_report_scenarios.hpp"
#include "conformance_suite.hpp"
