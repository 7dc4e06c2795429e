// What a record store reads back from a table anyone can write to, and what
// an event can bring: a row of column values decodes into a row that encodes
// back to the same values, or is refused with corrupt_record naming the
// column; an event's reason, whatever its bytes, is stored as storable text.
#include <errand/conformance/record_machines.hpp>
#include <errand/record_step.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using errand::conformance::work_orders;

// Each column takes one byte saying which kind of value follows, then its bytes.
errand::column_value take_value(std::string_view& input) {
  if (input.empty()) return std::monostate{};
  const auto kind = static_cast<unsigned char>(input.front()) % 5;
  input.remove_prefix(1);
  const std::size_t length = input.empty() ? 0 : static_cast<unsigned char>(input.front()) % 40;
  if (!input.empty()) input.remove_prefix(1);
  const auto bytes = input.substr(0, length);
  input.remove_prefix(bytes.size());
  switch (kind) {
    case 0:
      return std::monostate{};
    case 1:
      return !bytes.empty() && (bytes.front() & 1);
    case 2: {
      std::int64_t value = 0;
      std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
      return value;
    }
    case 3: {
      double value = 0;
      std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
      return value;
    }
    default:
      return std::string(bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<errand::column_value> values;
  for (std::size_t i = 0; i < errand::record_columns<work_orders>().size(); ++i) values.push_back(take_value(input));
  try {
    const auto row = errand::from_column_values<work_orders>(values);
    const auto again = errand::from_column_values<work_orders>(errand::to_column_values<work_orders>(row));
    if (!std::isnan(row.cost) && !(again == row)) std::abort();
  } catch (const errand::corrupt_record& refused) {
    if (std::string_view(refused.what()).find("column '") == std::string_view::npos) std::abort();
  }

  using namespace errand::conformance;
  chat running;
  running.id = 1;
  running.status = chat_status::running;
  const std::string reason(reinterpret_cast<const char*>(data), size);
  const auto step = errand::step<chats>(running, chat_events::processing_failed{reason}, errand::time_point{});
  if (!step.dispatched || !step.next.last_error || step.next.last_error->empty()) std::abort();
  if (errand::unstorable_reason(*step.next.last_error) || errand::unstorable_reason(step.entry.payload)) std::abort();
  if (step.next.last_error->size() > errand::max_error_bytes) std::abort();
  return 0;
}
