// handler.hpp: whatever a handler returns or throws ends as a job_result that
// names what happened (contract 4 of docs/concepts.md), and a payload that does not decode is
// a clear, non-retryable failure.
#include "errand_catch.hpp"
#include <errand/handler.hpp>
#include <errand/stack_trace.hpp>

#include <boost/describe/class.hpp>

#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>

namespace {

struct resize_request {
  std::string path;
  int width = 0;
};
BOOST_DESCRIBE_STRUCT(resize_request, (), (path, width))

struct not_a_std_exception {};

struct quota_exceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Kept out of line, so that the trace has frames of its own below the handler.
[[gnu::noinline]] void call_upstream() { errand::throw_with_trace(quota_exceeded("quota exceeded for tenant 7")); }

struct silent_error : std::exception {
  const char* what() const noexcept override { return ""; }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

errand::job row_with(std::string kind, std::string payload) {
  errand::job row;
  row.id = 7;
  row.kind = std::move(kind);
  row.payload = std::move(payload);
  row.attempt = 2;
  return row;
}

template <class Throw>
errand::job_result run(Throw throwing) {
  const auto row = row_with("k", "{}");
  errand::job_context context(row, "w:0", errand::time_point{}, std::stop_token{});
  return errand::detail::run_guarded(errand::detail::raw_handler([&](const std::string&, errand::job_context&) {
                                       throwing();
                                       return std::nullopt;
                                     }),
                                     row, context);
}

}  // namespace

TEST_CASE("a std::exception becomes a failure of kind exception carrying its type and what()",
          "[handler][contract4]") {
  const auto result = run([] { throw std::runtime_error("disk full"); });
  REQUIRE_FALSE(result.succeeded());
  CHECK(result.error->message == "std::runtime_error: disk full");
  CHECK(result.error->kind == errand::error_kind::exception);
  CHECK(result.error->retryable);
  CHECK_FALSE(result.error->trace);  // thrown without throw_with_trace: no stack to record

  const auto own = run([] { throw quota_exceeded("quota exceeded for tenant 7"); });
  CHECK(own.error->message == "(anonymous namespace)::quota_exceeded: quota exceeded for tenant 7");
}

TEST_CASE("an exception thrown with throw_with_trace brings its stack, and keeps its own type", "[handler][trace]") {
  bool caught_as_its_type = false;
  try {
    call_upstream();
  } catch (const quota_exceeded&) {
    caught_as_its_type = true;
  }
  CHECK(caught_as_its_type);

  const auto result = run([] { call_upstream(); });
  REQUIRE_FALSE(result.succeeded());
  CHECK(result.error->message == "(anonymous namespace)::quota_exceeded: quota exceeded for tenant 7");
  REQUIRE(result.error->trace);
  INFO(*result.error->trace);
  // One frame a line, numbered from 0: throw_with_trace's caller, the handler, the runner's call, ...
  CHECK(result.error->trace->starts_with(" 0# "));
  CHECK(contains(*result.error->trace, "\n 1# "));
  CHECK(contains(*result.error->trace, "\n 2# "));
}

TEST_CASE("a trace comes with a job_failure and with a thrown type of the user's own; current_stack_trace",
          "[handler][trace]") {
  const auto deliberate = run([] { errand::throw_with_trace(errand::job_failure{{"bad YAML", "invalid_input", false}}); });
  CHECK(deliberate.error->message == "bad YAML");
  CHECK(deliberate.error->kind == "invalid_input");
  CHECK(deliberate.error->trace);

  const auto own_trace = run([] {
    errand::throw_with_trace(errand::job_failure{{.message = "bad YAML", .trace = "the handler's own trace"}});
  });
  CHECK(own_trace.error->trace == "the handler's own trace");  // a trace the failure carries is kept

  const auto custom = run([] { errand::throw_with_trace(not_a_std_exception{}); });
  CHECK(contains(custom.error->message, "unknown exception: (anonymous namespace)::not_a_std_exception"));
  CHECK(custom.error->trace);

  const auto trace = errand::current_stack_trace();
  REQUIRE(trace);
  CHECK(trace->starts_with(" 0# "));
}

TEST_CASE("a std::exception with an empty what() is named by its type", "[handler][contract4]") {
  const auto result = run([] { throw silent_error{}; });
  REQUIRE_FALSE(result.succeeded());
  CHECK(contains(result.error->message, "silent_error"));
  CHECK(contains(result.error->message, "thrown without a message"));
}

TEST_CASE("a thrown int is an unknown exception named by its type", "[handler][contract4]") {
  const auto result = run([] { throw 42; });
  REQUIRE_FALSE(result.succeeded());
  CHECK(result.error->message == "unknown exception: int");
  CHECK(result.error->kind == errand::error_kind::exception);
}

TEST_CASE("a thrown type of the user's own is an unknown exception named by its type", "[handler][contract4]") {
  const auto result = run([] { throw not_a_std_exception{}; });
  REQUIRE_FALSE(result.succeeded());
  CHECK(contains(result.error->message, "unknown exception: "));
  CHECK(contains(result.error->message, "not_a_std_exception"));
}

TEST_CASE("job_failure fails the attempt with exactly the failure it carries", "[handler]") {
  const auto result = run([] { throw errand::job_failure{{"invalid YAML on line 3", "invalid_input", false}}; });
  REQUIRE_FALSE(result.succeeded());
  CHECK(result.error->message == "invalid YAML on line 3");
  CHECK(result.error->kind == "invalid_input");
  CHECK_FALSE(result.error->retryable);
}

TEST_CASE("a handler's return value says how the attempt ended", "[handler]") {
  const auto row = row_with("k", "{}");
  errand::job_context context(row, "w:0", errand::time_point{}, std::stop_token{});
  const auto returning = [&](auto value) {
    return errand::detail::run_guarded(
        errand::detail::raw_handler([value](const std::string&, errand::job_context&) { return value; }), row, context);
  };

  SECTION("void is a success without a detail") {
    const auto result = errand::detail::run_guarded(
        errand::detail::raw_handler([](const std::string&, errand::job_context&) {}), row, context);
    CHECK(result.succeeded());
    CHECK_FALSE(result.detail);
  }
  SECTION("nullopt is a success without a detail") {
    const auto result = returning(std::optional<std::string>{});
    CHECK(result.succeeded());
    CHECK_FALSE(result.detail);
  }
  SECTION("a string is a success with that detail") {
    const auto result = returning(std::string("nothing to post"));
    CHECK(result.succeeded());
    CHECK(result.detail == "nothing to post");
  }
  SECTION("a string literal is a success with that detail") {
    const auto result = returning("nothing to post");
    CHECK(result.detail == "nothing to post");
  }
  SECTION("a failure is that failure") {
    const auto result = returning(errand::failure{"upstream said 503", "upstream", true});
    REQUIRE_FALSE(result.succeeded());
    CHECK(result.error->message == "upstream said 503");
    CHECK(result.error->kind == "upstream");
  }
}

TEST_CASE("a typed handler gets its payload decoded", "[handler][codec]") {
  const auto row = row_with("resize", R"({"path":"/img/a.png","width":640})");
  errand::job_context context(row, "w:0", errand::time_point{}, std::stop_token{});
  std::optional<resize_request> seen;
  const auto handler = errand::detail::typed_handler<resize_request>(
      [&](const resize_request& request, errand::job_context& ctx) -> std::optional<std::string> {
        seen = request;
        CHECK(ctx.attempt() == 2);
        CHECK(ctx.job_id() == 7);
        return "resized to " + std::to_string(request.width);
      });
  const auto result = errand::detail::run_guarded(handler, row, context);
  REQUIRE(result.succeeded());
  CHECK(result.detail == "resized to 640");
  REQUIRE(seen);
  CHECK(seen->path == "/img/a.png");
}

TEST_CASE("a payload that does not decode is a non-retryable failure naming the job and the codec error",
          "[handler][codec][contract7]") {
  bool called = false;
  const auto handler = errand::detail::typed_handler<resize_request>(
      [&](const resize_request&, errand::job_context&) { called = true; });

  SECTION("a field of the wrong type") {
    const auto row = row_with("resize", R"({"path":5,"width":640})");
    errand::job_context context(row, "w:0", errand::time_point{}, std::stop_token{});
    const auto result = errand::detail::run_guarded(handler, row, context);
    REQUIRE_FALSE(result.succeeded());
    CHECK(result.error->kind == errand::error_kind::bad_payload);
    CHECK_FALSE(result.error->retryable);
    CHECK(contains(result.error->message, "job 7 (kind 'resize'): payload does not decode: "));
    CHECK(contains(result.error->message, "'path'"));
  }
  SECTION("text that is not JSON") {
    const auto row = row_with("resize", "{not json");
    errand::job_context context(row, "w:0", errand::time_point{}, std::stop_token{});
    const auto result = errand::detail::run_guarded(handler, row, context);
    REQUIRE_FALSE(result.succeeded());
    CHECK(result.error->kind == errand::error_kind::bad_payload);
    CHECK(contains(result.error->message, "job 7 (kind 'resize'): payload does not decode: errand: JSON"));
  }
  CHECK_FALSE(called);
}

TEST_CASE("a job_context made by hand serves a handler's own unit test", "[handler]") {
  const auto row = row_with("k", "{}");
  std::stop_source stop;
  int extended = 0;
  errand::job_context context(row, "w:3", errand::time_point{} + std::chrono::seconds{5}, stop.get_token(), [&] {
    ++extended;
    return true;
  });
  CHECK(context.worker() == "w:3");
  CHECK(context.deadline() == errand::time_point{} + std::chrono::seconds{5});
  CHECK(context.heartbeat());
  CHECK(extended == 1);
  CHECK_FALSE(context.stop_requested());
  stop.request_stop();
  CHECK(context.stop_token().stop_requested());
}
