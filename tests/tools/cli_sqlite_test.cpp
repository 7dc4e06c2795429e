// The errand command on SQLite files (cli_cases.hpp has the cases).
#include "sqlite_cli_fixture.hpp"

#include <tuple>

using cli_fixtures = std::tuple<sqlite_cli_fixture>;
#include "cli_cases.hpp"
