// ztunnel: the node proxy. This binary so far is the runtime shell (config,
// workers, admin, drain); the proxy data paths arrive with the ztunnel issue.
#include <iostream>

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

  auto loaded = config::load(schema, cmdline.inputs());
  auto logger = log::scope("ztunnel");
  for (const auto& w : loaded.warnings) log::warn(*logger, "config_warning", "detail", w);
  if (!loaded.ok()) {
    std::cerr << loaded.describeIssues("ztunnel") << "\n";
    return 2;
  }
  if (cmdline.printConfigRequested()) {
    std::cout << config::renderEffective(schema, &*loaded.config, loaded.origins);
    return 0;
  }

  app::Service service("ztunnel", loaded.config->service);
  if (auto st = service.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }
  service.addConfigDump("config", [cfg = *loaded.config, &schema, origins = loaded.origins] {
    return config::effectiveJson(schema, &cfg, origins);
  });
  return service.runUntilShutdown();
}
