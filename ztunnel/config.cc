// Declares ztunnel's config fields.
#include "ztunnel/config.h"

namespace ambit::ztunnel {

config::Schema<ZtunnelConfig> ztunnelSchema() {
  config::Schema<ZtunnelConfig> s("ztunnel");
  app::addServiceFields<ZtunnelConfig>(s, [](ZtunnelConfig& c) -> app::ServiceConfig& { return c.service; });
  return s;
}

}  // namespace ambit::ztunnel
