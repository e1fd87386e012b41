// `ambitctl lab status | exec | logs | metrics`: looking into a running lab.
#include <signal.h>

#include <fstream>
#include <iostream>

#include "tools/ambitctl/table.h"
#include "tools/lab/lab.h"
#include "tools/lab/lab_internal.h"
#include "tools/lab/plan.h"
#include "tools/lab/system.h"

namespace ambit::lab {

namespace {

const PodState& findPod(const LabState& s, const std::string& ref) {
  if (auto it = s.pods.find(ref); it != s.pods.end()) return it->second;
  const PodState* found = nullptr;
  std::string all;
  for (const auto& [k, p] : s.pods) {
    all += " " + k;
    if (p.name == ref) {
      if (found) throw LabError("pod name '" + ref + "' is in more than one namespace: write NAMESPACE/NAME");
      found = &p;
    }
  }
  if (!found) throw LabError("no pod '" + ref + "' in lab '" + s.name + "'; pods:" + all);
  return *found;
}

const NodeState& findNode(const LabState& s, const std::string& node) {
  if (node.empty()) {
    if (s.nodes.size() == 1) return s.nodes.front();
    throw LabError("which node? --node node1.." + s.nodes.back().name);
  }
  const auto* n = s.node(node);
  if (!n) throw LabError("no node '" + node + "' in lab '" + s.name + "'");
  return *n;
}

std::string health(bool alive, bool ready) { return !alive ? "down" : ready ? "ready" : "not-ready"; }

}  // namespace

int labExec(const LabOptions& lab, const std::string& pod, const std::vector<std::string>& argv) {
  requireRoot();
  if (argv.empty()) throw LabError("exec: give a command after --");
  auto s = loadState(lab.dir());
  const auto& p = findPod(s, pod);
  SpawnSpec spec;
  spec.argv = argv;
  spec.env = podEnvironment(s, p);
  if (const char* term = std::getenv("TERM")) spec.env["TERM"] = term;
  spec.netns = netnsPath(p.netns);
  spec.cgroup = p.cgroup;
  spec.hosts = p.hosts;
  spec.hostname = p.name;
  spec.detach = false;
  pid_t pid = spawn(spec);
  // Ctrl-C reaches the command (same process group); we wait for its status.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGQUIT, SIG_IGN);
  return waitChild(pid);
}

void labStatus(const LabOptions& lab, bool json, std::ostream& out) {
  auto s = loadState(lab.dir());
  nlohmann::json j;
  j["name"] = s.name;
  j["dir"] = s.dir;
  j["created"] = s.created;
  bool cp_alive = processAlive(s.ambitd.pid, s.ambitd.cgroup);
  bool cp_ready = cp_alive && adminGet(networkNetns(s.name), kAmbitdReadyPort, "/healthz/ready").has_value();
  j["ambitd"] = {{"pid", s.ambitd.pid}, {"state", health(cp_alive, cp_ready)}, {"address", std::string(kControlPlaneIp) + ":15012"}};
  std::map<std::string, std::string> enrolment;  // ns/name -> yes / error
  std::vector<std::vector<std::string>> node_rows;
  for (const auto& n : s.nodes) {
    bool agent_alive = processAlive(n.agent.pid, n.agent.cgroup);
    auto dump = agent_alive ? adminJson(n.netns, kAgentAdminPort, "/config_dump") : std::nullopt;
    std::string mode = dump ? dump->value("/capture/mode"_json_pointer, std::string("?")) : "?";
    if (dump) {
      for (const auto& p : dump->value("pods", nlohmann::json::array())) {
        auto key = p.value("namespace", "") + "/" + p.value("name", "");
        bool ok = p.value("captured", false) && p.value("handed_over", false);
        enrolment[key] = ok ? "yes" : "pending: " + p.value("error", std::string());
      }
    }
    bool agent_ready = agent_alive && adminGet(n.netns, kAgentReadyPort, "/healthz/ready").has_value();
    bool zt_alive = processAlive(n.ztunnel.pid, n.ztunnel.cgroup);
    auto ports = ztunnelPorts(n.ztunnel_generation);
    bool zt_ready = zt_alive && adminGet(n.netns, ports.readiness, "/healthz/ready").has_value();
    int pods = 0;
    for (const auto& [k, p] : s.pods) pods += p.node == n.name;
    node_rows.push_back({n.name, n.ip, n.pod_cidr, mode, health(agent_alive, agent_ready),
                         health(zt_alive, zt_ready), std::to_string(pods)});
    j["nodes"].push_back({{"name", n.name}, {"ip", n.ip}, {"pod_cidr", n.pod_cidr}, {"capture", mode},
                          {"agent", health(agent_alive, agent_ready)}, {"ztunnel", health(zt_alive, zt_ready)},
                          {"ztunnel_admin_port", ports.admin}, {"pods", pods}});
  }
  std::vector<std::vector<std::string>> pod_rows;
  for (const auto& [k, p] : s.pods) {
    int running = 0;
    for (const auto& r : p.processes) running += processAlive(r.pid, r.cgroup);
    auto it = enrolment.find(k);
    std::string enrolled = it == enrolment.end() ? "no" : it->second;
    if (!p.gateway.empty()) {  // never captured: it speaks HBONE itself
      bool ready = running > 0 && adminGet(p.netns, kWaypointReadyPort, "/healthz/ready").has_value();
      enrolled = std::string("waypoint (") + (ready ? "ready" : "not-ready") + ")";
    }
    pod_rows.push_back({k, p.node, p.ip, enrolled,
                        std::to_string(running) + "/" + std::to_string(p.processes.size())});
    j["pods"].push_back({{"pod", k}, {"node", p.node}, {"ip", p.ip}, {"enrolled", enrolled}, {"running", running},
                         {"processes", p.processes.size()}, {"netns", p.netns}});
  }
  std::vector<std::vector<std::string>> svc_rows;
  for (const auto& [k, v] : s.services) {
    svc_rows.push_back({k, v.vip.empty() ? "None" : v.vip});
    j["services"].push_back({{"service", k}, {"cluster_ip", v.vip}});
  }
  if (json) {
    out << j.dump(2) << "\n";
    return;
  }
  out << "lab '" << s.name << "' (" << s.dir << "), ambitd " << health(cp_alive, cp_ready) << " at " << kControlPlaneIp
      << ":15012\n\n";
  out << ctl::formatTable({"NODE", "IP", "POD CIDR", "CAPTURE", "AGENT", "ZTUNNEL", "PODS"}, node_rows) << "\n";
  out << ctl::formatTable({"POD", "NODE", "IP", "ENROLLED", "RUNNING"}, pod_rows);
  if (!svc_rows.empty()) out << "\n" << ctl::formatTable({"SERVICE", "CLUSTER-IP"}, svc_rows);
}

void labLogs(const LabOptions& lab, const std::string& what, const std::string& node, std::ostream& out) {
  auto s = loadState(lab.dir());
  std::string file;
  if (what == "ambitd") {
    file = s.ambitd.log;
  } else if (what == "ztunnel" || what == "agent") {
    file = s.logDir() + "/" + findNode(s, node).name + "-" + what + ".log";
  } else {
    const auto& p = findPod(s, what);
    file = s.logDir() + "/pod_" + p.ns + "_" + p.name + ".log";
  }
  std::ifstream in(file);
  if (!in) throw LabError("no log at " + file);
  out << in.rdbuf();
}

void labMetrics(const LabOptions& lab, const std::string& component, const std::string& node,
                const std::string& filter, std::ostream& out) {
  auto s = loadState(lab.dir());
  std::string netns;
  int port = 0;
  if (component == "ambitd") {
    netns = networkNetns(s.name);
    port = kAmbitdStatsPort;
  } else if (component == "agent") {
    const auto& n = findNode(s, node);
    netns = n.netns;
    port = kAgentStatsPort;
  } else if (component == "ztunnel") {
    const auto& n = findNode(s, node);
    netns = n.netns;
    port = ztunnelPorts(n.ztunnel_generation).stats;
  } else if (component == "waypoint") {
    const PodState* w = nullptr;
    std::string all;
    for (const auto& [k, p] : s.pods) {
      if (p.gateway.empty()) continue;
      all += " " + k;
      if (node.empty() ? w == nullptr : (k == node || p.name == node)) w = &p;
      else if (node.empty()) throw LabError("the lab runs more than one waypoint: --pod" + all + "...");
    }
    if (!w) throw LabError(all.empty() ? "the lab runs no waypoint (apply a Gateway of class istio-waypoint)"
                                       : "no waypoint pod '" + node + "'; waypoints:" + all);
    netns = w->netns;
    port = kWaypointStatsPort;
  } else {
    throw LabError("metrics: ambitd, agent, ztunnel or waypoint, not '" + component + "'");
  }
  auto body = adminGet(netns, port, "/stats/prometheus");
  if (!body) throw LabError(component + " does not answer on its stats port " + std::to_string(port));
  if (filter.empty()) {
    out << *body;
    return;
  }
  std::istringstream lines(*body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#' && line.find(filter) != std::string::npos) out << line << "\n";
  }
}

AdminTarget ztunnelAdmin(const LabOptions& lab, const std::string& node) {
  auto s = loadState(lab.dir());
  const auto& n = findNode(s, node);
  return {netnsPath(n.netns), "127.0.0.1", ztunnelPorts(n.ztunnel_generation).admin};
}

}  // namespace ambit::lab
