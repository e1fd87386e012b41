// Handlers behind the standard admin endpoints.
#include "common/admin/admin_handlers.h"

#include "common/log/log.h"

namespace ambit::admin {
namespace {

Response text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

std::string levelsText() {
  std::string out = "active loggers:\n";
  for (const auto& [scope, level] : log::levels()) {
    out += fmt::format("  {}: {}\n", scope, log::levelName(level));
  }
  return out;
}

Response logging(const Request& req) {
  if (req.method == "GET" || req.query.empty()) return text(200, levelsText());
  // POST /logging?level=debug sets every scope; POST /logging?<scope>=<level> one.
  // All or nothing: check every pair before changing anything.
  auto current = log::levels();
  std::vector<std::pair<std::string, log::Level>> changes;
  for (const auto& [key, value] : req.query) {
    auto level = log::parseLevel(value);
    if (!level) return text(400, level.error().message + "\n");
    if (key != "level" && !current.count(key)) {
      return text(404, "no log scope named '" + key + "'\n" + levelsText());
    }
    changes.emplace_back(key, *level);
  }
  for (const auto& [key, level] : changes) {
    if (key == "level") log::setDefaultLevel(level);
  }
  for (const auto& [key, level] : changes) {
    if (key != "level") (void)log::setLevel(key, level);
  }
  log::info(*log::scope("admin"), "log_levels_changed", "request", req.path);
  return text(200, levelsText());
}

}  // namespace

void addStandardHandlers(AdminServer& server, StandardHandlers h) {
  server.route("/", {"GET"}, "this list", [&server](const Request&) { return text(200, server.index()); });

  server.route("/healthz/ready", {"GET", "HEAD"}, "200 when ready to serve traffic, 503 with the reason otherwise",
               [ready = h.ready](const Request&) {
                 Readiness r = ready ? ready() : Readiness{true, "ready"};
                 return text(r.ready ? 200 : 503, (r.ready ? std::string("ready") : r.reason) + "\n");
               });

  auto stats = [registry = h.registry](const Request&) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry ? registry->renderPrometheus() : std::string();
    return r;
  };
  server.route("/stats/prometheus", {"GET"}, "metrics in the Prometheus text format", stats);
  server.route("/metrics", {"GET"}, "same as /stats/prometheus", stats);

  server.route("/config_dump", {"GET"}, "the running configuration as JSON",
               [dump = h.config_dump](const Request&) {
                 nlohmann::json j = dump ? dump() : nlohmann::json::object();
                 return Response{200, "application/json", j.dump(2) + "\n", {}};
               });

  server.route("/logging", {"GET", "POST"},
               "GET lists log levels; POST ?level=<lvl> sets all, POST ?<scope>=<lvl> sets one", logging);

  server.route("/quitquitquit", {"POST"}, "drain and exit", [quit = h.quit](const Request&) {
    log::info(*log::scope("admin"), "quit_requested");
    if (quit) quit();
    return text(200, "OK\n");
  });
}

}  // namespace ambit::admin
