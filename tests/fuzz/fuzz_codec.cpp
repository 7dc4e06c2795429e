// The codec's reader on any bytes: typed rows, history payloads and users'
// JSON either decode or throw codec_error; a value read back writes and reads
// again to the same value; the payload check refuses what the reader refuses.
#include <errand/codec.hpp>
#include <errand/job.hpp>
#include <errand/lifecycle.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

template <class T>
void round_trip(std::string_view bytes) {
  T value;
  try {
    value = errand::from_json<T>(bytes);
  } catch (const errand::codec_error&) {
    return;
  }
  const std::string written = errand::to_json(value);
  if (errand::to_json(errand::from_json<T>(written)) != written) std::abort();
}

// The check every enqueue makes of a payload refuses exactly what json_text's reader refuses.
void check_agrees_with_reader(std::string_view bytes) {
  bool read = true, checked = true;
  try {
    errand::from_json<errand::json_text>(bytes);
  } catch (const errand::codec_error&) {
    read = false;
  }
  try {
    errand::detail::json::check_value(bytes, {});
  } catch (const errand::codec_error&) {
    checked = false;
  }
  if (read != checked) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the type, so one corpus reaches every reader.
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: return round_trip<errand::job>(bytes), 0;
    case 1: return round_trip<errand::history_record>(bytes), 0;
    case 2: return round_trip<errand::fail>(bytes), 0;
    case 3: return round_trip<errand::lease_expired>(bytes), 0;
    case 4: return round_trip<errand::succeed>(bytes), 0;
    default: return round_trip<errand::json_text>(bytes), check_agrees_with_reader(bytes), 0;
  }
}
