// The storable-text rules on any bytes: the stored form is valid UTF-8 without
// NUL and within the limit, the cut is marked, and text already storable and
// short enough is kept as it is.
#include <errand/error_text.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t limit = 1 + data[0] * 4;  // small limits reach the marker's own cut
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string stored = errand::storable_error_text(text, limit);
  if (stored.size() > limit) std::abort();
  if (errand::unstorable_reason(stored)) std::abort();
  const bool storable = !errand::unstorable_reason(text);
  if (storable && text.size() <= limit && stored != text) std::abort();
  if (text.size() > limit && stored.find("[truncated from") == std::string::npos && limit > 40) std::abort();
  if (errand::storable_error_text(stored, limit) != stored) std::abort();
  return 0;
}
