// Periodic jobs on a SQLite file: a nightly report at 02:30 UTC and an hourly
// cleanup that prunes old jobs and history, scheduled by two runners at once
// (two web servers of one app, say) and enqueued once per tick all the same.
// Along the way an operator pauses the reports queue for a deploy, a button
// that starts a search-index rebuild is clicked three times, and both servers
// are down for a few hours.
//
// Time is a manual clock moved ten minutes at a time, so two days run in a
// fraction of a second and print the same thing every time.
#include "text_table.hpp"
#include <errand/runner.hpp>
#include <errand/sqlite.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

errand::time_point at(const char* iso) { return *errand::from_iso8601(iso); }

// "01-02 02:30": the day and time, all this example needs.
std::string short_time(errand::time_point t) { return errand::to_iso8601(t).substr(5, 11).replace(5, 1, " "); }

using sqlite_runner = errand::runner<errand::sqlite_store>;

std::unique_ptr<sqlite_runner> start_server(errand::sqlite_store& store, const errand::clock& clock,
                                            const std::string& name) {
  auto server = std::make_unique<sqlite_runner>(
      store, errand::runner_options{.threads = 1, .worker_id = name, .log = [](std::string_view) {}}, clock);

  server->schedule({.name = "nightly-report",
                    .when = errand::schedule::cron("30 2 * * *"),
                    .job = {.queue = "reports", .kind = "report"}});
  server->schedule({.name = "hourly-cleanup",
                    .when = errand::schedule::cron("@hourly"),
                    .job = {.queue = "maintenance", .kind = "cleanup"}});

  server->handle("report", [&clock](const std::string&, errand::job_context& job) -> errand::job_result {
    // The tick is the job's run_at: the 02:30 report covers the day before it.
    const auto covers = errand::to_iso8601(job.row().run_at - 24h).substr(0, 10);
    std::cout << short_time(clock.now()) << "  report for " << covers << " (tick " << short_time(job.row().run_at)
              << ") by " << job.worker() << '\n';
    return "report for " + covers;
  });
  server->handle("cleanup", [&store, &clock](const std::string&, errand::job_context& job) -> errand::job_result {
    // Finished jobs are kept six hours, history to the last four records of each job.
    const auto pruned = store.prune({.finished_before = job.row().run_at - 6h, .keep_history = 4});
    if (pruned.jobs_deleted == 0 && pruned.history_deleted == 0) return "nothing to prune";
    std::cout << short_time(clock.now()) << "  cleanup by " << job.worker() << ": pruned jobs " << pruned.jobs_deleted
              << ", history records " << pruned.history_deleted << '\n';
    return "pruned " + std::to_string(pruned.jobs_deleted) + " jobs";
  });
  server->handle("rebuild_index", [&clock](const std::string&, errand::job_context& job) -> errand::job_result {
    std::cout << short_time(clock.now()) << "  search index rebuilt by " << job.worker() << '\n';
    return errand::job_result{};
  });
  return server;
}

// What the "rebuild search index" button enqueues: a rebuild already waiting
// or running covers the click; once it finished, a click starts another.
errand::enqueued click_rebuild(errand::sqlite_store& store, errand::time_point now) {
  return store.enqueue({.queue = "maintenance",
                        .kind = "rebuild_index",
                        .unique_key = "rebuild_index",
                        .unique_states = errand::unfinished_states},
                       now);
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string path = argc > 1 ? argv[1] : "/tmp/errand-nightly-reports.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  errand::sqlite_store store(path);
  errand::manual_clock clock(at("2026-01-01T21:00:00Z"));

  std::vector<std::unique_ptr<sqlite_runner>> servers;
  std::map<std::string, std::int64_t> ticks_enqueued_by;
  const auto start_servers = [&] {
    for (const auto& server : servers)
      ticks_enqueued_by[server->workers().front()] += server->stats().periodic_enqueued;
    servers.clear();
    servers.push_back(start_server(store, clock, "web-1"));
    servers.push_back(start_server(store, clock, "web-2"));
  };
  start_servers();
  std::cout << "Two servers schedule the same jobs from " << short_time(clock.now()) << ":\n"
            << "  nightly-report: " << errand::schedule::cron("30 2 * * *").describe() << "\n"
            << "  hourly-cleanup: " << errand::schedule::cron("@hourly").describe() << "\n\n";

  const auto down_from = at("2026-01-02T09:50:00Z"), back_at = at("2026-01-02T13:30:00Z");
  for (const auto end = at("2026-01-03T03:00:00Z"); clock.now() <= end; clock.advance(10min)) {
    const auto now = clock.now();
    if (now == at("2026-01-01T21:10:00Z")) {
      std::cout << short_time(now) << "  the rebuild button, clicked three times:";
      for (int click = 0; click < 3; ++click) {
        const auto e = click_rebuild(store, now);
        std::cout << " job " << e.id << (e.created ? " (new)" : " (already waiting)");
      }
      std::cout << '\n';
    }
    if (now == at("2026-01-01T23:00:00Z")) {
      const auto e = click_rebuild(store, now);
      std::cout << short_time(now) << "  clicked again after the rebuild finished: job " << e.id
                << (e.created ? " (new)" : " (already waiting)") << '\n';
    }
    if (now == at("2026-01-02T02:00:00Z"))
      std::cout << short_time(now) << "  deploy: queue '" << store.pause_queue("reports", now).queue << "' paused\n";
    if (now == at("2026-01-02T03:00:00Z"))
      std::cout << short_time(now) << "  deploy done: queue '" << store.resume_queue("reports", now).queue
                << "' resumed\n";
    if (now >= down_from && now < back_at) continue;  // both servers are down
    if (now == back_at) {
      std::cout << short_time(now) << "  both servers back after " << short_time(down_from)
                << ": the 10:00 to 13:00 cleanups are not made up\n";
      start_servers();
    }
    // Whichever server passes first enqueues the tick; they take turns by the hour.
    const bool web_2_first = (now - at("2026-01-01T00:00:00Z")) / 1h % 2 == 1;
    for (std::size_t i = 0; i < servers.size(); ++i) {
      auto& server = servers[web_2_first ? servers.size() - 1 - i : i];
      server->supervise();
      server->poll();
      server->wait_idle();
    }
  }
  start_servers();  // a last restart, to add up what each server enqueued

  std::cout << "\nJobs left at " << short_time(clock.now()) << " (finished ones older than six hours were pruned):\n";
  errand_examples::text_table table({"id", "kind", "state", "run_at", "unique_key"});
  for (const auto& job : store.query({.limit = 1000}))
    table.add({std::to_string(job.id), job.kind, std::string(*errand::name_of(job.state)), short_time(job.run_at),
               errand_examples::or_null(job.unique_key)});
  table.print(std::cout);

  std::int64_t ticks = 0;
  for (const auto& [worker, count] : ticks_enqueued_by) ticks += count;
  std::cout << "\nTicks enqueued: " << ticks << " (web-1 " << ticks_enqueued_by["web-1:0"] << ", web-2 "
            << ticks_enqueued_by["web-2:0"] << "), each by whichever server passed first, none twice\n";
} catch (const std::exception& e) {
  std::cerr << "nightly_reports example failed: " << e.what() << '\n';
  return 1;
}
