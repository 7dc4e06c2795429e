#include "memory_fixture.hpp"

#include <tuple>

using conformance_fixtures = std::tuple<memory_fixture>;
#include "bug_report_scenarios.hpp"
#include "conformance_suite.hpp"
