// ambitd: Ambit's control plane. `ambitd [flags]` serves xDS for a directory
// of YAML; `ambitd validate DIR` checks such a directory and exits.
#include <iostream>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "common/app/service.h"
#include "common/config/loader.h"
#include "common/log/log.h"
#include "controlplane/ambitd/config.h"
#include "controlplane/ca/service.h"
#include "controlplane/pusher.h"
#include "controlplane/source/file_source.h"
#include "controlplane/validate/report.h"
#include "controlplane/xds/server.h"

int main(int argc, char** argv) {
  using namespace ambit;
  using namespace ambit::controlplane;
  auto schema = ambitdSchema();
  CLI::App cli("ambitd: Ambit's control plane (xDS server and CA)");
  config::CommandLine cmdline(cli, schema);
  std::string validate_dir;
  auto* validate = cli.add_subcommand("validate", "check a config directory and exit (non-zero on errors)");
  validate->add_option("dir", validate_dir, "directory of YAML")->required();
  CLI11_PARSE(cli, argc, argv);
  if (*validate) return printValidation(validate_dir, std::cout, std::cerr);

  int exit_code = 0;
  auto loaded = app::loadConfig(schema, cmdline, exit_code);
  if (!loaded) return exit_code;
  auto logger = log::scope("ambitd");
  const AmbitdConfig& cfg = *loaded->config;
  if (cfg.config_dir.empty()) {
    std::cerr << "ambitd: config_dir is required (--config_dir DIR, or config_dir: in the config file)\n";
    return 2;
  }

  app::Service service("ambitd", cfg.service);
  ModelStore store;
  xds::XdsServer xds(service.metrics());
  Pusher pusher(store, xds, cfg.mesh, cfg.push, service.metrics());
  FileSource files(cfg.config_dir, store, cfg.file_settle);
  if (auto st = files.start(); !st) {
    log::error(*logger, "config_source_failed", "error", st.error().message);
    return 1;
  }
  pusher.start();

  ca::AuthorityOptions ca_opts;
  ca_opts.state_dir = cfg.ca_state_dir;
  ca_opts.cacerts_dir = cfg.ca_cacerts_dir;
  ca_opts.default_ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.ca_default_ttl);
  ca_opts.max_ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.ca_max_ttl);
  auto authority = ca::CertificateAuthority::loadOrCreate(ca_opts);
  if (!authority) {
    log::error(*logger, "ca_failed", "error", authority.error().message);
    return 1;
  }
  // Read again when it changes (tokens are added and rotated without a restart).
  std::unique_ptr<ca::TokenFile> token_file;
  ca::TokenAuthenticator no_tokens;
  if (!cfg.ca_token_file.empty()) {
    auto t = ca::TokenFile::open(cfg.ca_token_file, cfg.mesh.trust_domain,
                                 [logger](const std::string& error, std::size_t count) {
                                   if (error.empty()) {
                                     log::info(*logger, "ca_tokens_reloaded", "tokens", count);
                                   } else {
                                     log::error(*logger, "ca_tokens_failed", "error", error);
                                   }
                                 });
    if (!t) {
      log::error(*logger, "ca_tokens_failed", "error", t.error().message);
      return 1;
    }
    token_file = std::move(*t);
  } else {
    log::warn(*logger, "ca_no_tokens", "detail", "ca.token_file is not set: every certificate request is refused");
  }
  const ca::Authenticator& tokens = token_file ? static_cast<const ca::Authenticator&>(*token_file) : no_tokens;
  ca::CaService ca_service(**authority, tokens, cfg.mesh.trust_domain, [&] { return store.current(); },
                           service.metrics());
  auto serving = (*authority)->issueServing(cfg.ca_server_dns_names, std::chrono::hours(24 * 365));
  if (!serving) {
    log::error(*logger, "serving_cert_failed", "error", serving.error().message);
    return 1;
  }
  grpc::SslServerCredentialsOptions tls_opts;
  tls_opts.pem_key_cert_pairs.push_back({serving->second, serving->first});

  grpc::ServerBuilder builder;
  int xds_port = 0;
  int tls_port = 0;
  builder.AddListeningPort(fmt::format("{}:{}", cfg.xds_address.find(':') == std::string::npos
                                                    ? cfg.xds_address
                                                    : "[" + cfg.xds_address + "]",
                                       cfg.xds_plaintext_port),
                           grpc::InsecureServerCredentials(), &xds_port);
  if (cfg.xds_tls_port != 0 || cfg.xds_plaintext_port == 0) {
    builder.AddListeningPort(fmt::format("{}:{}", cfg.xds_address.find(':') == std::string::npos
                                                      ? cfg.xds_address
                                                      : "[" + cfg.xds_address + "]",
                                         cfg.xds_tls_port),
                             grpc::SslServerCredentials(tls_opts), &tls_port);
  }
  builder.RegisterService(&xds);
  builder.RegisterService(&ca_service);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || xds_port == 0) {
    log::error(*logger, "xds_listen_failed", "address", cfg.xds_address, "port", cfg.xds_plaintext_port);
    return 1;
  }
  service.setReadiness([&]() -> admin::Readiness {
    if (!files.synced()) return {false, "config directory not loaded yet"};
    return {true, "ready"};
  });
  service.addConfigDump("config", [&, origins = loaded->origins] { return config::effectiveJson(schema, &cfg, origins); });
  service.addConfigDump("source", [&] { return files.dump(); });
  service.addConfigDump("model", [&] {
    auto snap = store.current();
    return nlohmann::json{{"version", snap->version}, {"objects", snap->size()}, {"pods", snap->pods.size()},
                          {"services", snap->services.size()},
                          {"authorization_policies", snap->authorization_policies.size()}};
  });
  service.addConfigDump("xds", [&] { return xds.dump(); });
  if (auto st = service.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }
  service.addConfigDump("ca", [&] {
    return nlohmann::json{{"source", (*authority)->source()},
                          {"expires", tls::formatTime((*authority)->signingCertExpiry())},
                          {"root_cert", (*authority)->rootPem()},
                          {"tokens", token_file ? (token_file->refresh(), token_file->size()) : 0},
                          {"token_file_error", token_file ? token_file->lastError() : ""}};
  });
  log::info(*logger, "xds_listening", "address", cfg.xds_address, "port", xds_port, "tls_port", tls_port,
            "config_dir", cfg.config_dir, "ca", (*authority)->source());

  int rc = service.runUntilShutdown();
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  pusher.stop();
  files.stop();
  return rc;
}
