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
  s.field<std::string>("node_name", "the node this proxy serves (workloads scheduled there are its own)",
                       [](C& c) -> auto& { return c.proxy.node_name; }, config::nonEmpty())
      .field<std::string>("network", "network of this node ('' = default)", [](C& c) -> auto& { return c.proxy.network; })
      .field<std::string>("mesh.trust_domain", "SPIFFE trust domain peers must belong to",
                          [](C& c) -> auto& { return c.proxy.trust_domain; }, config::nonEmpty())
      .field<std::string>("xds.address", "ambitd's xDS address (host:port)", [](C& c) -> auto& { return c.xds_address; },
                          config::nonEmpty())
      .field<bool>("xds.tls", "use TLS to ambitd (false only for a local lab on loopback)",
                   [](C& c) -> auto& { return c.xds_tls; })
      .field<std::string>("xds.root_cert", "PEM file with the root ambitd's certificate chains to",
                          [](C& c) -> auto& { return c.xds_root_cert; })
      .field<std::string>("xds.server_name", "DNS name ambitd's TLS certificate must carry",
                          [](C& c) -> auto& { return c.xds_server_name; })
      .field<ms>("xds.max_backoff", "longest wait between reconnects to ambitd",
                 [](C& c) -> auto& { return c.xds_max_backoff; }, config::positiveDuration())
      .field<std::string>("ca.address", "CA address (host:port; '' = xds.address)",
                          [](C& c) -> auto& { return c.ca_address; })
      .field<std::string>("ca.token_file", "file holding this node's bearer token for the CA",
                          [](C& c) -> auto& { return c.ca_token_file; }, config::nonEmpty())
      .field<ms>("ca.certificate_ttl", "lifetime asked for workload certificates (refreshed at half-life)",
                 [](C& c) -> auto& { return c.certificate_ttl; }, config::positiveDuration())
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
        std::vector<config::ConfigIssue> out;
        if (c.xds_tls && c.xds_root_cert.empty()) {
          out.push_back({"", "xds.root_cert", "required when xds.tls is true"});
        }
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
