// The lifecycle every Ambit server shares: worker pool, metrics registry, admin
// endpoints, wait for SIGTERM or /quitquitquit, then drain and exit.
#pragma once

#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/admin/admin_config.h"
#include "common/admin/admin_handlers.h"
#include "common/admin/admin_server.h"
#include "common/config/loader.h"
#include "common/config/schema.h"
#include "common/log/log.h"
#include "common/metrics/registry.h"
#include "common/runtime/drain.h"
#include "common/runtime/signals.h"
#include "common/runtime/worker_pool.h"

namespace ambit::app {

namespace asio = boost::asio;

// Fields every server's config has.
struct ServiceConfig {
  std::string log_level = "info";
  uint32_t workers = 0;  // 0 = one per CPU
  std::chrono::milliseconds drain_deadline{std::chrono::seconds(5)};
  admin::AdminConfig admin;
};

template <typename T>
void addServiceFields(config::Schema<T>& s, std::function<ServiceConfig&(T&)> access) {
  s.template field<std::string>(
       "log_level", "initial log level (trace, debug, info, warn, error, off)",
       [access](T& c) -> auto& { return access(c).log_level; },
       [](const std::string& v) -> std::optional<std::string> {
         static const char* kLevels[] = {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
         for (const char* l : kLevels) {
           if (v == l) return std::nullopt;
         }
         return "expected trace, debug, info, warn, error, critical or off, got '" + v + "'";
       })
      .template field<uint32_t>("workers", "worker threads (0 = one per CPU)",
                                [access](T& c) -> auto& { return access(c).workers; },
                                config::inRange<uint32_t>(0, 256))
      .template field<std::chrono::milliseconds>(
          "drain_deadline", "on SIGTERM, how long live connections may take to finish before they are cut",
          [access](T& c) -> auto& { return access(c).drain_deadline; }, config::positiveDuration());
  admin::addAdminFields<T>(s, [access](T& c) -> admin::AdminConfig& { return access(c).admin; });
}

// A binary's config from its command line: logs warnings, prints the issues
// (exit code 2) or, for --print-config, the effective config (exit code 0).
// Returns the loaded config when the binary should go on running.
template <typename T>
std::optional<config::LoadOutcome<T>> loadConfig(const config::Schema<T>& schema,
                                                 const config::CommandLine& cmdline, int& exit_code) {
  auto loaded = config::load(schema, cmdline.inputs());
  for (const auto& w : loaded.warnings) log::warn(*log::scope(schema.program()), "config_warning", "detail", w);
  if (!loaded.ok()) {
    std::cerr << loaded.describeIssues(schema.program()) << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (cmdline.printConfigRequested()) {
    std::cout << config::renderEffective(schema, &*loaded.config, loaded.origins);
    exit_code = 0;
    return std::nullopt;
  }
  return loaded;
}

class Service {
 public:
  Service(std::string name, ServiceConfig config);
  ~Service();

  // Starts the workers and the admin, stats and readiness listeners.
  Status start();
  // Blocks until SIGTERM/SIGINT or POST /quitquitquit, then drains and stops.
  // Returns the process exit code.
  int runUntilShutdown();

  void setReadiness(std::function<admin::Readiness()> fn) { readiness_ = std::move(fn); }
  // Adds a section to /config_dump.
  void addConfigDump(std::string section, std::function<nlohmann::json()> fn);

  runtime::WorkerPool& workers() { return *workers_; }
  runtime::Drain& drain() { return drain_; }
  metrics::Registry& metrics() { return *registry_; }
  runtime::ShutdownSignal& shutdown() { return shutdown_; }
  const asio::ip::tcp::endpoint& adminEndpoint() const { return admin_ep_; }

 private:
  std::string name_;
  ServiceConfig config_;
  std::unique_ptr<runtime::WorkerPool> workers_;
  std::unique_ptr<metrics::Registry> registry_;
  runtime::Drain drain_;
  runtime::ShutdownSignal shutdown_;
  admin::AdminServer admin_;
  asio::ip::tcp::endpoint admin_ep_;
  std::function<admin::Readiness()> readiness_;
  std::vector<std::pair<std::string, std::function<nlohmann::json()>>> dumps_;
  std::chrono::system_clock::time_point started_at_;
};

}  // namespace ambit::app
