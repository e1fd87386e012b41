// Service start-up and shutdown.
#include "common/app/service.h"

#include "common/log/log.h"

namespace ambit::app {

using asio::ip::tcp;

Service::Service(std::string name, ServiceConfig config)
    : name_(std::move(name)),
      config_(std::move(config)),
      workers_(std::make_unique<runtime::WorkerPool>(config_.workers, name_)),
      registry_(std::make_unique<metrics::Registry>(workers_->size() + 1)) {
  if (auto level = log::parseLevel(config_.log_level)) log::setDefaultLevel(*level);
}

Service::~Service() {
  admin_.stop();
  // The io_contexts own coroutine frames holding Drain handles: destroy them
  // while drain_ is still alive.
  workers_->abort();
  workers_.reset();
}

void Service::addConfigDump(std::string section, std::function<nlohmann::json()> fn) {
  dumps_.emplace_back(std::move(section), std::move(fn));
}

Status Service::start() {
  started_at_ = std::chrono::system_clock::now();
  registry_->callbackGauge("ambit_build_info", "Ambit build and component", {"component", "version"},
                           [name = name_] { return std::vector<metrics::CallbackSample>{{{name, AMBIT_VERSION}, 1}}; });
  registry_->callbackGauge("ambit_drain_active_connections", "Connections tracked for drain", {},
                           [this] { return std::vector<metrics::CallbackSample>{{{}, double(drain_.active())}}; });

  admin::addStandardHandlers(admin_, admin::StandardHandlers{
      .registry = registry_.get(),
      .ready = [this]() -> admin::Readiness {
        if (drain_.draining()) return {false, "draining"};
        return readiness_ ? readiness_() : admin::Readiness{true, "ready"};
      },
      .config_dump = [this] {
        nlohmann::json j;
        j["component"] = name_;
        j["version"] = AMBIT_VERSION;
        j["workers"] = workers_->size();
        j["uptime_seconds"] =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_at_).count();
        for (const auto& [section, fn] : dumps_) j[section] = fn();
        return j;
      },
      .quit = [this] { shutdown_.request("admin /quitquitquit"); },
  });

  const auto& a = config_.admin;
  auto admin_ep = admin_.listen(tcp::endpoint(asio::ip::make_address(a.address), a.port));
  if (!admin_ep) return admin_ep.error();
  admin_ep_ = *admin_ep;
  auto stats_ep = admin_.listen(tcp::endpoint(asio::ip::make_address(a.stats_address), a.stats_port),
                                admin::statsPaths());
  if (!stats_ep) return stats_ep.error();
  auto ready_ep = admin_.listen(tcp::endpoint(asio::ip::make_address(a.readiness_address), a.readiness_port),
                                admin::readinessPaths());
  if (!ready_ep) return ready_ep.error();

  workers_->start();
  admin_.start();
  log::info(*log::scope(name_), "started", "version", AMBIT_VERSION, "workers", workers_->size(), "admin",
            fmt::format("{}:{}", admin_ep_.address().to_string(), admin_ep_.port()), "stats",
            fmt::format("{}:{}", stats_ep->address().to_string(), stats_ep->port()), "readiness",
            fmt::format("{}:{}", ready_ep->address().to_string(), ready_ep->port()));
  return okStatus();
}

int Service::runUntilShutdown() {
  auto logger = log::scope(name_);
  std::string reason = shutdown_.wait();
  log::info(*logger, "draining", "reason", reason, "connections", drain_.active(), "deadline",
            fmt::format("{}ms", config_.drain_deadline.count()));
  auto outcome = drain_.drainAndWait(config_.drain_deadline);
  log::info(*logger, "drained", "finished", outcome.finished, "cut", outcome.cut, "all_closed", outcome.all_closed);
  // Every connection has ended or been cut; whatever is still queued (an upstream
  // read a cut did not cancel, a timer) must not keep the process alive.
  workers_->abort();
  admin_.stop();
  return 0;
}

}  // namespace ambit::app
