#include "tools/lab/state.h"

#include <filesystem>
#include <fstream>

#include "tools/lab/manifest.h"
#include "tools/lab/system.h"

namespace ambit::lab {

namespace {

nlohmann::json proc(const ProcessRecord& p) { return {{"pid", p.pid}, {"cgroup", p.cgroup}, {"log", p.log}}; }
ProcessRecord proc(const nlohmann::json& j) {
  return {j.value("pid", 0), j.value("cgroup", ""), j.value("log", "")};
}

}  // namespace

const NodeState* LabState::node(const std::string& n) const {
  for (const auto& x : nodes) {
    if (x.name == n) return &x;
  }
  return nullptr;
}

nlohmann::json toJson(const LabState& s) {
  nlohmann::json j;
  j["name"] = s.name;
  j["dir"] = s.dir;
  j["cgroup"] = s.cgroup;
  j["bpffs"] = s.bpffs;
  j["created"] = s.created;
  j["bin"] = {{"ambitd", s.bin.ambitd}, {"ztunnel", s.bin.ztunnel}, {"agent", s.bin.agent}, {"demo_app", s.bin.demo_app},
              {"waypoint", s.bin.waypoint}};
  j["ambitd"] = proc(s.ambitd);
  j["files"] = s.files;
  auto nodes = nlohmann::json::array();
  for (const auto& n : s.nodes) {
    nodes.push_back({{"index", n.index}, {"name", n.name}, {"netns", n.netns}, {"ip", n.ip}, {"pod_cidr", n.pod_cidr},
                     {"agent", proc(n.agent)}, {"ztunnel", proc(n.ztunnel)},
                     {"ztunnel_generation", n.ztunnel_generation}, {"capture_mode", n.capture_mode}});
  }
  j["nodes"] = nodes;
  auto pods = nlohmann::json::array();
  for (const auto& [k, p] : s.pods) {
    auto procs = nlohmann::json::array();
    for (const auto& r : p.processes) procs.push_back(proc(r));
    auto probes = nlohmann::json::array();
    for (const auto& r : p.probes) probes.push_back({{"port", r.port}, {"path", r.path}});
    pods.push_back({{"namespace", p.ns}, {"name", p.name}, {"node", p.node}, {"node_index", p.node_index},
                    {"slot", p.slot}, {"ip", p.ip}, {"netns", p.netns}, {"cgroup", p.cgroup}, {"veth", p.veth},
                    {"file", p.file}, {"service_account", p.service_account}, {"run_hash", p.run_hash},
                    {"hosts", p.hosts}, {"ports", p.ports}, {"processes", procs}, {"gateway", p.gateway},
                    {"token", p.token}, {"probes", probes}});
  }
  j["pods"] = pods;
  auto svcs = nlohmann::json::array();
  for (const auto& [k, v] : s.services) {
    svcs.push_back({{"namespace", v.ns}, {"name", v.name}, {"vip", v.vip}, {"file", v.file}, {"slot", v.slot},
                    {"first_port", v.first_port}});
  }
  j["services"] = svcs;
  return j;
}

LabState fromJson(const nlohmann::json& j) {
  LabState s;
  s.name = j.value("name", "");
  s.dir = j.value("dir", "");
  s.cgroup = j.value("cgroup", "");
  s.bpffs = j.value("bpffs", "");
  s.created = j.value("created", "");
  const auto& b = j.at("bin");
  s.bin = {b.value("ambitd", ""), b.value("ztunnel", ""), b.value("agent", ""), b.value("demo_app", ""),
           b.value("waypoint", "")};
  s.ambitd = proc(j.at("ambitd"));
  s.files = j.value("files", std::vector<std::string>{});
  for (const auto& n : j.at("nodes")) {
    NodeState x;
    x.index = n.value("index", 0);
    x.name = n.value("name", "");
    x.netns = n.value("netns", "");
    x.ip = n.value("ip", "");
    x.pod_cidr = n.value("pod_cidr", "");
    x.agent = proc(n.at("agent"));
    x.ztunnel = proc(n.at("ztunnel"));
    x.ztunnel_generation = n.value("ztunnel_generation", 0);
    x.capture_mode = n.value("capture_mode", "");
    s.nodes.push_back(x);
  }
  for (const auto& p : j.at("pods")) {
    PodState x;
    x.ns = p.value("namespace", "");
    x.name = p.value("name", "");
    x.node = p.value("node", "");
    x.node_index = p.value("node_index", 0);
    x.slot = p.value("slot", 0);
    x.ip = p.value("ip", "");
    x.netns = p.value("netns", "");
    x.cgroup = p.value("cgroup", "");
    x.veth = p.value("veth", "");
    x.file = p.value("file", "");
    x.service_account = p.value("service_account", "");
    x.run_hash = p.value("run_hash", "");
    x.hosts = p.value("hosts", "");
    x.ports = p.value("ports", std::vector<int>{});
    for (const auto& r : p.at("processes")) x.processes.push_back(proc(r));
    x.gateway = p.value("gateway", "");
    x.token = p.value("token", "");
    for (const auto& r : p.value("probes", nlohmann::json::array())) {
      x.probes.push_back({r.value("port", 0), r.value("path", "/")});
    }
    s.pods[x.key()] = x;
  }
  for (const auto& v : j.at("services")) {
    ServiceState x;
    x.ns = v.value("namespace", "");
    x.name = v.value("name", "");
    x.vip = v.value("vip", "");
    x.file = v.value("file", "");
    x.slot = v.value("slot", -1);
    x.first_port = v.value("first_port", 0);
    s.services[x.ns + "/" + x.name] = x;
  }
  return s;
}

LabState loadState(const std::string& dir) {
  std::ifstream in(dir + "/state.json");
  if (!in) throw LabError("no lab at " + dir + " (start one with: ambitctl lab up)");
  try {
    return fromJson(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    throw LabError(dir + "/state.json: " + e.what() + " (ambitctl lab down cleans up a broken lab)");
  }
}

void saveState(const LabState& s) { writeAtomically(s.dir + "/state.json", toJson(s).dump(2) + "\n"); }

}  // namespace ambit::lab
