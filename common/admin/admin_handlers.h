// The standard admin endpoints every Ambit binary serves: readiness, Prometheus
// stats, config dump, runtime log levels, and quit.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/admin/admin_server.h"
#include "common/metrics/registry.h"

namespace ambit::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready (or "ready")
};

struct StandardHandlers {
  metrics::Registry* registry = nullptr;          // /stats/prometheus, /metrics
  std::function<Readiness()> ready;               // /healthz/ready
  std::function<nlohmann::json()> config_dump;    // /config_dump
  std::function<void()> quit;                     // POST /quitquitquit
};

// Adds /, /healthz/ready, /stats/prometheus, /metrics, /config_dump, /logging and
// /quitquitquit. Mutations (/logging with a level, /quitquitquit) need POST.
void addStandardHandlers(AdminServer& server, StandardHandlers handlers);

// Paths for the node-facing stats (15020) and readiness (15021) endpoints.
inline const std::vector<std::string>& statsPaths() {
  static const std::vector<std::string> kPaths = {"/stats/prometheus", "/metrics"};
  return kPaths;
}
inline const std::vector<std::string>& readinessPaths() {
  static const std::vector<std::string> kPaths = {"/healthz/ready"};
  return kPaths;
}

}  // namespace ambit::admin
