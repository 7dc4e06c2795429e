#pragma once
// A typical job's payload, for the rows that measure what payloads cost: what a
// handler of an online shop gets, a described struct of six fields.

#include <errand/codec.hpp>

#include <boost/describe/class.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace errand_bench {

struct order {
  std::int64_t id = 0;
  std::string customer;
  double amount = 0;
  std::vector<std::int64_t> items;
  bool rush = false;
  std::optional<std::string> note;
};
BOOST_DESCRIBE_STRUCT(order, (), (id, customer, amount, items, rush, note))

inline const std::string& order_payload() {
  static const std::string text = errand::to_json(
      order{.id = 123456, .customer = "acme-42", .amount = 99.5, .items = {7, 8, 9}, .rush = true, .note = std::nullopt});
  return text;
}

}  // namespace errand_bench
