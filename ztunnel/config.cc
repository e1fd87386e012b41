// Declares ztunnel's config fields.
#include "ztunnel/config.h"

namespace ambit::ztunnel {

ZtunnelConfig::ZtunnelConfig() {
  // Istio ztunnel's ports: admin on localhost:15000, stats 15020, readiness 15021.
  service.admin.port = 15000;
  service.admin.stats_port = 15020;
  service.admin.readiness_port = 15021;
}

config::Schema<ZtunnelConfig> ztunnelSchema() {
  using C = ZtunnelConfig;
  using ms = std::chrono::milliseconds;
  config::Schema<C> s("ztunnel");
  app::addServiceFields<C>(s, [](C& c) -> app::ServiceConfig& { return c.service; });
  xds::addControlPlaneFields<C>(
      s, [](C& c) -> xds::ControlPlaneConfig& { return c.control_plane; }, "this node's", "workload certificates");
  s.field<std::string>("node_name", "the node this proxy serves (workloads scheduled there are its own)",
                       [](C& c) -> auto& { return c.proxy.node_name; }, config::nonEmpty())
      .field<std::string>("network", "network of this node ('' = default)", [](C& c) -> auto& { return c.proxy.network; })
      .field<std::string>("mesh.trust_domain", "SPIFFE trust domain peers must belong to",
                          [](C& c) -> auto& { return c.proxy.trust_domain; }, config::nonEmpty())
      .field<uint16_t>("ports.hbone", "inbound HBONE port on each workload address",
                       [](C& c) -> auto& { return c.proxy.hbone_port; }, config::inRange<uint16_t>(1, 65535))
      .field<uint16_t>("ports.inbound_plaintext", "inbound plaintext capture port (0 = off)",
                       [](C& c) -> auto& { return c.proxy.inbound_plaintext_port; })
      .field<uint16_t>("ports.outbound", "in-pod: outbound capture port inside each pod",
                       [](C& c) -> auto& { return c.proxy.outbound_port; }, config::inRange<uint16_t>(1, 65535))
      .field<bool>("inpod.enabled",
                   "in-pod mode: listeners inside each enrolled pod's network namespace, handed over by the node agent",
                   [](C& c) -> auto& { return c.proxy.inpod; })
      .field<std::string>("inpod.socket", "the node agent's unix socket (in-pod mode)",
                          [](C& c) -> auto& { return c.inpod_socket; })
      .field<std::string>("inpod.bpf_pin_dir",
                          "the node agent's bpffs directory: with eBPF capture, each pod's inbound (15006) sockets "
                          "are filed in its ambit_inbound map",
                          [](C& c) -> auto& { return c.proxy.bpf_pin_dir; })
      .field<std::string>("socks5.address", "SOCKS5 outbound entry address ('' = off)",
                          [](C& c) -> auto& { return c.proxy.socks5_address; })
      .field<uint16_t>("socks5.port", "SOCKS5 outbound entry port (0 = any)",
                       [](C& c) -> auto& { return c.proxy.socks5_port; })
      .field<ms>("timeouts.connect", "connect timeout (HBONE peers and apps)",
                 [](C& c) -> auto& { return c.proxy.connect_timeout; }, config::positiveDuration())
      .field<ms>("timeouts.handshake", "TLS and SOCKS5 handshake timeout",
                 [](C& c) -> auto& { return c.proxy.handshake_timeout; }, config::positiveDuration())
      .field<ms>("timeouts.certificate_wait", "how long a connection waits for its workload's first certificate",
                 [](C& c) -> auto& { return c.proxy.certificate_wait; }, config::positiveDuration())
      .field<ms>("hbone.idle_timeout", "pooled HBONE connections without streams close after this",
                 [](C& c) -> auto& { return c.proxy.pool.idle_timeout; }, config::positiveDuration())
      .field<ms>("hbone.ping_interval", "HBONE keepalive PING interval",
                 [](C& c) -> auto& { return c.proxy.server_limits.ping_interval; }, config::positiveDuration())
      .validate([](const C& c) {
        auto out = xds::controlPlaneIssues(c.control_plane);
        if (c.proxy.inpod && c.inpod_socket.empty()) {
          out.push_back({"", "inpod.socket", "required when inpod.enabled is true"});
        }
        if (c.proxy.inpod && (c.proxy.outbound_port == c.proxy.hbone_port ||
                              c.proxy.outbound_port == c.proxy.inbound_plaintext_port)) {
          out.push_back({"", "ports.outbound", "must differ from ports.hbone and ports.inbound_plaintext"});
        }
        if (c.proxy.inbound_plaintext_port == c.proxy.hbone_port) {
          out.push_back({"", "ports.inbound_plaintext", "must differ from ports.hbone"});
        }
        return out;
      });
  return s;
}

}  // namespace ambit::ztunnel
