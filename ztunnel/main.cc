// ztunnel: Ambit's node proxy. Wires the xDS client (ambitd), the identity
// manager (ambitd's CA), the proxy's listeners and the admin endpoints.
#include <atomic>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/app/service.h"
#include "common/config/loader.h"
#include "common/log/log.h"
#include "common/xds/client_setup.h"
#include "common/xds/delta_client.h"
#include "common/zds/client.h"
#include "ztunnel/config.h"
#include "ztunnel/identity/manager.h"
#include "ztunnel/proxy/proxy.h"
#include "ztunnel/xds/state_store.h"

int main(int argc, char** argv) {
  using namespace ambit;
  auto schema = ztunnel::ztunnelSchema();
  CLI::App cli("ztunnel: Ambit's node proxy");
  config::CommandLine cmdline(cli, schema);
  CLI11_PARSE(cli, argc, argv);

  int exit_code = 0;
  auto loaded = app::loadConfig(schema, cmdline, exit_code);
  if (!loaded) return exit_code;
  auto logger = log::scope("ztunnel");
  auto cfg = *loaded->config;
  cfg.proxy.pool.limits.ping_interval = cfg.proxy.server_limits.ping_interval;
  cfg.proxy.pool.limits.ping_timeout = cfg.proxy.server_limits.ping_timeout = 2 * cfg.proxy.server_limits.ping_interval;

  auto access = xds::readControlPlaneAccess(cfg.control_plane);
  if (!access) {
    log::error(*logger, "start_failed", "error", access.error().message);
    return 1;
  }
  const std::string& root_pem = access->root_pem;

  // Declared before the Service so they outlive its workers' coroutine frames.
  ztunnel::StateStore state;
  std::unique_ptr<ztunnel::identity::Manager> identities_ptr;
  std::unique_ptr<ztunnel::proxy::Proxy> proxy_ptr;
  app::Service service("ztunnel", cfg.service);
  ztunnel::identity::ManagerOptions id_opts;
  id_opts.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.control_plane.certificate_ttl);
  identities_ptr = std::make_unique<ztunnel::identity::Manager>(
      ztunnel::identity::makeGrpcCaClient(cfg.control_plane.caTarget(), cfg.control_plane.xds_tls, root_pem,
                                          cfg.control_plane.xds_server_name, access->token),
      id_opts);
  auto& identities = *identities_ptr;
  proxy_ptr = std::make_unique<ztunnel::proxy::Proxy>(cfg.proxy, service, state, identities);
  auto& proxy = *proxy_ptr;
  state.onUpdate([&proxy](const auto& s) { proxy.onState(s); });

  auto xo = xds::clientOptions(cfg.control_plane, root_pem, "ztunnel~" + cfg.proxy.node_name);
  (*xo.node.mutable_metadata()->mutable_fields())["NODE_NAME"].set_string_value(cfg.proxy.node_name);
  xds::DeltaClient xds(xo, {&state.addressHandler(), &state.authorizationHandler()});

  // In-pod mode: the node agent hands over pods; each change is applied (listeners
  // open) before it is acked.
  std::unique_ptr<zds::Client> agent;
  if (cfg.proxy.inpod) {
    agent = std::make_unique<zds::Client>(zds::ClientOptions{.path = cfg.inpod_socket},
                                          [&proxy](const zds::Pods& pods) { return proxy.onPods(pods); });
  }

  service.setReadiness([&]() -> admin::Readiness {
    if (!xds.synced()) return {false, "waiting for the first xDS config from " + cfg.control_plane.xds_address};
    if (agent && !agent->synced()) return {false, "waiting for the node agent's snapshot on " + cfg.inpod_socket};
    return {true, "ready"};
  });
  service.addConfigDump("config", [cfg = *loaded->config, &schema, origins = loaded->origins] {
    return config::effectiveJson(schema, &cfg, origins);
  });
  service.addConfigDump("xds", [&] { return xds.dump(); });
  service.addConfigDump("proxy", [&] { return proxy.dump(); });
  // Counts without building /config_dump's lists (benchmarks poll these).
  service.metrics().callbackGauge("ambit_ztunnel_xds_objects", "workloads, services and policies ztunnel holds",
                                  {"kind"}, [&] {
                                    auto st = state.current();
                                    return std::vector<metrics::CallbackSample>{
                                        {{"workload"}, double(st->workloadCount())},
                                        {{"service"}, double(st->serviceCount())},
                                        {{"policy"}, double(st->policies().all().size())}};
                                  });
  if (agent) service.addConfigDump("node_agent", [&] { return agent->dump(); });
  if (auto st = service.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }
  if (auto st = proxy.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }
  identities.start();
  xds.start();
  // Pods are taken over only once the first xDS config is in: a new ztunnel
  // beside a running one (rolling restart) must not join the pods' listeners
  // before it can serve them.
  std::atomic<bool> stopping{false};
  std::thread agent_starter;
  if (agent) {
    agent_starter = std::thread([&] {
      while (!stopping && !xds.synced()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!stopping) agent->start();
    });
  }
  auto socks = proxy.socks5Endpoint();
  log::info(*logger, "ztunnel_started", "node", cfg.proxy.node_name, "mode", cfg.proxy.inpod ? "inpod" : "shared",
            "xds", cfg.control_plane.xds_address, "socks5_port",
            socks ? socks->port() : 0, "admin_port", service.adminEndpoint().port());
  int rc = service.runUntilShutdown();
  stopping = true;
  if (agent_starter.joinable()) agent_starter.join();
  if (agent) agent->stop();
  xds.stop();
  identities.stop();
  proxy.stop();
  return rc;
}
