// ambitd's typed configuration.
#pragma once

#include "common/app/service.h"
#include "common/config/schema.h"
#include "controlplane/pusher.h"
#include "controlplane/translate/translate.h"

namespace ambit::controlplane {

struct AmbitdConfig {
  AmbitdConfig();
  app::ServiceConfig service;
  std::string config_dir;
  std::chrono::milliseconds file_settle{10};
  std::string xds_address = "0.0.0.0";
  uint16_t xds_plaintext_port = 15010;
  uint16_t xds_tls_port = 15012;  // xDS + CA over TLS; 0 = any
  std::string ca_state_dir = "/var/lib/ambitd";
  std::string ca_cacerts_dir = "/etc/cacerts";
  std::string ca_token_file;
  std::chrono::milliseconds ca_default_ttl{24 * 3600 * 1000};
  std::chrono::milliseconds ca_max_ttl{7 * 24 * 3600 * 1000};
  std::vector<std::string> ca_server_dns_names{"ambitd.istio-system.svc", "istiod.istio-system.svc"};
  MeshSettings mesh;
  PushSettings push;
};

config::Schema<AmbitdConfig> ambitdSchema();

}  // namespace ambit::controlplane
