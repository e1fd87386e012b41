// `ambitctl lab`: a whole mesh on one machine. Nodes and pods are network
// namespaces (plus a cgroup each for pods), joined by veths and bridges in
// 198.18.0.0/15 (plan.h); ambitd runs on the lab network, and every node runs
// an ambit-agent (eBPF capture, iptables fallback) and an in-pod ztunnel.
// Pods come from the same Kubernetes YAML ambitd reads; the lab fills in what
// a kubelet would and runs each container's command inside its pod.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tools/lab/state.h"

namespace ambit::lab {

struct LabOptions {
  std::string name = "lab";
  std::string lab_dir = "/run/ambit-lab";
  std::string dir() const { return lab_dir + "/" + name; }
};

struct UpOptions {
  int nodes = 2;
  std::string config;  // directory of YAML
  std::string capture = "auto";
  Binaries bin;
};

void labUp(const LabOptions& lab, const UpOptions& up, std::ostream& out);
// Removes everything a lab made, also after a crash (nothing needs state.json).
void labDown(const LabOptions& lab, std::ostream& out);
void labApply(const LabOptions& lab, const std::string& file, std::ostream& out);
void labDelete(const LabOptions& lab, const std::string& file, std::ostream& out);
// kubectl label: KEY=VALUE sets, KEY- removes a label of an object in an
// applied file (kind: namespace/ns, service/svc, pod/po, or any Kind such as
// Gateway); the file is applied again with the change.
void labLabel(const LabOptions& lab, const std::string& kind, const std::string& name, const std::string& ns,
              const std::vector<std::string>& labels, std::ostream& out);
// Runs `argv` in the pod (netns, cgroup, /etc/hosts, hostname); returns its exit status.
int labExec(const LabOptions& lab, const std::string& pod, const std::vector<std::string>& argv);
void labStatus(const LabOptions& lab, bool json, std::ostream& out);
void labLogs(const LabOptions& lab, const std::string& what, const std::string& node, std::ostream& out);
void labMetrics(const LabOptions& lab, const std::string& component, const std::string& node, const std::string& filter,
                std::ostream& out);
// ztunnel: a rolling restart (the new one beside the old, then the old drains);
// agent: stop, then start (capture stays in place meanwhile).
void labRestart(const LabOptions& lab, const std::string& component, const std::string& node, std::ostream& out);

// Where `ambitctl ztunnel-config --node N` finds a lab node's ztunnel.
struct AdminTarget {
  std::string netns, host;
  int port = 0;
};
AdminTarget ztunnelAdmin(const LabOptions& lab, const std::string& node);

}  // namespace ambit::lab
