// What a running lab is made of, kept in <lab-dir>/<name>/state.json so that
// every `ambitctl lab` command (and `lab down` after a crash) can find it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ambit::lab {

struct ProcessRecord {
  int pid = 0;
  std::string cgroup;  // the process is ours only while it is in this cgroup
  std::string log;
};

struct NodeState {
  int index = 0;
  std::string name, netns, ip, pod_cidr;
  ProcessRecord agent, ztunnel;
  int ztunnel_generation = 0;  // admin ports alternate per generation (plan.h)
  std::string capture_mode;    // what the agent reported (ebpf / iptables)
};

struct ReadinessProbe {
  int port = 0;
  std::string path;
};

struct PodState {
  std::string ns, name, node, ip, netns, cgroup, veth, file, service_account, run_hash, hosts;
  std::string gateway;  // a waypoint's pod: its Gateway's name
  std::string token;    // a waypoint's pod: its CA token file (in tokens.yaml while the pod exists)
  int node_index = 0, slot = 0;
  std::vector<int> ports;
  std::vector<ReadinessProbe> probes;
  std::vector<ProcessRecord> processes;
  std::string key() const { return ns + "/" + name; }
};

struct ServiceState {
  std::string ns, name, vip, file;
  int slot = -1;  // -1: the user gave the ClusterIP
  int first_port = 0;
};

struct Binaries {
  std::string ambitd, ztunnel, agent, demo_app, waypoint;
};

struct LabState {
  std::string name, dir, cgroup, bpffs, created;
  Binaries bin;
  ProcessRecord ambitd;
  std::vector<NodeState> nodes;
  std::map<std::string, PodState> pods;          // by ns/name
  std::map<std::string, ServiceState> services;  // by ns/name
  std::vector<std::string> files;                // applied files (in <dir>/config)

  std::string configDir() const { return dir + "/config"; }
  std::string logDir() const { return dir + "/logs"; }
  const NodeState* node(const std::string& name) const;
};

nlohmann::json toJson(const LabState& s);
LabState fromJson(const nlohmann::json& j);
// Throws LabError when the lab does not exist or the file is unreadable.
LabState loadState(const std::string& dir);
void saveState(const LabState& s);

}  // namespace ambit::lab
