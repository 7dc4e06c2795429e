// errand tail: every transition any process commits, as it commits, until
// Ctrl-C (or --count transitions).

#include "commands.hpp"
#include "stop_signals.hpp"
#include "text.hpp"
#include "views.hpp"
#include <errand/codec.hpp>
#include <errand/enum_name.hpp>

#include <iostream>
#include <mutex>

namespace errand_tool {

namespace {

std::string line_of(const transition_view& t) {
  std::string line = errand::to_iso8601(t.record.at) + "  job " + std::to_string(t.job.id) + " " +
                     one_line(t.job.kind, 30) + " (" + one_line(t.job.queue, 30) + ")  " + state_name(t.record.from) +
                     " → " + state_name(t.record.to) + "  " + one_line(t.record.event, 20) + " #" +
                     std::to_string(t.record.attempt);
  if (t.record.worker) line += "  " + one_line(*t.record.worker, 40);
  if (t.error) line += "  " + one_line(t.error->kind + ": " + t.error->message, 200);
  return line;
}

}  // namespace

int tail_command(database& db, const tail_options& o, bool json) {
  stop_signals signals;
  std::mutex mutex;
  std::size_t printed = 0;
  const auto enough = [&] { return o.count && printed >= *o.count; };
  const auto following = db.follow([&](const errand::notification& n) {
    if ((o.queue && n.row.queue != *o.queue) || (o.kind && n.row.kind != *o.kind) || (o.job && n.row.id != *o.job))
      return;
    const auto view = view_of(n);
    if (o.errors_only && !view.error) return;
    std::scoped_lock lock(mutex);
    if (enough()) return;
    std::cout << (json ? errand::to_json(view) : line_of(view)) << std::endl;
    ++printed;
  });
  std::cerr << "errand: following " << db.name() << "; Ctrl-C stops" << std::endl;
  signals.wait([&] {
    std::scoped_lock lock(mutex);
    return enough();
  });
  return success;
}

}  // namespace errand_tool
