// clock.hpp: tests move time by hand; nothing sleeps.

#include "errand_catch.hpp"
#include <errand/clock.hpp>

#include <chrono>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;

errand::time_point read(const errand::clock& c) { return c.now(); }

}  // namespace

TEST_CASE("manual_clock starts at 2026-01-01T00:00:00Z unless told otherwise", "[clock]") {
  const errand::manual_clock clock;
  CHECK(errand::to_iso8601(clock.now()) == "2026-01-01T00:00:00.000000Z");

  const auto start = *errand::from_iso8601("2030-06-15T08:30:00.250000Z");
  CHECK(errand::manual_clock{start}.now() == start);
}

TEST_CASE("manual_clock moves only when told", "[clock]") {
  errand::manual_clock clock;
  const auto start = clock.now();
  CHECK(clock.now() == start);

  clock.advance(90s);
  CHECK(clock.now() == start + 90s);
  clock.advance(1us);
  CHECK(clock.now() == start + 90s + 1us);

  const auto later = *errand::from_iso8601("2027-03-01T00:00:00Z");
  clock.set(later);
  CHECK(clock.now() == later);
  clock.set(start);  // set may move time back, as a test sometimes needs
  CHECK(clock.now() == start);
}

TEST_CASE("manual_clock serves code written against errand::clock", "[clock]") {
  errand::manual_clock clock;
  const errand::clock& injected = clock;
  clock.advance(5min);
  CHECK(read(injected) == clock.now());
}

TEST_CASE("manual_clock can be advanced from several threads at once", "[clock]") {
  errand::manual_clock clock;
  const auto start = clock.now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) clock.advance(1us);
    });
  for (auto& thread : threads) thread.join();
  CHECK(clock.now() == start + 4000us);
}

TEST_CASE("system_clock reads the time in errand's microsecond resolution", "[clock]") {
  static_assert(std::is_same_v<decltype(errand::system_clock{}.now()), errand::time_point>);
  const errand::system_clock clock;
  CHECK(read(clock) > *errand::from_iso8601("2020-01-01T00:00:00Z"));
}
