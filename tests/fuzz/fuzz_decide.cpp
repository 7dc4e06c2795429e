// The decision function on rows and events decoded from any bytes, as a store
// reads them: it never crashes, a rejection writes nothing, and whatever it
// applies keeps the contract's row invariants (a failure state has a
// non-empty reason and its time, no error is ever '', a running job holds a
// lease, exactly one history record per applied transition).
#include <errand/codec.hpp>
#include <errand/decide.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void require_invariants(const errand::decision& d) {
  using errand::job_state;
  const errand::job& row = d.next;
  if (row.state == job_state::retry_pending || row.state == job_state::failed) {
    if (!row.last_error || row.last_error->empty() || !row.last_error_at) std::abort();
  }
  if (row.last_error && row.last_error->empty()) std::abort();
  if (row.state == job_state::running && !row.lease_until) std::abort();
  if (row.version != d.expected_version + 1) std::abort();
  if (!d.record || d.record->to != row.state) std::abort();
}

template <class Event>
void decide_on(const errand::job& row, std::string_view event_json, errand::time_point now) {
  Event e;
  try {
    e = errand::from_json<Event>(event_json);
  } catch (const errand::codec_error&) {
    return;
  }
  const auto d = errand::decide(row, e, errand::retry_policy{}, now);
  if (d.applied()) require_invariants(d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Layout: one byte picks the event, then the row's JSON, a NUL, the event's JSON.
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto split = rest.find('\0');
  if (split == std::string_view::npos) return 0;
  errand::job row;
  try {
    row = errand::from_json<errand::job>(rest.substr(0, split));
  } catch (const errand::codec_error&) {
    return 0;
  }
  // A row a store wrote obeys the invariants; the fuzzer explores events on those.
  if (row.last_error && row.last_error->empty()) return 0;
  const auto event = rest.substr(split + 1);
  const auto now = row.updated_at;
  switch (data[0] % 7) {
    case 0: return decide_on<errand::claim>(row, event, now), 0;
    case 1: return decide_on<errand::succeed>(row, event, now), 0;
    case 2: return decide_on<errand::fail>(row, event, now), 0;
    case 3: return decide_on<errand::lease_expired>(row, event, now), 0;
    case 4: return decide_on<errand::cancel>(row, event, now), 0;
    case 5: return decide_on<errand::requeue>(row, event, now), 0;
    default: return decide_on<errand::release>(row, event, now), 0;
  }
}
