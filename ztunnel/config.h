// ztunnel's typed configuration (file + AMBIT_* environment + flags).
#pragma once

#include <chrono>
#include <string>

#include "common/app/service.h"
#include "common/config/schema.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::ztunnel {

struct ZtunnelConfig {
  app::ServiceConfig service;
  proxy::ProxyConfig proxy;
  std::string xds_address = "127.0.0.1:15012";  // ambitd
  bool xds_tls = true;
  std::string xds_root_cert;   // PEM file: the root ambitd's serving certificate chains to
  std::string xds_server_name = "ambitd.istio-system.svc";  // a DNS name in ambitd's certificate
  std::string ca_address;      // "" = xds_address
  std::string ca_token_file;   // this node's bearer token for the CA
  std::chrono::milliseconds certificate_ttl{std::chrono::hours(24)};
  std::chrono::milliseconds xds_max_backoff{std::chrono::seconds(30)};
  std::string inpod_socket = "/var/run/ambit/ztunnel.sock";  // the node agent (in-pod mode)
  ZtunnelConfig();
};

config::Schema<ZtunnelConfig> ztunnelSchema();

}  // namespace ambit::ztunnel
