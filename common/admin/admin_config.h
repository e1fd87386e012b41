// Admin, stats and readiness addresses: the same fields in every binary's config.
#pragma once

#include <string>

#include "common/config/schema.h"

namespace ambit::admin {

struct AdminConfig {
  std::string address = "127.0.0.1";   // admin (config dump, logging, quit): localhost only by default
  uint16_t port = 15000;
  std::string stats_address = "0.0.0.0";  // Prometheus scrape, node-facing
  uint16_t stats_port = 15020;
  std::string readiness_address = "0.0.0.0";
  uint16_t readiness_port = 15021;
};

// Declares admin.* fields on a binary's schema; `access` finds its AdminConfig.
template <typename T>
void addAdminFields(config::Schema<T>& s, std::function<AdminConfig&(T&)> access) {
  s.template field<std::string>("admin.address", "admin listener address (keep it on localhost)",
                                [access](T& c) -> auto& { return access(c).address; }, config::ipAddress())
      .template field<uint16_t>("admin.port", "admin listener port (0 = any)",
                                [access](T& c) -> auto& { return access(c).port; })
      .template field<std::string>("admin.stats_address", "Prometheus /stats/prometheus listener address",
                                   [access](T& c) -> auto& { return access(c).stats_address; }, config::ipAddress())
      .template field<uint16_t>("admin.stats_port", "Prometheus listener port (0 = any)",
                                [access](T& c) -> auto& { return access(c).stats_port; })
      .template field<std::string>("admin.readiness_address", "/healthz/ready listener address",
                                   [access](T& c) -> auto& { return access(c).readiness_address; },
                                   config::ipAddress())
      .template field<uint16_t>("admin.readiness_port", "/healthz/ready listener port (0 = any)",
                                [access](T& c) -> auto& { return access(c).readiness_port; });
}

}  // namespace ambit::admin
