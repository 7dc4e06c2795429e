// The errand command on PostgreSQL (cli_cases.hpp has the cases), against
// the throwaway server the postgres tests start.
#include "postgres_cli_fixture.hpp"

#include <tuple>

using cli_fixtures = std::tuple<postgres_cli_fixture>;
#include "cli_cases.hpp"
