#pragma once
// The states of the canonical job lifecycle. Their names are what databases store.

#include <boost/describe/enum.hpp>

namespace errand {

enum class job_state { pending, running, retry_pending, failed, succeeded };
BOOST_DESCRIBE_ENUM(job_state, pending, running, retry_pending, failed, succeeded)

}  // namespace errand
