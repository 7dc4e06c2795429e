// errand serve: the dashboard. A small HTTP server (cpp-httplib) with the
// page and its script embedded in the binary, a JSON API that returns what
// `errand ... --json` prints, and Server-Sent Events carrying every
// transition any process commits. Writes are POSTs with the page's CSRF
// token (or a bearer token); --read-only has none.

#include "commands.hpp"
#include "dashboard_assets.hpp"
#include "stop_signals.hpp"
#include "views.hpp"
#include <errand/codec.hpp>
#include <errand/enum_name.hpp>

#include <boost/describe/class.hpp>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <optional>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

namespace errand_tool {

// The body of a retry or cancel POST.
struct action_request {
  std::optional<std::string> reason;
  std::optional<std::int32_t> attempts;
};
BOOST_DESCRIBE_STRUCT(action_request, (), (reason, attempts))

struct api_error {
  std::string error;
};
BOOST_DESCRIBE_STRUCT(api_error, (), (error))

namespace {

using namespace std::chrono_literals;

constexpr auto keep_alive_every = 15s;
constexpr std::size_t backlog_per_client = 1000;  // events a slow client may fall behind by before it is dropped

std::string random_hex(std::size_t bytes) {
  std::random_device entropy;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", entropy() & 0xFF);
    out += two;
  }
  return out;
}

// Compares secrets in time that does not depend on where they differ.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<std::size_t>(1, expected.size())]);
  return difference == 0 && !expected.empty();
}

// The value of the request's cookie `name`; empty when it has none.
std::string cookie(const httplib::Request& req, std::string_view name) {
  const std::string header = req.get_header_value("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    const auto end = std::min(rest.find(';'), rest.size());
    auto pair = rest.substr(0, end);
    while (pair.starts_with(' ')) pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=')
      return std::string(pair.substr(name.size() + 1));
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return {};
}

// localhost, ::1 (bracketed or not) or 127.x.y.z written as digits: a name
// such as 127.0.0.1.example.com is someone else's host.
bool is_loopback(std::string_view host) {
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" ||
         (host.starts_with("127.") &&
          std::all_of(host.begin(), host.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); }));
}

// Every connected page's queue of events; a page that stops reading is dropped.
class event_hub {
 public:
  class client {
   public:
    // The next event, a keep-alive comment after a quiet spell, or nullopt once the hub closed.
    std::optional<std::string> next() {
      std::unique_lock lock(mutex_);
      if (!woken_.wait_for(lock, keep_alive_every, [&] { return closed_ || !events_.empty(); })) return ": quiet\n\n";
      if (events_.empty()) return std::nullopt;
      auto event = std::move(events_.front());
      events_.pop_front();
      return event;
    }

   private:
    friend class event_hub;
    void push(const std::string& event) {
      {
        std::scoped_lock lock(mutex_);
        if (events_.size() >= backlog_per_client) closed_ = true;
        events_.push_back(event);
      }
      woken_.notify_one();
    }
    void close() {
      {
        std::scoped_lock lock(mutex_);
        closed_ = true;
        events_.clear();
      }
      woken_.notify_one();
    }

    std::mutex mutex_;
    std::condition_variable woken_;
    std::deque<std::string> events_;
    bool closed_ = false;
  };

  std::shared_ptr<client> join() {
    auto c = std::make_shared<client>();
    c->push("retry: 2000\nevent: hello\ndata: {}\n\n");
    std::scoped_lock lock(mutex_);
    if (closed_) c->close();
    clients_.push_back(c);
    return c;
  }

  void leave(const std::shared_ptr<client>& c) {
    std::scoped_lock lock(mutex_);
    clients_.remove(c);
  }

  void publish(const std::string& name, const std::string& json) {
    const std::string event = "event: " + name + "\ndata: " + json + "\n\n";
    std::scoped_lock lock(mutex_);
    for (const auto& c : clients_) c->push(event);
  }

  void close() {
    std::scoped_lock lock(mutex_);
    closed_ = true;
    for (const auto& c : clients_) c->close();
  }

 private:
  std::mutex mutex_;
  std::list<std::shared_ptr<client>> clients_;
  bool closed_ = false;
};

void send_json(httplib::Response& res, const std::string& json, int status = 200) {
  res.status = status;
  res.set_content(json, "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, errand::to_json(api_error{message}), status);
}

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name) || req.get_param_value(name).empty()) return std::nullopt;
  return req.get_param_value(name);
}

// The job id the path names; nullopt for digits too many to be one (no such job), which
// from_chars leaves unread and which used to be read as job 0.
std::optional<std::int64_t> id_of(const httplib::Request& req) {
  std::int64_t id = 0;
  const std::string text = req.matches[1].str();
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return id;
}

std::optional<errand::job_state> state_param(const httplib::Request& req) {
  const auto name = param(req, "state");
  if (!name) return std::nullopt;
  if (const auto state = errand::from_name<errand::job_state>(*name)) return state;
  throw tool_error(usage, "'" + *name + "' is not a job state");
}

class dashboard {
 public:
  dashboard(database& db, const serve_options& options)
      : db_(db), options_(options), csrf_(random_hex(32)), session_(random_hex(32)) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.set_default_headers({
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"},
    });
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return admitted(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
    });
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const tool_error& e) {
        send_error(res, e.status == usage ? 400 : 500, e.what());
      } catch (const std::exception& e) {
        send_error(res, 500, e.what());
      }
    });
    routes();
  }

  int run() {
    stop_signals signals;  // before the server's threads start, so they inherit the blocked signals
    const int port = options_.port == 0 ? server_.bind_to_any_port(options_.listen)
                                        : (server_.bind_to_port(options_.listen, options_.port) ? options_.port : -1);
    if (port < 0)
      throw tool_error(failed, "cannot listen on " + options_.listen + ":" + std::to_string(options_.port) +
                                   " (in use, or not an address of this machine)");
    const auto following = db_.follow(
        [this](const errand::notification& n) { events_.publish("transition", errand::to_json(view_of(n))); });
    if (!is_loopback(options_.listen)) host_checked_ = false;
    std::atomic<bool> stopped{false};
    std::thread serving([&] {
      server_.listen_after_bind();
      stopped = true;
    });
    // httplib's stop() does nothing until listen_after_bind() has started, so
    // a Ctrl-C that came sooner would leave the server running: the lines
    // below, which tell that it serves, wait for it.
    while (!server_.is_running() && !stopped) std::this_thread::sleep_for(std::chrono::milliseconds{1});
    const std::string host =
        options_.listen.find(':') != std::string::npos ? "[" + options_.listen + "]" : options_.listen;
    const std::string url = "http://" + host + ":" + std::to_string(port) + "/";
    std::cout << "errand: dashboard for " << db_.name() << " at " << url << std::endl;
    if (options_.token) std::cout << "errand: open " << url << "?token=<your token> in a browser" << std::endl;
    if (!is_loopback(options_.listen) && !options_.token)
      std::cerr << "errand: WARNING: listening on " << options_.listen
                << " without --token: anyone who can reach this port can read every job"
                << (options_.read_only ? "" : ", and retry or cancel them") << std::endl;

    signals.wait([&] { return stopped.load(); });
    events_.close();
    server_.stop();
    serving.join();
    return success;
  }

 private:
  // Who may ask: a Host header this server answers to (so a page of another
  // site cannot reach it by DNS rebinding), and with --token, the token.
  bool admitted(const httplib::Request& req, httplib::Response& res) {
    if (host_checked_) {
      const auto host = req.get_header_value("Host");
      const auto name = host.substr(0, host.starts_with("[") ? host.find(']') + 1 : host.find(':'));
      if (!is_loopback(name)) {
        send_error(res, 421, "this dashboard answers to localhost and 127.0.0.1, not '" + host + "'");
        return false;
      }
    }
    if (!options_.token || holds_token(req) || same_secret(cookie(req, "errand_session"), session_)) return true;
    if (req.method == "GET" && req.path == "/" && same_secret(req.get_param_value("token"), *options_.token)) {
      res.set_header("Set-Cookie", "errand_session=" + session_ + "; Path=/; HttpOnly; SameSite=Strict");
      res.set_redirect("/", 303);
      return false;
    }
    send_error(res, 401,
               "this dashboard needs its token: open the URL `errand serve` printed with ?token=<token>, or send "
               "Authorization: Bearer <token>");
    return false;
  }

  // A script sent --token's token as a bearer token.
  bool holds_token(const httplib::Request& req) const {
    const auto authorization = req.get_header_value("Authorization");
    return options_.token && authorization.starts_with("Bearer ") &&
           same_secret(std::string_view(authorization).substr(7), *options_.token);
  }

  // A write must come from the page (its CSRF token) or a script holding the bearer token.
  bool may_write(const httplib::Request& req, httplib::Response& res) {
    if (!holds_token(req) && !same_secret(req.get_header_value("X-Errand-CSRF"), csrf_)) {
      send_error(res, 403, "a write needs the page's CSRF token (header X-Errand-CSRF)");
      return false;
    }
    return true;
  }

  std::string page() const {
    std::string html(dashboard_assets::index_html);
    const auto put = [&](std::string_view placeholder, const std::string& value) {
      html.replace(html.find(placeholder), placeholder.size(), value);
    };
    put("{{csrf}}", csrf_);
    put("{{read_only}}", options_.read_only ? "true" : "false");
    return html;
  }

  void routes() {
    const auto index = [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(page(), "text/html; charset=utf-8");
    };
    server_.Get("/", index);
    server_.Get(R"(/jobs/(\d+))", index);
    server_.Get("/assets/app.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(dashboard_assets::app_js), "text/javascript; charset=utf-8");
    });
    server_.Get("/assets/style.css", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(dashboard_assets::style_css), "text/css; charset=utf-8");
    });

    server_.Get("/api/stats", [this](const httplib::Request&, httplib::Response& res) {
      auto stats = stats_of(db_, errand::system_clock{}.now(), std::chrono::minutes{5});
      send_json(res, errand::to_json(stats));
    });
    server_.Get("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      errand::job_query q;
      q.state = state_param(req);
      q.queue = param(req, "queue");
      q.kind = param(req, "kind");
      if (const auto errors = param(req, "has_error")) q.has_error = *errors == "true";
      q.limit = 50;
      if (const auto after = param(req, "after")) {
        q.after_update = parse_cursor(*after);
        if (!q.after_update) throw tool_error(usage, "'" + *after + "' is not a page cursor");
      }
      send_json(res, errand::to_json(list_jobs(db_, q)));
    });
    server_.Get(R"(/api/jobs/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      const auto id = id_of(req);
      if (const auto report = id ? report_on(db_, *id) : std::nullopt)
        send_json(res, errand::to_json(*report));
      else
        send_error(res, 404, "no job " + req.matches[1].str());
    });
    server_.Get("/api/errors", [this](const httplib::Request& req, httplib::Response& res) {
      send_json(res, errand::to_json(errors_of(db_, {.state = state_param(req), .limit = 10})));
    });
    server_.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
      auto client = events_.join();
      res.set_chunked_content_provider(
          "text/event-stream",
          [client](std::size_t, httplib::DataSink& sink) {
            const auto event = client->next();
            if (!event) {
              sink.done();
              return true;
            }
            return sink.write(event->data(), event->size());
          },
          [this, client](bool) { events_.leave(client); });
    });

    if (options_.read_only) return;
    const auto act = [this](auto make_event) {
      return [this, make_event](const httplib::Request& req, httplib::Response& res) {
        if (!may_write(req, res)) return;
        const auto id = id_of(req);
        if (!id) {
          send_error(res, 404, "no job " + req.matches[1].str());
          return;
        }
        action_request body;
        if (!req.body.empty()) {
          try {
            body = errand::from_json<action_request>(req.body);
          } catch (const errand::codec_error& e) {
            send_error(res, 400, e.what());
            return;
          }
        }
        const auto done = change(db_, *id, make_event(body), errand::system_clock{}.now(), false);
        send_json(res, errand::to_json(done),
                  done.outcome == "not_found"  ? 404
                  : done.outcome == "rejected" ? 409
                                               : 200);
      };
    };
    server_.Post(R"(/api/jobs/(\d+)/retry)", act([](const action_request& body) {
                   return errand::requeue{
                       body.reason ? body.reason : std::optional<std::string>("retried from the dashboard"),
                       std::max(1, body.attempts.value_or(1))};
                 }));
    server_.Post(
        R"(/api/jobs/(\d+)/cancel)", act([](const action_request& body) {
          return errand::cancel{body.reason ? body.reason : std::optional<std::string>("cancelled from the dashboard")};
        }));
  }

  database& db_;
  serve_options options_;
  std::string csrf_;
  std::string session_;
  bool host_checked_ = true;
  event_hub events_;
  httplib::Server server_;
};

}  // namespace

int serve_command(database& db, const serve_options& options) { return dashboard(db, options).run(); }

}  // namespace errand_tool
