// ztunnel's typed configuration (file + AMBIT_* environment + flags).
#pragma once

#include <chrono>
#include <string>

#include "common/app/service.h"
#include "common/config/schema.h"
#include "common/xds/control_plane_config.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::ztunnel {

struct ZtunnelConfig {
  app::ServiceConfig service;
  proxy::ProxyConfig proxy;
  xds::ControlPlaneConfig control_plane;
  std::string inpod_socket = "/var/run/ambit/ztunnel.sock";  // the node agent (in-pod mode)
  ZtunnelConfig();
};

config::Schema<ZtunnelConfig> ztunnelSchema();

}  // namespace ambit::ztunnel
