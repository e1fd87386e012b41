// ztunnel's typed configuration (file + AMBIT_* environment + flags).
#pragma once

#include "common/app/service.h"
#include "common/config/schema.h"

namespace ambit::ztunnel {

struct ZtunnelConfig {
  app::ServiceConfig service;
};

config::Schema<ZtunnelConfig> ztunnelSchema();

}  // namespace ambit::ztunnel
