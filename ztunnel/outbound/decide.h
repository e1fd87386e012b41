// The outbound decision: for a connection an enrolled pod opened (captured on
// 15001 with its original destination), where does ztunnel send it and how?
// A pure function of the proxy state, returning a request that says so; the
// proxy only carries it out. Mirrors Istio ztunnel's rules:
//
//   1. the original destination is a service VIP -> the service; a pod IP ->
//      that workload; anything else -> passthrough, untouched;
//   2. a waypoint on the service (or, for a direct pod address, on the
//      workload) that is not the caller itself -> HBONE to the waypoint, with
//      :authority = the original VIP:port (or pod ip:port), verifying the
//      waypoint's identity;
//   3. a service without a waypoint -> pick a healthy endpoint; port mapping
//      from the endpoint's PortList for the service, else the service's
//      target port, else the same port; no healthy endpoint -> refuse;
//   4. the chosen workload speaks HBONE -> HBONE to its ip:15008, :authority =
//      its ip:target port, verifying its identity; else plain TCP to it.
//
// Same-node destinations get the same request (same policy decision); the
// flag lets the proxy short-cut the network.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "ztunnel/state/state.h"

namespace ambit::ztunnel::outbound {

struct Request {
  enum class Kind {
    kHbone,        // HTTP/2 CONNECT over mTLS to hbone_ip:hbone_port
    kPassthrough,  // plain TCP to target_ip:target_port (destination not in the mesh / no tunnel)
    kRefuse,       // nothing can take it (service without healthy endpoints, waypoint unresolvable)
  };
  Kind kind = Kind::kPassthrough;
  std::string target_ip;         // raw bytes: the endpoint (or, passthrough, the original destination)
  uint16_t target_port = 0;
  std::string hbone_ip;          // raw bytes: where the HBONE connection goes (endpoint or waypoint)
  uint16_t hbone_port = 15008;
  std::string authority;         // CONNECT :authority, "ip:port" / "[v6]:port"
  tls::Identity expected_identity;  // the peer certificate must carry exactly this (HBONE only)
  bool via_waypoint = false;
  bool same_node = false;        // destination workload runs on the source's node
  WorkloadPtr destination;       // the workload reached (endpoint or waypoint); null for passthrough to unknown
  ServicePtr service;            // the service dialled, if any (telemetry: destination_service)
  std::string reason;            // one line for logs and /config_dump ("service demo/backend -> endpoint ...")
};

// Chooses one of n candidates (n >= 1): round robin in the proxy, fixed in tests.
using Picker = std::function<std::size_t(std::size_t n)>;

Request decide(const ProxyState& state, const istio::workload::Workload& source, const std::string& dst_ip,
               uint16_t dst_port, const Picker& pick);

// "198.18.1.10:80" / "[2001:db8::1]:80" from raw address bytes.
std::string hostPort(const std::string& raw_ip, uint16_t port);

}  // namespace ambit::ztunnel::outbound
