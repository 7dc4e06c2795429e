#include "errand_catch.hpp"
#include <errand/enum_name.hpp>

#include <cstdint>
#include <string_view>

namespace {

enum class colour { red, green, blue };
BOOST_DESCRIBE_ENUM(colour, red, green, blue)

// Values out of declaration order, a gap, and a small underlying type.
enum class priority : std::uint8_t { high = 10, low = 1, normal = 5 };
BOOST_DESCRIBE_ENUM(priority, high, low, normal)

enum class undescribed { a, b };

}  // namespace

static_assert(errand::described_enum<colour>);
static_assert(errand::described_enum<priority>);
static_assert(!errand::described_enum<undescribed>);
static_assert(!errand::described_enum<int>);

static_assert(errand::enumerator_count<colour> == 3);
static_assert(errand::enumerators<priority>()[0] == priority::high);
static_assert(errand::enumerators<priority>()[2] == priority::normal);
static_assert(errand::name_of(colour::green) == std::string_view("green"));
static_assert(errand::from_name<colour>("blue") == colour::blue);
static_assert(errand::enumerator_index(priority::normal) == 2);

TEST_CASE("name_of gives the enumerator's name", "[enum_name]") {
  CHECK(errand::name_of(colour::red) == "red");
  CHECK(errand::name_of(colour::blue) == "blue");
  CHECK(errand::name_of(priority::low) == "low");
}

TEST_CASE("name_of a value that is no enumerator is nullopt", "[enum_name]") {
  CHECK_FALSE(errand::name_of(static_cast<colour>(3)).has_value());
  CHECK_FALSE(errand::name_of(static_cast<colour>(-1)).has_value());
  CHECK_FALSE(errand::name_of(static_cast<priority>(2)).has_value());
}

TEST_CASE("from_name reads back exactly the names name_of writes", "[enum_name]") {
  for (const auto value : errand::enumerators<colour>())
    CHECK(errand::from_name<colour>(*errand::name_of(value)) == value);
  for (const auto value : errand::enumerators<priority>())
    CHECK(errand::from_name<priority>(*errand::name_of(value)) == value);
}

TEST_CASE("from_name of a name that is no enumerator is nullopt", "[enum_name]") {
  CHECK_FALSE(errand::from_name<colour>("purple").has_value());
  CHECK_FALSE(errand::from_name<colour>("").has_value());
  CHECK_FALSE(errand::from_name<colour>("Red").has_value());
  CHECK_FALSE(errand::from_name<colour>("red ").has_value());
  CHECK_FALSE(errand::from_name<colour>(" red").has_value());
  CHECK_FALSE(errand::from_name<colour>("re").has_value());
  CHECK_FALSE(errand::from_name<colour>(std::string_view("red\0", 4)).has_value());
}

TEST_CASE("enumerators come in declaration order, whatever their values", "[enum_name]") {
  const auto values = errand::enumerators<priority>();
  REQUIRE(values.size() == 3);
  CHECK(values[0] == priority::high);
  CHECK(values[1] == priority::low);
  CHECK(values[2] == priority::normal);
}

TEST_CASE("enumerator_index is the declaration position, nullopt for other values", "[enum_name]") {
  CHECK(errand::enumerator_index(priority::high) == 0u);
  CHECK(errand::enumerator_index(priority::low) == 1u);
  CHECK(errand::enumerator_index(priority::normal) == 2u);
  CHECK_FALSE(errand::enumerator_index(static_cast<priority>(0)).has_value());
  CHECK_FALSE(errand::enumerator_index(static_cast<priority>(255)).has_value());
}
