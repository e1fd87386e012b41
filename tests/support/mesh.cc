#include "tests/support/mesh.h"

#include <chrono>

#include <gtest/gtest.h>

namespace ambit::test {

using namespace std::chrono_literals;

namespace {

uint16_t portOf(const std::string& host_port) {
  return static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

// Admin, stats and readiness on loopback ports the kernel picks (read back
// from the "msg=started" line).
std::vector<std::string> loopbackAdmin() {
  return {"--admin.port", "0", "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
          "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0"};
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

std::string twoNodeMeshYaml(const std::string& client_ip, const std::string& backend_ip, const std::string& vip) {
  return R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, nodeName: node-a}
status: {podIP: )" + client_ip + R"(}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-b}
status: {podIP: )" + backend_ip + R"(}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo}
spec: {clusterIP: )" + vip + R"(, selector: {app: backend}, ports: [{name: tcp, port: 80, targetPort: 8080}]}
)";
}

std::string waypointYaml(const std::string& waypoint_ip, const std::string& waypoint_vip,
                         const std::string& reviews_vip, const std::string& reviews_app,
                         const std::string& reviews_port_name) {
  return R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, nodeName: node-w}
status: {podIP: )" +
         waypoint_ip + R"(}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: demo}
spec:
  clusterIP: )" +
         waypoint_vip + R"(
  selector: {gateway.networking.k8s.io/gateway-name: waypoint}
  ports: [{name: mesh, port: 15008}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: )" +
         reviews_vip + R"(, selector: {app: )" + reviews_app + R"(}, ports: [{name: )" + reviews_port_name +
         R"(, port: 9080, targetPort: 8080}]}
)";
}

std::unique_ptr<ChildProcess> startAmbitd(const std::string& dir, std::string* tls_port) {
  auto p = std::make_unique<ChildProcess>(
      AMBITD_BINARY,
      concat({"--config_dir", dir + "/config", "--xds.address", "127.0.0.1", "--xds.plaintext_port", "0",
              "--xds.tls_port", "0", "--ca.state_dir", dir + "/state", "--ca.cacerts_dir", dir + "/no-cacerts",
              "--ca.token_file", dir + "/tokens.yaml", "--workers", "1", "--push.debounce", "20ms"},
             loopbackAdmin()));
  auto line = p->waitForLine("msg=xds_listening", 20s);
  if (!line) {
    ADD_FAILURE() << "ambitd did not start:\n" << p->output();
    return nullptr;
  }
  *tls_port = ChildProcess::field(*line, "tls_port");
  return p;
}

ZtunnelProcess startZtunnel(const std::string& dir, const std::string& tls_port, const std::string& node,
                            const std::string& token, const std::vector<std::string>& extra) {
  auto args = concat(concat({"--node_name", node, "--xds.address", "127.0.0.1:" + tls_port, "--xds.root_cert",
                             dir + "/state/root-cert.pem", "--ca.token_file", dir + "/" + token, "--socks5.port", "0",
                             "--workers", "2", "--drain_deadline", "2s", "--xds.max_backoff", "2s"},
                            loopbackAdmin()),
                     extra);
  ZtunnelProcess z;
  z.proc = std::make_unique<ChildProcess>(ZTUNNEL_BINARY, args);
  auto started = z.proc->waitForLine("msg=started", 20s);
  auto line = z.proc->waitForLine("msg=ztunnel_started", 20s);
  if (!started || !line) {
    ADD_FAILURE() << "ztunnel " << node << " did not start:\n" << z.proc->output();
    z.proc.reset();
    return z;
  }
  z.socks = static_cast<uint16_t>(std::stoi(ChildProcess::field(*line, "socks5_port")));
  z.admin = portOf(ChildProcess::field(*started, "admin"));
  z.stats = portOf(ChildProcess::field(*started, "stats"));
  z.readiness = portOf(ChildProcess::field(*started, "readiness"));
  return z;
}

WaypointProcess startWaypoint(const std::string& dir, const std::string& tls_port, const std::string& ip,
                              const std::string& token, const std::vector<std::string>& extra) {
  auto args = concat(concat({"--gateway.name",
                             "waypoint",
                             "--gateway.namespace",
                             "demo",
                             "--identity.service_account",
                             "waypoint",
                             "--listen.address",
                             ip,
                             "--xds.address",
                             "127.0.0.1:" + tls_port,
                             "--xds.root_cert",
                             dir + "/state/root-cert.pem",
                             "--ca.token_file",
                             dir + "/" + token,
                             "--workers",
                             "2",
                             "--drain_deadline",
                             "2s",
                             "--xds.max_backoff",
                             "2s"},
                            loopbackAdmin()),
                     extra);
  WaypointProcess w;
  w.proc = std::make_unique<ChildProcess>(WAYPOINT_BINARY, args);
  auto started = w.proc->waitForLine("msg=started", 20s);
  auto line = w.proc->waitForLine("msg=waypoint_started", 20s);
  if (!started || !line) {
    ADD_FAILURE() << "waypoint did not start:\n" << w.proc->output();
    w.proc.reset();
    return w;
  }
  w.admin = portOf(ChildProcess::field(*started, "admin"));
  w.stats = portOf(ChildProcess::field(*started, "stats"));
  return w;
}

AgentProcess startAgent(const std::vector<std::string>& extra) {
  auto args = concat(loopbackAdmin(), extra);
  AgentProcess a;
  a.proc = std::make_unique<ChildProcess>(AGENT_BINARY, args);
  auto started = a.proc->waitForLine("msg=started", 20s);
  if (!started) {
    ADD_FAILURE() << "ambit-agent did not start:\n" << a.proc->output();
    a.proc.reset();
    return a;
  }
  a.admin = portOf(ChildProcess::field(*started, "admin"));
  a.stats = portOf(ChildProcess::field(*started, "stats"));
  return a;
}

}  // namespace ambit::test
