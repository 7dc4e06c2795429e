#pragma once
// What the runner needs to know of an exception thrown with
// errand::throw_with_trace (<errand/stack_trace.hpp>): the stack where it was
// thrown and the type it was thrown as. Kept apart from that header so that
// the runner can read traces without every user compiling Boost.Stacktrace.

#include <string>
#include <typeinfo>

namespace errand::detail {

class traced_exception {
 public:
  virtual ~traced_exception() = default;
  // One frame a line, innermost first.
  virtual std::string stack_trace() const = 0;
  // The type given to throw_with_trace, not the wrapper that carries the trace.
  virtual const std::type_info& thrown_type() const noexcept = 0;
};

}  // namespace errand::detail
