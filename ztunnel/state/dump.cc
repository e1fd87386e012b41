#include "ztunnel/state/dump.h"

#include <arpa/inet.h>

namespace ambit::ztunnel {

namespace {

std::string gatewayText(const istio::workload::GatewayAddress& g) {
  std::string port = g.hbone_mtls_port() ? ":" + std::to_string(g.hbone_mtls_port()) : "";
  if (g.has_hostname()) return g.hostname().namespace_() + "/" + g.hostname().hostname() + port;
  if (g.has_address()) return ipText(g.address().address()) + port;
  return "";
}

}  // namespace

std::string ipText(const std::string& raw) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (raw.size() == 4) return ::inet_ntop(AF_INET, raw.data(), buf, sizeof buf) ? buf : "?";
  if (raw.size() == 16) return ::inet_ntop(AF_INET6, raw.data(), buf, sizeof buf) ? buf : "?";
  return "?";
}

nlohmann::json workloadJson(const istio::workload::Workload& w) {
  auto addrs = nlohmann::json::array();
  for (const auto& a : w.addresses()) addrs.push_back(ipText(a));
  auto services = nlohmann::json::array();
  for (const auto& [name, ports] : w.services()) services.push_back(name);
  return {{"uid", w.uid()},
          {"name", w.name()},
          {"namespace", w.namespace_()},
          {"addresses", addrs},
          {"node", w.node()},
          {"service_account", w.service_account()},
          {"identity", identityOf(w).toString()},
          {"protocol", istio::workload::TunnelProtocol_Name(w.tunnel_protocol())},
          {"waypoint", w.has_waypoint() ? gatewayText(w.waypoint()) : ""},
          {"services", services},
          {"canonical_name", w.canonical_name()},
          {"canonical_revision", w.canonical_revision()},
          {"status", istio::workload::WorkloadStatus_Name(w.status())}};
}

nlohmann::json serviceJson(const istio::workload::Service& s, std::size_t endpoints) {
  auto addrs = nlohmann::json::array();
  for (const auto& a : s.addresses()) addrs.push_back(ipText(a.address()));
  auto ports = nlohmann::json::array();
  for (const auto& p : s.ports()) {
    ports.push_back(std::to_string(p.service_port()) + (p.target_port() ? "->" + std::to_string(p.target_port()) : ""));
  }
  return {{"name", s.name()},         {"namespace", s.namespace_()}, {"hostname", s.hostname()},
          {"addresses", addrs},       {"ports", ports},              {"endpoints", endpoints},
          {"waypoint", s.has_waypoint() ? gatewayText(s.waypoint()) : ""}};
}

nlohmann::json workloadsJson(const ProxyState& state) {
  auto out = nlohmann::json::array();
  for (const auto& w : state.allWorkloads()) out.push_back(workloadJson(*w));
  return out;
}

nlohmann::json servicesJson(const ProxyState& state) {
  auto out = nlohmann::json::array();
  for (const auto& s : state.allServices()) {
    out.push_back(serviceJson(*s, state.endpoints(s->namespace_() + "/" + s->hostname()).size()));
  }
  return out;
}

}  // namespace ambit::ztunnel
