// Declares ambit-agent's config fields.
#include "agent/config.h"

namespace ambit::agent {

AgentConfig::AgentConfig() {
  // Beside ztunnel's 15000/15020/15021 on the same node.
  service.admin.port = 15030;
  service.admin.stats_port = 15031;
  service.admin.readiness_port = 15032;
  service.workers = 1;  // the agent serves only its admin endpoints
}

config::Schema<AgentConfig> agentSchema() {
  using C = AgentConfig;
  using ms = std::chrono::milliseconds;
  config::Schema<C> s("ambit-agent");
  app::addServiceFields<C>(s, [](C& c) -> app::ServiceConfig& { return c.service; });
  s.field<std::string>("node_name", "the node this agent serves (pods scheduled there are its own)",
                       [](C& c) -> auto& { return c.node_name; }, config::nonEmpty())
      .field<std::string>("config_dir", "directory of Kubernetes-style YAML the pods and namespaces come from",
                          [](C& c) -> auto& { return c.config_dir; }, config::nonEmpty())
      .field<std::string>("mesh.cluster_id", "cluster id in workload uids (as ambitd's)",
                          [](C& c) -> auto& { return c.cluster_id; }, config::nonEmpty())
      .field<std::string>(
          "capture.mode", "auto (eBPF, else iptables), ebpf or iptables", [](C& c) -> auto& { return c.capture_mode; },
          [](const std::string& v) -> std::optional<std::string> {
            if (v == "auto" || v == "ebpf" || v == "iptables") return std::nullopt;
            return "expected auto, ebpf or iptables, got '" + v + "'";
          })
      .field<std::string>("bpf.pin_dir", "bpffs directory for Ambit's pinned maps and links",
                          [](C& c) -> auto& { return c.bpf_pin_dir; }, config::nonEmpty())
      .field<std::string>("bpf.cgroup",
                          "cgroup v2 directory the programs attach to: the pods' parent cgroup (never the root)",
                          [](C& c) -> auto& { return c.bpf_cgroup; })
      .field<std::string>("zds.socket", "unix socket ztunnel connects to for pods' namespaces",
                          [](C& c) -> auto& { return c.zds_socket; }, config::nonEmpty())
      .field<ms>("zds.ack_timeout", "how long to wait for ztunnel's ack of a pod",
                 [](C& c) -> auto& { return c.ack_timeout; }, config::positiveDuration())
      .field<uint16_t>("ports.outbound", "ztunnel's outbound capture port in each pod",
                       [](C& c) -> auto& { return c.outbound_port; }, config::inRange<uint16_t>(1, 65535))
      .field<uint16_t>("ports.inbound_plaintext", "ztunnel's inbound plaintext port in each pod",
                       [](C& c) -> auto& { return c.inbound_port; }, config::inRange<uint16_t>(1, 65535))
      .field<uint16_t>("ports.hbone", "ztunnel's HBONE port (never captured)", [](C& c) -> auto& { return c.hbone_port; },
                       config::inRange<uint16_t>(1, 65535))
      .field<ms>("resync", "how often pods are checked again (failures retried)", [](C& c) -> auto& { return c.resync; },
                 config::positiveDuration())
      .validate([](const C& c) {
        std::vector<config::ConfigIssue> out;
        if (c.capture_mode == "ebpf" && c.bpf_cgroup.empty()) {
          out.push_back({"", "bpf.cgroup", "required when capture.mode is ebpf"});
        }
        return out;
      });
  return s;
}

}  // namespace ambit::agent
