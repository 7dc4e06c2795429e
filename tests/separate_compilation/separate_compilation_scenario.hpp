#pragma once
// What a program built with ERRAND_SEPARATE_COMPILATION does in the files that
// only see errand's declarations: make a runner over a store, register a typed
// handler, enqueue, and read the history back. The handler fails the first
// attempt and succeeds on the retry, and a payload that does not decode fails
// its job, so the runner, the store, the codec and decide() all run through
// code compiled in the program's one errand source file.

#include "errand_catch.hpp"
#include <errand/errand.hpp>

#include <boost/describe/class.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace separate_compilation {

// Whether this translation unit has seen T's definition.
template <class T>
concept complete = requires {
  sizeof(T);
};

struct invoice {
  std::string customer;
};
BOOST_DESCRIBE_STRUCT(invoice, (), (customer))

// Runs the one due job's attempt to its end and reads the job back.
template <errand::store Store>
errand::job attempt_once(errand::runner<Store>& workers, Store& store, std::int64_t id) {
  REQUIRE(workers.poll() == 1);
  workers.wait_idle();
  const auto row = store.get(id);
  REQUIRE(row);
  return *row;
}

template <errand::store Store>
void fail_once_then_succeed(Store& store) {
  const errand::manual_clock clock;
  errand::runner_options options;
  options.threads = 1;
  options.worker_id = "separate";
  options.retry = errand::retry_policy::immediate();
  options.log = [](std::string_view) {};
  errand::runner<Store> workers(store, options, clock);
  std::atomic<int> attempts{0};
  workers.template handle<invoice>("send_invoice", [&](const invoice& i, errand::job_context&) -> errand::job_result {
    if (attempts++ == 0) return errand::failure{"SMTP 451 for " + i.customer, "smtp"};
    return "sent to " + i.customer;
  });

  const auto id = store.enqueue({.kind = "send_invoice", .payload = errand::to_json(invoice{"acme"})}, clock.now()).id;
  const auto failed = attempt_once(workers, store, id);
  CHECK(failed.state == errand::job_state::retry_pending);
  CHECK(failed.last_error == "SMTP 451 for acme");

  const auto done = attempt_once(workers, store, id);
  CHECK(done.state == errand::job_state::succeeded);
  CHECK(done.detail == "sent to acme");
  const auto errors = errand::errors_of(store.history(id));
  REQUIRE(errors.size() == 1);
  CHECK(errors.front().message == "SMTP 451 for acme");
  CHECK(workers.stats().succeeded == 1);
  CHECK(workers.stats().failed == 1);

  // A payload the codec cannot decode fails the job, naming the field.
  const auto bad = store.enqueue({.kind = "send_invoice", .payload = R"({"customer": 7})"}, clock.now()).id;
  const auto refused = attempt_once(workers, store, bad);
  CHECK(refused.state == errand::job_state::failed);
  CHECK(refused.last_error_kind == "bad_payload");
  const std::string why = refused.last_error.value_or("");
  CHECK(why.find("JSON field 'customer': expected a string, found 7") != std::string::npos);
}

}  // namespace separate_compilation
