// What a row decoder meets in a column: state names and times written by
// anyone. A name either is a state whose name reads back the same, or is
// refused; a time either parses to one that writes back and parses equal, or
// is refused.
#include <errand/enum_name.hpp>
#include <errand/lifecycle_states.hpp>
#include <errand/time.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto state = errand::from_name<errand::job_state>(text)) {
    if (errand::name_of(*state) != text) std::abort();
  }
  if (const auto at = errand::from_iso8601(text)) {
    if (errand::from_iso8601(errand::to_iso8601(*at)) != at) std::abort();
  }
  return 0;
}
