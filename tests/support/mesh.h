// Real ambitd and ztunnel processes for integration tests: started on
// loopback with kernel-chosen ports, their ports read from their logs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ambit::test {

// Namespace demo (ambient), pod client (sa client) on node-a, pod backend
// (sa backend, app=backend) on node-b, service backend (vip:80 -> 8080).
std::string twoNodeMeshYaml(const std::string& client_ip, const std::string& backend_ip, const std::string& vip);

// The mesh objects of a waypoint (Gateway demo/waypoint, its pod on node-w at
// `waypoint_ip`, its Service at `waypoint_vip`) and of service "reviews" (VIP
// `reviews_vip`, pods app=`reviews_app`, port 9080 -> 8080 named
// `reviews_port_name`) that uses it.
std::string waypointYaml(const std::string& waypoint_ip, const std::string& waypoint_vip,
                         const std::string& reviews_vip, const std::string& reviews_app,
                         const std::string& reviews_port_name);

// ambitd on `dir`/config with its CA state in `dir`/state and node tokens in
// `dir`/tokens.yaml; `*tls_port` gets its xDS + CA TLS port. Null on failure
// (the failure is recorded with ADD_FAILURE).
std::unique_ptr<ChildProcess> startAmbitd(const std::string& dir, std::string* tls_port);

struct ZtunnelProcess {
  std::unique_ptr<ChildProcess> proc;
  uint16_t socks = 0;      // SOCKS5 entry (shared mode)
  uint16_t admin = 0;      // /config_dump
  uint16_t stats = 0;      // /stats/prometheus
  uint16_t readiness = 0;  // /healthz/ready
};

// A ztunnel for `node`, fed by the ambitd of startAmbitd(dir); `token` is a
// file name in `dir`. `extra` flags are appended (e.g. in-pod mode).
ZtunnelProcess startZtunnel(const std::string& dir, const std::string& tls_port, const std::string& node,
                            const std::string& token, const std::vector<std::string>& extra = {});

struct WaypointProcess {
  std::unique_ptr<ChildProcess> proc;
  uint16_t admin = 0;  // /config_dump
  uint16_t stats = 0;  // /stats/prometheus
};

// A waypoint for Gateway demo/waypoint (service account "waypoint") listening
// on `ip`:15008, fed by the ambitd of startAmbitd(dir); `token` is a file name
// in `dir`. `extra` flags are appended.
WaypointProcess startWaypoint(const std::string& dir, const std::string& tls_port, const std::string& ip,
                              const std::string& token, const std::vector<std::string>& extra = {});

// ambit-agent with `args` appended to loopback admin ports chosen by the
// kernel; started = its admin is up (it opens the ZDS socket after its first
// pass over the pods: wait for "msg=zds_listening").
struct AgentProcess {
  std::unique_ptr<ChildProcess> proc;
  uint16_t admin = 0;
  uint16_t stats = 0;
};
AgentProcess startAgent(const std::vector<std::string>& args);

}  // namespace ambit::test
