// The lab's side of the user's YAML: which pods it must run (Pods, and the
// Pods a Deployment's replicas would be) and which Services need a ClusterIP,
// and the same documents written back with what a kubelet and the API server
// would fill in (node, pod IP, netns annotation, ClusterIP). Every other
// document is passed to ambitd unchanged.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace ambit::lab {

// Errors of the lab (bad input, a failed step): the message says what to do.
struct LabError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Container {
  std::string name;
  std::vector<std::string> argv;  // command + args; empty: nothing to run
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<int> ports;  // containerPort: the pod is up once these listen
};

struct PodSpec {
  std::string ns = "default", name, node_name, service_account = "default";
  std::vector<Container> containers;
  std::string origin;  // "file:line" of the Pod or Deployment
  YAML::Node doc;      // the Pod document (made from the template for a Deployment)
  std::string key() const { return ns + "/" + name; }
  // Changes when what runs changes (a re-apply restarts the pod's processes then).
  std::string runHash() const;
};

struct ServiceSpec {
  std::string ns = "default", name, cluster_ip;
  int first_port = 0;
  YAML::Node doc;
  std::string key() const { return ns + "/" + name; }
};

struct SourceFile {
  std::string name;               // base name: the file the lab writes for ambitd
  std::vector<YAML::Node> other;  // documents passed through unchanged
  std::vector<PodSpec> pods;
  std::vector<ServiceSpec> services;
};

// Reads one multi-document YAML file. Throws LabError naming file:line.
SourceFile readSource(const std::string& path);

// What the lab fills in.
void fillPod(PodSpec& pod, const std::string& node, const std::string& ip, const std::string& netns_path);
void fillService(ServiceSpec& svc, const std::string& vip);

// The file as ambitd reads it.
std::string emit(const SourceFile& f);

}  // namespace ambit::lab
