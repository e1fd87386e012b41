// The control-plane settings every xDS client binary (ztunnel, waypoint)
// has: where ambitd is, how to trust it, and how to ask its CA for
// certificates; declared once for their config schemas.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/config/schema.h"

namespace ambit::xds {

struct ControlPlaneConfig {
  std::string xds_address = "127.0.0.1:15012";  // ambitd
  bool xds_tls = true;
  std::string xds_root_cert;  // PEM file: the root ambitd's serving certificate chains to
  std::string xds_server_name = "ambitd.istio-system.svc";  // a DNS name in ambitd's certificate
  std::string ca_address;     // "" = xds_address
  std::string ca_token_file;  // the bearer token for the CA
  std::chrono::milliseconds certificate_ttl{std::chrono::hours(24)};
  std::chrono::milliseconds xds_max_backoff{std::chrono::seconds(30)};

  const std::string& caTarget() const { return ca_address.empty() ? xds_address : ca_address; }
};

// Declares xds.*, ca.* on a schema. `token_owner` says whose token it is
// ("this node's"), `certificates` what is asked for ("workload certificates").
template <typename T>
void addControlPlaneFields(config::Schema<T>& s, std::function<ControlPlaneConfig&(T&)> cp,
                           const std::string& token_owner, const std::string& certificates) {
  using ms = std::chrono::milliseconds;
  s.template field<std::string>(
       "xds.address", "ambitd's xDS address (host:port)", [cp](T& c) -> auto& { return cp(c).xds_address; },
       config::nonEmpty())
      .template field<bool>("xds.tls", "use TLS to ambitd (false only for a local lab on loopback)",
                            [cp](T& c) -> auto& { return cp(c).xds_tls; })
      .template field<std::string>("xds.root_cert", "PEM file with the root ambitd's certificate chains to",
                                   [cp](T& c) -> auto& { return cp(c).xds_root_cert; })
      .template field<std::string>("xds.server_name", "DNS name ambitd's TLS certificate must carry",
                                   [cp](T& c) -> auto& { return cp(c).xds_server_name; })
      .template field<ms>("xds.max_backoff", "longest wait between reconnects to ambitd",
                          [cp](T& c) -> auto& { return cp(c).xds_max_backoff; }, config::positiveDuration())
      .template field<std::string>("ca.address", "CA address (host:port; '' = xds.address)",
                                   [cp](T& c) -> auto& { return cp(c).ca_address; })
      .template field<std::string>("ca.token_file", "file holding " + token_owner + " bearer token for the CA",
                                   [cp](T& c) -> auto& { return cp(c).ca_token_file; }, config::nonEmpty())
      .template field<ms>("ca.certificate_ttl", "lifetime asked for " + certificates + " (refreshed at half-life)",
                          [cp](T& c) -> auto& { return cp(c).certificate_ttl; }, config::positiveDuration());
}

// Cross-field rules of these settings.
inline std::vector<config::ConfigIssue> controlPlaneIssues(const ControlPlaneConfig& c) {
  std::vector<config::ConfigIssue> out;
  if (c.xds_tls && c.xds_root_cert.empty()) out.push_back({"", "xds.root_cert", "required when xds.tls is true"});
  return out;
}

}  // namespace ambit::xds
