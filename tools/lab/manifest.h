// The lab's side of the user's YAML: which pods it must run (Pods, and the
// Pods a Deployment's replicas would be) and which Services need a ClusterIP,
// and the same documents written back with what a kubelet and the API server
// would fill in (node, pod IP, netns annotation, ClusterIP). Every other
// document is passed to ambitd unchanged.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace ambit::lab {

// Errors of the lab (bad input, a failed step): the message says what to do.
struct LabError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// readinessProbe.httpGet: the pod is ready once GET http://127.0.0.1:<port><path>
// inside it answers 200 (the lab probes on loopback, which capture never touches).
struct HttpProbe {
  int port = 0;
  std::string path = "/";
};

struct Container {
  std::string name;
  std::vector<std::string> argv;  // command + args; empty: nothing to run
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<int> ports;  // containerPort: the pod is up once these listen
  std::optional<HttpProbe> readiness;
};

// What Istio's gateway controller makes for a Gateway of class istio-waypoint
// (or ambit-waypoint): a Deployment of one waypoint, a Service in front of it
// (15008 "mesh", 15021 "status-port"), both named after the Gateway and
// labelled gateway.networking.k8s.io/gateway-name; the pod runs as service
// account <gateway> and is never captured (istio.io/dataplane-mode: none).
// The lab marks what it made with this annotation and never reads it back as
// the user's own.
inline constexpr const char* kGeneratedAnnotation = "ambit.dev/lab-generated-from";
bool isWaypointClass(const std::string& gateway_class);

struct PodSpec {
  std::string ns = "default", name, node_name, service_account = "default";
  std::vector<Container> containers;
  std::string gateway;  // a waypoint's pod: its Gateway's name (the lab fills in the container)
  std::string origin;   // "file:line" of the Pod, Deployment or Gateway
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

// `lab label`: one change (KEY=VALUE sets, KEY- removes), checked against
// Kubernetes' rules for label keys and values. Throws LabError.
struct LabelChange {
  std::string key, value;
  bool remove = false;
};
LabelChange parseLabelChange(const std::string& arg);
// "ns" -> "Namespace", "svc" -> "Service", "po" -> "Pod", "gateway" -> "Gateway", ...
std::string kindName(const std::string& kind);
// The document of `kind` named ns/name in `f` (a Namespace by name alone).
struct FoundObject {
  YAML::Node doc;              // null when absent
  std::string key;             // "ns/name" or "name"
  std::string generated_from;  // the lab made it (from this Gateway)
};
FoundObject findObject(SourceFile& f, const std::string& kind, const std::string& ns, const std::string& name);
void relabel(YAML::Node& doc, const std::vector<LabelChange>& changes);

// What the lab fills in.
void fillPod(PodSpec& pod, const std::string& node, const std::string& ip, const std::string& netns_path);
void fillService(ServiceSpec& svc, const std::string& vip);

// The file as ambitd reads it.
std::string emit(const SourceFile& f);

}  // namespace ambit::lab
