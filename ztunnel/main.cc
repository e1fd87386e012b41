// ztunnel: the node proxy. This binary so far is the runtime shell (config,
// workers, admin, drain); the proxy data paths arrive with the ztunnel issue.
#include <CLI/CLI.hpp>

#include "common/app/service.h"
#include "common/config/loader.h"
#include "common/log/log.h"
#include "ztunnel/config.h"

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

  app::Service service("ztunnel", loaded->config->service);
  if (auto st = service.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }
  service.addConfigDump("config", [cfg = *loaded->config, &schema, origins = loaded->origins] {
    return config::effectiveJson(schema, &cfg, origins);
  });
  return service.runUntilShutdown();
}
