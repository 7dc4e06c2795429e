#pragma once
// The states and events every compile-fail case builds its one mistake from.

#include <errand/machine.hpp>

#include <string_view>

namespace traffic {

enum class light { red, green, yellow };
BOOST_DESCRIBE_ENUM(light, red, green, yellow)

struct go {
  static constexpr std::string_view name = "go";
};
struct slow {
  static constexpr std::string_view name = "slow";
};
struct stop {
  static constexpr std::string_view name = "stop";
};
struct honk {
  static constexpr std::string_view name = "honk";
};

struct road {
  bool clear = true;
};

struct road_clear {
  static constexpr std::string_view name = "road clear";
  bool operator()(const road& r, const go&) const { return r.clear; }
};

using namespace errand;
using enum light;

}  // namespace traffic
