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
  MeshSettings mesh;
  PushSettings push;
};

config::Schema<AmbitdConfig> ambitdSchema();

}  // namespace ambit::controlplane
