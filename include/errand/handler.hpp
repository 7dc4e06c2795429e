#pragma once
// What a job handler sees and what it answers. A handler is registered with a
// runner per job kind; it receives the job's payload (decoded by the codec, or
// as raw JSON) and a job_context, and it ends the attempt in one of three ways:
//
//   return normally          the attempt succeeded; a returned string is the
//                            success detail ("succeeded, but posted nothing")
//   return a failure         the attempt failed with that reason
//   throw job_failure{...}   the same, from deep inside the handler
//
// Anything else it throws (a std::exception, an int, a type of its own) is
// still a failure, of kind `exception`, carrying the exception's type and
// text ("std::runtime_error: disk full"): no handler can leave a job running
// forever (contract 4 of docs/concepts.md). An exception thrown with
// errand::throw_with_trace (<errand/stack_trace.hpp>) also brings the stack it
// was thrown from, recorded as the failure's trace.

#include <errand/codec.hpp>
#include <errand/detail/text.hpp>
#include <errand/detail/traced_exception.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>

#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif

namespace errand {

namespace error_kind {
inline constexpr std::string_view bad_payload = "bad_payload";  // the payload does not decode as the handler's type
inline constexpr std::string_view no_handler = "no_handler";    // no handler is registered for the job's kind
}  // namespace error_kind

// Thrown by a handler to fail its attempt with exactly this failure (for
// instance a non-retryable one: `throw job_failure{{"bad YAML", "invalid_input", false}}`).
struct job_failure : std::runtime_error {
  explicit job_failure(failure f) : std::runtime_error(f.message), error(std::move(f)) {}
  failure error;
};

// How an attempt ended, as a handler returns it.
struct job_result {
  job_result() = default;  // success without a detail
  job_result(std::nullopt_t) {}
  job_result(std::optional<std::string> success_detail) : detail(std::move(success_detail)) {}
  job_result(std::string success_detail) : detail(std::move(success_detail)) {}
  job_result(const char* success_detail) : detail(std::string(success_detail)) {}
  job_result(failure f) : error(std::move(f)) {}

  bool succeeded() const noexcept { return !error.has_value(); }

  std::optional<failure> error;       // set: the attempt failed
  std::optional<std::string> detail;  // the success detail, when it succeeded
};

// What a handler knows about the attempt it runs. The runner makes one per
// attempt; a unit test of a handler may make its own.
class job_context {
 public:
  job_context(const job& row, std::string worker, time_point deadline, std::stop_token stop,
              std::function<bool()> extend_lease = {})
      : row_(&row),
        worker_(std::move(worker)),
        deadline_(deadline),
        stop_(std::move(stop)),
        extend_lease_(std::move(extend_lease)) {}

  // The job as it was claimed for this attempt.
  const job& row() const noexcept { return *row_; }
  std::int64_t job_id() const noexcept { return row_->id; }
  std::int32_t attempt() const noexcept { return row_->attempt; }
  const std::string& worker() const noexcept { return worker_; }

  // When the runner gives up on the attempt and records a timeout.
  time_point deadline() const noexcept { return deadline_; }

  // Requested when the deadline passes, when the runner shuts down, or when the
  // job's lease was lost to the reaper. A handler that checks it and returns
  // early should return (or throw) a failure: a normal return is a success.
  std::stop_token stop_token() const noexcept { return stop_; }
  bool stop_requested() const noexcept { return stop_.stop_requested(); }

  // Extends the job's lease now, on top of the runner's periodic heartbeat;
  // for a handler about to block for longer than a lease. False when the job
  // is no longer this attempt's (reaped, timed out, released at shutdown).
  bool heartbeat() const { return extend_lease_ ? extend_lease_() : !stop_requested(); }

 private:
  const job* row_;
  std::string worker_;
  time_point deadline_;
  std::stop_token stop_;
  std::function<bool()> extend_lease_;
};

// Per-kind settings; what is not set comes from the runner's options.
struct handler_options {
  std::optional<duration> deadline{};  // how long one attempt may run
};

namespace detail {

// A type's name as written in C++ ("std::runtime_error"), demangled where the ABI allows.
inline std::string type_name(const std::type_info& type) {
#if __has_include(<cxxabi.h>)
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                         std::free);
  if (status == 0 && demangled) return demangled.get();
#endif
  return type.name();
}

// The name of the exception being handled: the type it was thrown as.
inline std::string current_exception_type_name(const traced_exception* traced = nullptr) {
  if (traced) return type_name(traced->thrown_type());
#if __has_include(<cxxabi.h>)
  if (const std::type_info* type = abi::__cxa_current_exception_type()) return type_name(*type);
#endif
  return "of an unknown type";
}

// The failure for the exception being handled, in a catch block.
inline failure failure_from_current_exception() {
  failure f;
  f.kind = std::string(error_kind::exception);
  try {
    throw;
  } catch (const job_failure& deliberate) {
    f = deliberate.error;
    if (const auto* traced = dynamic_cast<const traced_exception*>(&deliberate); traced && !f.trace)
      f.trace = traced->stack_trace();
  } catch (const std::exception& e) {
    const auto* traced = dynamic_cast<const traced_exception*>(&e);
    const std::string type = current_exception_type_name(traced);
    const std::string_view what = e.what();
    f.message = what.empty() ? type + " thrown without a message" : concat(type, ": ", what);
    if (traced) f.trace = traced->stack_trace();
  } catch (const traced_exception& traced) {
    f.message = concat("unknown exception: ", current_exception_type_name(&traced));
    f.trace = traced.stack_trace();
  } catch (...) {
    f.message = concat("unknown exception: ", current_exception_type_name());
  }
  return f;
}

// A handler of any accepted shape, made uniform.
using erased_handler = std::function<job_result(const job&, job_context&)>;

template <class F, class... Args>
job_result call_handler(F& f, Args&&... args) {
  using returned = std::invoke_result_t<F&, Args...>;
  if constexpr (std::is_void_v<returned>) {
    std::invoke(f, std::forward<Args>(args)...);
    return {};
  } else {
    static_assert(std::is_convertible_v<returned, job_result>,
                  "errand: a handler returns void, a success detail (std::optional<std::string>, std::string) "
                  "or an errand::failure");
    return std::invoke(f, std::forward<Args>(args)...);
  }
}

template <class Payload, class F>
erased_handler typed_handler(F f) {
  return [f = std::move(f)](const job& row, job_context& context) mutable -> job_result {
    std::optional<Payload> payload;
    try {
      payload.emplace(from_json<Payload>(row.payload));
    } catch (const std::exception& e) {
      return failure{
          "job " + std::to_string(row.id) + " (kind '" + row.kind + "'): payload does not decode: " + e.what(),
          std::string(error_kind::bad_payload), false};
    }
    return call_handler(f, std::as_const(*payload), context);
  };
}

template <class F>
erased_handler raw_handler(F f) {
  return [f = std::move(f)](const job& row, job_context& context) mutable -> job_result {
    return call_handler(f, row.payload, context);
  };
}

// Runs a handler so that whatever it does ends in a job_result.
inline job_result run_guarded(const erased_handler& handler, const job& row, job_context& context) {
  try {
    return handler(row, context);
  } catch (...) {
    return failure_from_current_exception();
  }
}

}  // namespace detail

}  // namespace errand
