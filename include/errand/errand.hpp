#pragma once
// errand: work that can fail, with the reason it failed kept.
//
// The core: the machine DSL, the job lifecycle and its decision function, the
// codec, the store concept, the runner and periodic jobs. Backends come with their own
// umbrella headers: <errand/memory.hpp>, <errand/sqlite.hpp>, <errand/postgres.hpp>.

#include <errand/clock.hpp>
#include <errand/codec.hpp>
#include <errand/cron.hpp>
#include <errand/decide.hpp>
#include <errand/diagram.hpp>
#include <errand/enum_name.hpp>
#include <errand/error_text.hpp>
#include <errand/handler.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>
#include <errand/machine.hpp>
#include <errand/outcome.hpp>
#include <errand/periodic.hpp>
#include <errand/queue_settings.hpp>
#include <errand/report.hpp>
#include <errand/retry_policy.hpp>
#include <errand/runner.hpp>
#include <errand/store.hpp>
#include <errand/subscription.hpp>
#include <errand/time.hpp>
