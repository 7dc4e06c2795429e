#include "sqlite_fixture.hpp"

#include <tuple>

using conformance_fixtures = std::tuple<sqlite_file_fixture, sqlite_memory_fixture>;
#include "bug_report_scenarios.hpp"
#include "conformance_suite.hpp"
