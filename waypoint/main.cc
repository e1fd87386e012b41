// waypoint: Ambit's per-namespace L7 proxy. Wires the xDS client (ambitd:
// WDS, route configuration, L7 policy), the identity manager (ambitd's CA,
// with the waypoint's own token), the HBONE listener and the admin endpoints.
#include <CLI/CLI.hpp>

#include "common/app/service.h"
#include "common/config/loader.h"
#include "common/log/log.h"
#include "common/xds/client_setup.h"
#include "common/xds/delta_client.h"
#include "waypoint/config.h"
#include "waypoint/proxy/proxy.h"
#include "waypoint/state/route_store.h"
#include "ztunnel/identity/manager.h"
#include "ztunnel/xds/state_store.h"

int main(int argc, char** argv) {
  using namespace ambit;
  auto schema = waypoint::waypointSchema();
  CLI::App cli("waypoint: Ambit's per-namespace L7 proxy");
  config::CommandLine cmdline(cli, schema);
  CLI11_PARSE(cli, argc, argv);

  int exit_code = 0;
  auto loaded = app::loadConfig(schema, cmdline, exit_code);
  if (!loaded) return exit_code;
  auto logger = log::scope("waypoint");
  auto cfg = *loaded->config;
  cfg.proxy.pool.limits.ping_interval = cfg.proxy.server_limits.ping_interval;
  cfg.proxy.pool.limits.ping_timeout = cfg.proxy.server_limits.ping_timeout =
      2 * cfg.proxy.server_limits.ping_interval;

  auto access = xds::readControlPlaneAccess(cfg.control_plane);
  if (!access) {
    log::error(*logger, "start_failed", "error", access.error().message);
    return 1;
  }
  const std::string& root_pem = access->root_pem;

  // Declared before the Service so they outlive its workers' coroutine frames.
  ztunnel::StateStore state;
  waypoint::RouteStore routes;
  ztunnel::identity::ManagerOptions id_opts;
  id_opts.ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.control_plane.certificate_ttl);
  ztunnel::identity::Manager identities(
      ztunnel::identity::makeGrpcCaClient(cfg.control_plane.caTarget(), cfg.control_plane.xds_tls, root_pem,
                                          cfg.control_plane.xds_server_name, access->token),
      id_opts);
  std::unique_ptr<waypoint::Waypoint> proxy_ptr;
  app::Service service("waypoint", cfg.service);
  proxy_ptr = std::make_unique<waypoint::Waypoint>(cfg.proxy, service, state, routes, identities);
  auto& proxy = *proxy_ptr;

  auto xo = xds::clientOptions(cfg.control_plane, root_pem, "waypoint~" + cfg.proxy.ns + "/" + cfg.proxy.name);
  (*xo.node.mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value(cfg.proxy.ns);
  (*xo.node.mutable_metadata()->mutable_fields())["GATEWAY_NAME"].set_string_value(cfg.proxy.name);
  xds::DeltaClient xds(xo, {&state.addressHandler(), &routes.hostHandler(), &routes.policyHandler()});
  proxy.setConfigured([&xds] { return xds.synced(); });

  service.setReadiness([&]() -> admin::Readiness {
    if (!xds.synced()) return {false, "waiting for the first xDS config from " + cfg.control_plane.xds_address};
    if (!identities.store(proxy.identity())->current())
      return {false, "waiting for the waypoint's certificate"};
    return {true, "ready"};
  });
  service.addConfigDump("config", [cfg = *loaded->config, &schema, origins = loaded->origins] {
    return config::effectiveJson(schema, &cfg, origins);
  });
  service.addConfigDump("xds", [&] { return xds.dump(); });
  service.addConfigDump("waypoint", [&] { return proxy.dump(); });
  service.addConfigDump("certificates", [&] { return identities.dump(); });
  service.metrics().callbackGauge(
      "ambit_waypoint_xds_objects", "workloads, services, hosts and policies the waypoint holds", {"kind"},
      [&] {
        auto st = state.current();
        auto rt = routes.current();
        return std::vector<metrics::CallbackSample>{{{"workload"}, double(st->workloadCount())},
                                                    {{"service"}, double(st->serviceCount())},
                                                    {{"host"}, double(rt->hostCount())},
                                                    {{"policy"}, double(rt->policyCount())}};
      });
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
  auto ep = proxy.endpoint();
  log::info(*logger, "waypoint_started", "gateway", cfg.proxy.ns + "/" + cfg.proxy.name, "identity",
            proxy.identity().toString(), "hbone", ep.address().to_string() + ":" + std::to_string(ep.port()),
            "xds", cfg.control_plane.xds_address, "admin_port", service.adminEndpoint().port());
  int rc = service.runUntilShutdown();
  xds.stop();
  identities.stop();
  proxy.stop();
  return rc;
}
