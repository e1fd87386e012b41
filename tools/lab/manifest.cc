#include "tools/lab/manifest.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "agent/pods/node_pods.h"

namespace ambit::lab {

namespace {

std::string where(const std::string& file, const YAML::Node& n) {
  return fmt::format("{}:{}", file, n.Mark().line + 1);
}

std::string str(const YAML::Node& n, const std::string& def = "") {
  if (!n || !n.IsScalar()) return def;
  return n.as<std::string>();
}

Container readContainer(const std::string& file, const YAML::Node& c) {
  Container out;
  out.name = str(c["name"]);
  for (const char* field : {"command", "args"}) {
    const YAML::Node list = c[field];
    if (!list) continue;
    if (!list.IsSequence()) throw LabError(where(file, list) + ": field '" + field + "' must be a list of strings");
    for (const auto& a : list) {
      if (!a.IsScalar()) throw LabError(where(file, a) + ": field '" + field + "' must be a list of strings");
      out.argv.push_back(a.as<std::string>());
    }
  }
  if (const YAML::Node env = c["env"]; env && env.IsSequence()) {
    for (const auto& e : env) {
      if (!e["name"]) throw LabError(where(file, e) + ": field 'env[].name' is required");
      if (e["valueFrom"]) {
        throw LabError(where(file, e) + ": field 'env[].valueFrom' is not supported by the lab (POD_NAME, "
                                        "POD_NAMESPACE, POD_IP and NODE_NAME are always set)");
      }
      out.env.emplace_back(str(e["name"]), str(e["value"]));
    }
  }
  std::map<std::string, int> named_ports;
  if (const YAML::Node ports = c["ports"]; ports && ports.IsSequence()) {
    for (const auto& p : ports) {
      if (!p["containerPort"]) continue;
      out.ports.push_back(p["containerPort"].as<int>());
      if (p["name"]) named_ports[str(p["name"])] = out.ports.back();
    }
  }
  // A port number, or the name of one of the container's ports (0: neither).
  auto probePort = [&](const YAML::Node& port) {
    int n = 0;
    if (port && YAML::convert<int>::decode(port, n)) return n >= 1 && n <= 65535 ? n : 0;
    auto it = named_ports.find(str(port));
    return it == named_ports.end() ? 0 : it->second;
  };
  // Readiness: httpGet is probed; tcpSocket waits for the port to listen;
  // exec and grpc probes are not run (the pod counts as ready when its ports listen).
  if (const YAML::Node probe = c["readinessProbe"]; probe && probe.IsMap() && probe["tcpSocket"]) {
    int n = probePort(probe["tcpSocket"]["port"]);
    if (n == 0) {
      throw LabError(where(file, probe) + ": field 'readinessProbe.tcpSocket.port': a port number or the name of a "
                                          "containerPort");
    }
    out.ports.push_back(n);
  }
  if (const YAML::Node probe = c["readinessProbe"]; probe && probe.IsMap() && probe["httpGet"]) {
    const YAML::Node get = probe["httpGet"];
    HttpProbe h;
    int n = probePort(get["port"]);
    if (n == 0) {
      throw LabError(where(file, get) + ": field 'readinessProbe.httpGet.port': a port number (1-65535) or the name "
                                        "of a containerPort");
    }
    h.port = n;
    h.path = str(get["path"], "/");
    if (h.path.empty() || h.path[0] != '/') {
      throw LabError(where(file, get) + ": field 'readinessProbe.httpGet.path' must start with '/'");
    }
    out.readiness = h;
  }
  return out;
}

std::string nsOf(const YAML::Node& doc) { return str(doc["metadata"]["namespace"], "default"); }

std::string annotation(const YAML::Node& doc, const char* key) {
  const YAML::Node a = doc["metadata"]["annotations"];
  return a && a.IsMap() ? str(a[key]) : std::string();
}

// The waypoint's Pod and Service for a Gateway (see manifest.h).
void addWaypoint(const std::string& path, const YAML::Node& gw, SourceFile& out) {
  std::string name = str(gw["metadata"]["name"]);
  std::string ns = nsOf(gw);
  if (name.empty()) throw LabError(where(path, gw) + ": field 'metadata.name' is required");
  std::string origin = where(path, gw);
  std::string from = "Gateway " + ns + "/" + name;

  YAML::Node labels;
  labels["gateway.networking.k8s.io/gateway-name"] = name;
  labels["gateway.istio.io/managed"] = "istio.io-mesh-controller";

  PodSpec pod;
  pod.ns = ns;
  pod.name = name + "-0";
  pod.service_account = name;
  pod.gateway = name;
  pod.origin = origin;
  // The node: the Gateway's ambit.dev/lab-node annotation, else the lab places it.
  pod.node_name = annotation(gw, "ambit.dev/lab-node");
  YAML::Node p;
  p["apiVersion"] = "v1";
  p["kind"] = "Pod";
  p["metadata"]["name"] = pod.name;
  p["metadata"]["namespace"] = ns;
  p["metadata"]["labels"] = YAML::Clone(labels);
  p["metadata"]["labels"]["istio.io/dataplane-mode"] = "none";
  p["metadata"]["labels"]["service.istio.io/canonical-name"] = name;  // metrics name the waypoint, not its pod
  p["metadata"]["annotations"][kGeneratedAnnotation] = from;
  p["spec"]["serviceAccountName"] = name;
  YAML::Node c;
  c["name"] = "istio-proxy";
  YAML::Node ports(YAML::NodeType::Sequence);
  for (auto [port, pname] : {std::pair{15008, "hbone"}, {15021, "status-port"}, {15020, "metrics"}}) {
    YAML::Node x;
    x["containerPort"] = port;
    x["name"] = pname;
    ports.push_back(x);
  }
  c["ports"] = ports;
  p["spec"]["containers"].push_back(c);
  pod.doc = p;
  out.pods.push_back(std::move(pod));

  ServiceSpec svc;
  svc.ns = ns;
  svc.name = name;
  svc.first_port = 15021;
  YAML::Node d;
  d["apiVersion"] = "v1";
  d["kind"] = "Service";
  d["metadata"]["name"] = name;
  d["metadata"]["namespace"] = ns;
  d["metadata"]["labels"] = YAML::Clone(labels);
  d["metadata"]["annotations"][kGeneratedAnnotation] = from;
  d["spec"]["selector"]["gateway.networking.k8s.io/gateway-name"] = name;
  YAML::Node sports(YAML::NodeType::Sequence);
  for (auto [port, pname] : {std::pair{15021, "status-port"}, {15008, "mesh"}}) {
    YAML::Node x;
    x["name"] = pname;
    x["port"] = port;
    x["protocol"] = "TCP";
    sports.push_back(x);
  }
  d["spec"]["ports"] = sports;
  svc.doc = d;
  out.services.push_back(std::move(svc));
}

// spec.containers of a Pod (or a Deployment's template) into `pod`.
void readPodSpec(const std::string& file, const YAML::Node& spec, PodSpec& pod) {
  pod.node_name = str(spec["nodeName"]);
  pod.service_account = str(spec["serviceAccountName"], "default");
  if (spec["hostNetwork"] && spec["hostNetwork"].as<bool>()) {
    throw LabError(where(file, spec["hostNetwork"]) + ": field 'spec.hostNetwork': host-network pods are not "
                                                      "supported by the lab");
  }
  if (const YAML::Node cs = spec["containers"]; cs && cs.IsSequence()) {
    for (const auto& c : cs) pod.containers.push_back(readContainer(file, c));
  }
}

void readDocument(const std::string& path, const YAML::Node& doc, SourceFile& out);

}  // namespace

bool isWaypointClass(const std::string& gateway_class) {
  return gateway_class == "istio-waypoint" || gateway_class == "ambit-waypoint";
}

std::string PodSpec::runHash() const {
  std::string s = service_account;
  for (const auto& c : containers) {
    s += "|c:" + c.name;
    for (const auto& a : c.argv) s += "|a:" + a;
    for (const auto& [k, v] : c.env) s += "|e:" + k + "=" + v;
  }
  return fmt::format("{:016x}", std::hash<std::string>{}(s));
}

SourceFile readSource(const std::string& path) {
  SourceFile out;
  out.name = std::filesystem::path(path).filename().string();
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(path);
  } catch (const YAML::Exception& e) {
    throw LabError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  try {
    for (const auto& doc_ref : docs) readDocument(path, doc_ref, out);
  } catch (const YAML::Exception& e) {
    throw LabError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  return out;
}

namespace {

// Reads through const nodes only: yaml-cpp's non-const operator[] adds what it
// does not find (and turns a list into a map).
void readDocument(const std::string& path, const YAML::Node& doc, SourceFile& out) {
  {
    if (!doc || doc.IsNull()) return;
    if (!annotation(doc, kGeneratedAnnotation).empty()) return;  // ours: made again from its Gateway below
    std::string kind = str(doc["kind"]);
    std::string api = str(doc["apiVersion"]);
    std::string name = str(doc["metadata"]["name"]);
    if (kind == "Gateway" && api.rfind("gateway.networking.k8s.io/", 0) == 0 &&
        isWaypointClass(str(doc["spec"]["gatewayClassName"]))) {
      addWaypoint(path, doc, out);
    }
    if ((kind == "Pod" && api == "v1") || (kind == "Deployment" && api == "apps/v1")) {
      if (name.empty()) throw LabError(where(path, doc) + ": field 'metadata.name' is required");
    }
    if (kind == "Pod" && api == "v1") {
      PodSpec pod;
      pod.ns = nsOf(doc);
      pod.name = name;
      pod.origin = where(path, doc);
      readPodSpec(path, doc["spec"], pod);
      pod.doc = YAML::Clone(doc);
      out.pods.push_back(std::move(pod));
    } else if (kind == "Deployment" && api == "apps/v1") {
      const YAML::Node spec = doc["spec"];
      int replicas = spec["replicas"] ? spec["replicas"].as<int>() : 1;
      if (replicas < 0 || replicas > 50) {
        throw LabError(where(path, spec["replicas"]) + ": field 'spec.replicas': the lab runs 0 to 50 replicas");
      }
      const YAML::Node tmpl = spec["template"];
      if (!tmpl || !tmpl["spec"]) throw LabError(where(path, doc) + ": field 'spec.template.spec' is required");
      for (int i = 0; i < replicas; ++i) {
        PodSpec pod;
        pod.ns = nsOf(doc);
        pod.name = name + "-" + std::to_string(i);
        pod.origin = where(path, doc);
        readPodSpec(path, tmpl["spec"], pod);
        YAML::Node p;
        p["apiVersion"] = "v1";
        p["kind"] = "Pod";
        p["metadata"]["name"] = pod.name;
        p["metadata"]["namespace"] = pod.ns;
        if (tmpl["metadata"]["labels"]) p["metadata"]["labels"] = YAML::Clone(tmpl["metadata"]["labels"]);
        if (tmpl["metadata"]["annotations"]) {
          p["metadata"]["annotations"] = YAML::Clone(tmpl["metadata"]["annotations"]);
        }
        p["spec"] = YAML::Clone(tmpl["spec"]);
        pod.doc = p;
        out.pods.push_back(std::move(pod));
      }
    } else if (kind == "Service" && api == "v1") {
      ServiceSpec svc;
      svc.ns = nsOf(doc);
      svc.name = name;
      svc.cluster_ip = str(doc["spec"]["clusterIP"]);
      if (const YAML::Node ports = doc["spec"]["ports"]; ports && ports.IsSequence() && ports.size() > 0 &&
                                                         ports[0]["port"]) {
        svc.first_port = ports[0]["port"].as<int>();
      }
      svc.doc = YAML::Clone(doc);
      out.services.push_back(std::move(svc));
    } else {
      out.other.push_back(doc);
    }
  }
}

}  // namespace

namespace {

bool labelName(std::string_view n) {  // [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63
  if (n.empty() || n.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(n.front()) || !alnum(n.back())) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool dnsSubdomain(std::string_view n) {  // lower-case labels of [a-z0-9-] joined by '.', at most 253
  if (n.empty() || n.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    auto dot = n.find('.', start);
    auto part = n.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 63 || part.front() == '-' || part.back() == '-') return false;
    for (char c : part) {
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
        return false;
      }
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

LabelChange parseLabelChange(const std::string& arg) {
  LabelChange c;
  auto eq = arg.find('=');
  if (eq == std::string::npos) {
    if (arg.size() < 2 || arg.back() != '-') throw LabError("label '" + arg + "': write KEY=VALUE, or KEY- to remove it");
    c.key = arg.substr(0, arg.size() - 1);
    c.remove = true;
  } else {
    c.key = arg.substr(0, eq);
    c.value = arg.substr(eq + 1);
  }
  auto slash = c.key.find('/');
  std::string_view prefix = slash == std::string::npos ? std::string_view() : std::string_view(c.key).substr(0, slash);
  std::string_view name = slash == std::string::npos ? std::string_view(c.key) : std::string_view(c.key).substr(slash + 1);
  if ((slash != std::string::npos && !dnsSubdomain(prefix)) || !labelName(name)) {
    throw LabError("label key '" + c.key + "': [prefix/]name, the name 1-63 of [A-Za-z0-9-_.] starting and ending "
                   "alphanumeric, the prefix a DNS subdomain");
  }
  if (!c.value.empty() && !labelName(c.value)) {
    throw LabError("label value '" + c.value + "' (of " + c.key + "): at most 63 of [A-Za-z0-9-_.], starting and "
                   "ending alphanumeric");
  }
  return c;
}

std::string kindName(const std::string& kind) {
  std::string k;
  for (char c : kind) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (k == "ns" || k == "namespace" || k == "namespaces") return "Namespace";
  if (k == "svc" || k == "service" || k == "services") return "Service";
  if (k == "po" || k == "pod" || k == "pods") return "Pod";
  if (k == "gateway" || k == "gateways" || k == "gtw") return "Gateway";
  if (k == "serviceentry" || k == "serviceentries" || k == "se") return "ServiceEntry";
  return kind;  // as written: matched against `kind` exactly
}

FoundObject findObject(SourceFile& f, const std::string& kind, const std::string& ns, const std::string& name) {
  FoundObject out;
  auto generated = [](const YAML::Node& doc) { return annotation(doc, kGeneratedAnnotation); };
  if (kind == "Pod") {
    for (auto& p : f.pods) {
      if (p.ns == ns && p.name == name) {
        out = {p.doc, p.key(), p.gateway.empty() ? "" : "Gateway " + p.ns + "/" + p.gateway};
        return out;
      }
    }
    return out;
  }
  if (kind == "Service") {
    for (auto& v : f.services) {
      if (v.ns == ns && v.name == name) {
        out = {v.doc, v.key(), generated(v.doc)};
        return out;
      }
    }
    return out;
  }
  for (auto& d : f.other) {
    if (str(d["kind"]) != kind || str(d["metadata"]["name"]) != name) continue;
    if (kind == "Namespace") return {d, name, ""};
    if (nsOf(d) == ns) return {d, ns + "/" + name, ""};
  }
  return out;
}

void relabel(YAML::Node& doc, const std::vector<LabelChange>& changes) {
  YAML::Node meta = doc["metadata"];
  for (const auto& c : changes) {
    if (c.remove) {
      if (meta["labels"] && meta["labels"].IsMap()) meta["labels"].remove(c.key);
    } else {
      meta["labels"][c.key] = c.value;
    }
  }
}

void fillPod(PodSpec& pod, const std::string& node, const std::string& ip, const std::string& netns_path) {
  pod.doc["metadata"]["namespace"] = pod.ns;
  pod.doc["metadata"]["annotations"][agent::kNetnsAnnotation] = netns_path;
  pod.doc["spec"]["nodeName"] = node;
  pod.doc["status"]["phase"] = "Running";
  pod.doc["status"]["podIP"] = ip;
  YAML::Node ips(YAML::NodeType::Sequence);
  YAML::Node one;
  one["ip"] = ip;
  ips.push_back(one);
  pod.doc["status"]["podIPs"] = ips;
}

void fillService(ServiceSpec& svc, const std::string& vip) {
  svc.cluster_ip = vip;
  svc.doc["metadata"]["namespace"] = svc.ns;
  auto spec = svc.doc["spec"];
  spec["clusterIP"] = vip;
}

std::string emit(const SourceFile& f) {
  std::string out = "# written by ambitctl lab from " + f.name + " (node, pod IP, ClusterIP filled in)\n";
  auto add = [&out](const YAML::Node& n) {
    YAML::Emitter e;
    e << n;
    out += "---\n";
    out += e.c_str();
    out += "\n";
  };
  for (const auto& d : f.other) add(d);
  for (const auto& s : f.services) add(s.doc);
  for (const auto& p : f.pods) add(p.doc);
  return out;
}

}  // namespace ambit::lab
