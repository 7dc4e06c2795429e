#pragma once
// Stack traces for handler failures, through Boost.Stacktrace (header-only).
// Opt-in: capturing a trace walks the stack, and printing it resolves symbols,
// so nothing here runs unless a handler asks for it.
//
//   errand::throw_with_trace(std::runtime_error("upstream closed the stream"));
//   return errand::failure{.message = "quota exceeded", .trace = errand::current_stack_trace()};
//
// An exception thrown with throw_with_trace is caught as its own type as
// usual; when it leaves a handler, the runner records its stack in the
// failure's `trace` (and so in the history), next to its type and message.
// C++ gives no portable way to read the stack of an exception thrown without
// it, so such an exception is recorded without a trace.
//
// A frame shows a function name where the platform can name it: on Linux,
// functions the executable exports (link with -rdynamic) and those of shared
// libraries; others show as addresses, which `addr2line -e <program>` turns
// into names and lines. Define BOOST_STACKTRACE_USE_ADDR2LINE (or
// BOOST_STACKTRACE_USE_BACKTRACE, with libbacktrace) before including this
// header for file names and lines in the trace itself, at a higher cost per
// trace. Where the platform gives no stack at all, current_stack_trace()
// returns nullopt and the failure has no trace.

#include <errand/detail/traced_exception.hpp>

#include <boost/stacktrace.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace errand {

// The calling thread's stack, innermost frame first, one frame a line,
// leaving out `skip` frames besides this function's own.
inline std::optional<std::string> current_stack_trace(std::size_t skip = 0) {
  const boost::stacktrace::stacktrace frames(skip + 1, static_cast<std::size_t>(-1));
  if (frames.empty()) return std::nullopt;
  return boost::stacktrace::to_string(frames);
}

namespace detail {

template <class Exception>
class with_trace final : public Exception, public traced_exception {
 public:
  with_trace(Exception&& thrown, boost::stacktrace::stacktrace frames)
      : Exception(std::move(thrown)), frames_(std::move(frames)) {}

  std::string stack_trace() const override { return boost::stacktrace::to_string(frames_); }
  const std::type_info& thrown_type() const noexcept override { return typeid(Exception); }

 private:
  boost::stacktrace::stacktrace frames_;
};

}  // namespace detail

// Throws `thrown` (caught as its own type, as `throw thrown;` would be) with
// the stack of the caller, which the runner records as the failure's trace.
template <class Exception>
[[noreturn]] void throw_with_trace(Exception thrown) {
  static_assert(std::is_class_v<Exception> && !std::is_final_v<Exception>,
                "errand: throw_with_trace needs a class type it can derive from (not final, not an int)");
  throw detail::with_trace<Exception>(std::move(thrown),
                                      boost::stacktrace::stacktrace(1, static_cast<std::size_t>(-1)));
}

}  // namespace errand
