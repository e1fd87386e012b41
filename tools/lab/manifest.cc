#include "tools/lab/manifest.h"

#include <filesystem>
#include <functional>

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
  if (const YAML::Node ports = c["ports"]; ports && ports.IsSequence()) {
    for (const auto& p : ports) {
      if (p["containerPort"]) out.ports.push_back(p["containerPort"].as<int>());
    }
  }
  return out;
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

std::string nsOf(const YAML::Node& doc) { return str(doc["metadata"]["namespace"], "default"); }

void readDocument(const std::string& path, const YAML::Node& doc, SourceFile& out);

}  // namespace

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
    std::string kind = str(doc["kind"]);
    std::string api = str(doc["apiVersion"]);
    std::string name = str(doc["metadata"]["name"]);
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
