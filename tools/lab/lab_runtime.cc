// Starting the lab's components and pods, and waiting until each is really up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/pods/node_pods.h"
#include "common/netns/netns.h"
#include "controlplane/source/file_source.h"
#include "tools/lab/admin_client.h"
#include "tools/lab/lab_internal.h"
#include "tools/lab/plan.h"
#include "tools/lab/system.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace ambit::lab {

void requireRoot() {
  if (::geteuid() != 0) throw LabError("the lab needs root (network namespaces, cgroups, eBPF): run it with sudo");
}

bool tryWaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

void waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout, const std::string& what,
             const std::function<std::string()>& detail) {
  if (tryWaitFor(done, timeout)) return;
  throw LabError(what + " (waited " + std::to_string(timeout.count() / 1000) + " s)" + (detail ? "\n" + detail() : ""));
}

std::optional<std::string> adminGet(const std::string& netns, int port, const std::string& path) {
  auto r = httpGet(netns.empty() ? "" : netnsPath(netns), "127.0.0.1", port, path, 2s);
  if (!r || r->status != 200) return std::nullopt;
  return r->body;
}

std::optional<nlohmann::json> adminJson(const std::string& netns, int port, const std::string& path) {
  auto body = adminGet(netns, port, path);
  if (!body) return std::nullopt;
  try {
    return nlohmann::json::parse(*body);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string netnsPath(const std::string& name) { return "/run/netns/" + name; }

std::string tail(const std::string& file, int lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out.empty() ? "    (" + file + " is empty)\n" : out;
}

namespace {

std::map<std::string, std::string> baseEnv() {
  return {{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {"LANG", "C.UTF-8"}};
}

ProcessRecord startDaemon(const std::vector<std::string>& argv, const std::string& netns, const std::string& cgroup,
                          const std::string& log) {
  SpawnSpec spec;
  spec.argv = argv;
  spec.env = baseEnv();
  spec.netns = netnsPath(netns);
  spec.cgroup = cgroup;
  spec.log = log;
  return {spawn(spec), cgroup, log};
}

std::function<std::string()> logTail(const std::string& log) {
  return [log] { return "  last lines of " + log + ":\n" + tail(log, 15); };
}

}  // namespace

void startAmbitd(LabState& s) {
  auto net = networkNetns(s.name);
  s.ambitd = startDaemon({s.bin.ambitd, "--config_dir", s.configDir(), "--xds.address", kControlPlaneIp,
                          "--xds.plaintext_port", "15010", "--xds.tls_port", "15012", "--ca.state_dir", s.dir + "/ca",
                          "--ca.cacerts_dir", s.dir + "/cacerts", "--ca.token_file", s.dir + "/tokens.yaml",
                          "--push.debounce", "50ms", "--admin.port", std::to_string(kAmbitdAdminPort),
                          "--admin.stats_port", std::to_string(kAmbitdStatsPort), "--admin.readiness_port",
                          std::to_string(kAmbitdReadyPort)},
                         net, s.cgroup + "/control", s.logDir() + "/ambitd.log");
  waitFor(
      [&] {
        if (!processAlive(s.ambitd.pid, s.ambitd.cgroup)) throw LabError("ambitd exited:\n" + tail(s.ambitd.log, 20));
        return fs::exists(s.dir + "/ca/root-cert.pem") && adminGet(net, kAmbitdReadyPort, "/healthz/ready");
      },
      20s, "ambitd did not become ready", logTail(s.ambitd.log));
}

void startAgent(LabState& s, NodeState& n, const std::string& capture) {
  auto node_dir = s.dir + "/" + n.name;
  n.agent = startDaemon({s.bin.agent, "--node_name", n.name, "--config_dir", s.configDir(), "--capture.mode", capture,
                         "--bpf.pin_dir", s.bpffs + "/" + n.name, "--bpf.cgroup", s.cgroup + "/" + n.name + "/pods",
                         "--zds.socket", node_dir + "/zds.sock", "--admin.port", std::to_string(kAgentAdminPort),
                         "--admin.stats_port", std::to_string(kAgentStatsPort), "--admin.readiness_port",
                         std::to_string(kAgentReadyPort)},
                        n.netns, s.cgroup + "/" + n.name + "/system", s.logDir() + "/" + n.name + "-agent.log");
}

void waitAgentReady(const LabState& s, NodeState& n) {
  waitFor(
      [&] {
        if (!processAlive(n.agent.pid, n.agent.cgroup)) {
          throw LabError("the agent on " + n.name + " exited:\n" + tail(n.agent.log, 20));
        }
        if (!adminGet(n.netns, kAgentReadyPort, "/healthz/ready")) return false;
        auto dump = adminJson(n.netns, kAgentAdminPort, "/config_dump");
        if (!dump) return false;
        n.capture_mode = dump->value("/capture/mode"_json_pointer, std::string());
        return fs::exists(s.dir + "/" + n.name + "/zds.sock");
      },
      20s, "the agent on " + n.name + " did not become ready", logTail(n.agent.log));
}

void startZtunnel(LabState& s, NodeState& n, int generation) {
  auto ports = ztunnelPorts(generation);
  auto node_dir = s.dir + "/" + n.name;
  n.ztunnel = startDaemon(
      {s.bin.ztunnel, "--node_name", n.name, "--xds.address", std::string(kControlPlaneIp) + ":15012",
       "--xds.root_cert", s.dir + "/ca/root-cert.pem", "--ca.token_file", node_dir + "/token", "--inpod.enabled",
       "true", "--inpod.socket", node_dir + "/zds.sock", "--inpod.bpf_pin_dir", s.bpffs + "/" + n.name,
       "--socks5.address", "", "--drain_deadline", "5s", "--xds.max_backoff", "2s", "--admin.port",
       std::to_string(ports.admin), "--admin.stats_address", "0.0.0.0", "--admin.stats_port",
       std::to_string(ports.stats), "--admin.readiness_address", "0.0.0.0", "--admin.readiness_port",
       std::to_string(ports.readiness)},
      n.netns, s.cgroup + "/" + n.name + "/system", s.logDir() + "/" + n.name + "-ztunnel.log");
  n.ztunnel_generation = generation;
}

void waitZtunnelReady(const LabState& s, const NodeState& n, int generation) {
  auto ports = ztunnelPorts(generation);
  auto want = enrolledPods(s, n.name);
  std::string missing;
  waitFor(
      [&] {
        if (!processAlive(n.ztunnel.pid, n.ztunnel.cgroup)) {
          throw LabError("ztunnel on " + n.name + " exited:\n" + tail(n.ztunnel.log, 20));
        }
        if (!adminGet(n.netns, ports.readiness, "/healthz/ready")) {
          missing = "not ready";
          return false;
        }
        auto dump = adminJson(n.netns, ports.admin, "/config_dump");
        if (!dump) return false;
        std::set<std::string> ready_ids;
        for (const auto& c : dump->value("/proxy/certificates"_json_pointer, nlohmann::json::array())) {
          if (c.value("state", "") == "ready") ready_ids.insert(c.value("identity", ""));
        }
        std::set<std::string> served;
        for (const auto& w : dump->value("/proxy/local_workloads"_json_pointer, nlohmann::json::array())) {
          if (w.value("listeners", 0) > 0 && w.value("in_wds", false) && ready_ids.count(w.value("identity", ""))) {
            served.insert(w.value("name", ""));  // "namespace/name"
          }
        }
        missing.clear();
        for (const auto& p : want) {
          if (!served.count(p)) missing += (missing.empty() ? "" : ", ") + p;
        }
        if (!missing.empty()) missing = "not serving yet: " + missing;
        return missing.empty();
      },
      30s, "ztunnel on " + n.name + " did not become ready",
      [&] { return "  " + missing + "\n  last lines of " + n.ztunnel.log + ":\n" + tail(n.ztunnel.log, 15); });
}

namespace {

// Does the proxy whose /config_dump this is hold what ambitd serves? Types it
// does not subscribe to are skipped (ztunnels take no route configuration).
bool inSync(const nlohmann::json& dump, const nlohmann::json& digests, const std::string& who, std::string& why) {
  auto types = dump.value("/xds/types"_json_pointer, nlohmann::json::object());
  for (const auto& [type, digest] : digests.items()) {
    if (!types.contains(type)) continue;
    if (types[type].value("digest", "") != digest.get<std::string>()) {
      why = who + " is not in sync for " + type;
      return false;
    }
  }
  return true;
}

}  // namespace

void waitMeshSynced(const LabState& s, const std::map<std::string, std::string>& written,
                    const std::vector<std::string>& removed, const std::set<std::string>& leaving_pods) {
  auto net = networkNetns(s.name);
  std::string why;
  waitFor(
      [&] {
        auto cp = adminJson(net, kAmbitdAdminPort, "/config_dump");
        if (!cp) {
          why = "ambitd does not answer";
          return false;
        }
        const auto files = cp->value("/source/files"_json_pointer, nlohmann::json::object());
        for (const auto& [path, content] : written) {
          // Errors first: a file rejected for a clash with another has no hash.
          auto errors = files.contains(path) ? files[path].value("errors", nlohmann::json::array()) : nlohmann::json::array();
          if (!errors.empty()) {
            std::string msg = "ambitd rejected " + path + " (its previous content stays in force):";
            for (const auto& e : errors) msg += "\n  " + e.get<std::string>();
            throw LabError(msg);
          }
          if (!files.contains(path) || files[path].value("content_hash", "") != controlplane::contentHash(content)) {
            why = "ambitd has not read " + path + " yet";
            return false;
          }
        }
        for (const auto& path : removed) {
          if (files.contains(path)) {
            why = "ambitd still holds " + path;
            return false;
          }
        }
        if (cp->value("/xds/system_version"_json_pointer, uint64_t{0}) < cp->value("/model/version"_json_pointer, uint64_t{0})) {
          why = "ambitd has not pushed the change yet";
          return false;
        }
        auto digests = cp->value("/xds/digests"_json_pointer, nlohmann::json::object());
        for (const auto& n : s.nodes) {
          auto zt = adminJson(n.netns, ztunnelPorts(n.ztunnel_generation).admin, "/config_dump");
          if (!zt) {
            why = "ztunnel on " + n.name + " does not answer";
            return false;
          }
          if (!inSync(*zt, digests, "ztunnel on " + n.name, why)) return false;
        }
        // Running waypoints too (one starting now is synced before it is ready).
        for (const auto& [key, p] : s.pods) {
          if (p.gateway.empty() || leaving_pods.count(key) || p.processes.empty() ||
              !processAlive(p.processes[0].pid, p.processes[0].cgroup)) {
            continue;
          }
          auto wp = adminJson(p.netns, kWaypointAdminPort, "/config_dump");
          if (!wp) {
            why = "waypoint " + key + " does not answer";
            return false;
          }
          if (!inSync(*wp, digests, "waypoint " + key, why)) return false;
        }
        return true;
      },
      20s, "the mesh did not take the change", [&] { return "  " + why; });
}

std::set<std::string> enrolledPods(const LabState& s, const std::string& node) {
  auto report = controlplane::validateDirectory(s.configDir());
  std::set<std::string> out;
  if (!report.snapshot) return out;
  for (const auto& p : agent::nodePods(*report.snapshot, node, controlplane::MeshSettings{})) {
    if (p.enrolled) out.insert(p.ns + "/" + p.name);
  }
  return out;
}

std::map<std::string, std::string> podEnvironment(const LabState& s, const PodState& p) {
  auto env = baseEnv();
  auto demo_dir = fs::path(s.bin.demo_app).parent_path().string();
  env["PATH"] = demo_dir + ":" + env["PATH"];
  env["HOME"] = "/root";
  env["HOSTNAME"] = p.name;
  env["POD_NAME"] = p.name;
  env["POD_NAMESPACE"] = p.ns;
  env["POD_IP"] = p.ip;
  env["NODE_NAME"] = p.node;
  std::vector<EnvService> svcs;
  for (const auto& [k, v] : s.services) svcs.push_back({v.ns, v.name, v.vip, v.first_port});
  for (const auto& [k, v] : serviceEnv(p.ns, svcs)) env[k] = v;
  return env;
}

void startPodProcesses(LabState& s, PodState& p, const PodSpec& spec) {
  auto log = s.logDir() + "/pod_" + p.ns + "_" + p.name + ".log";
  p.processes.clear();
  p.ports.clear();
  p.probes.clear();
  for (const auto& c : spec.containers) {
    for (int port : c.ports) p.ports.push_back(port);
    if (c.readiness) p.probes.push_back({c.readiness->port, c.readiness->path});
    if (c.argv.empty()) continue;  // an image-only container: the lab has nothing to run
    SpawnSpec sp;
    sp.argv = c.argv;
    sp.env = podEnvironment(s, p);
    for (const auto& [k, v] : c.env) sp.env[k] = v;
    sp.netns = netnsPath(p.netns);
    sp.cgroup = p.cgroup;
    sp.log = log;
    sp.hosts = p.hosts;
    sp.hostname = p.name;
    p.processes.push_back({spawn(sp), p.cgroup, log});
  }
  p.run_hash = spec.runHash();
}

namespace {

bool listening(const std::string& netns, int port) {
  auto ns = netns::Netns::open(netnsPath(netns));
  if (!ns) return false;
  auto fd = netns::socketIn(ns->get(), AF_INET, SOCK_STREAM);
  if (!fd) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(*fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(*fd);
  return ok;
}

}  // namespace

void waitPodListening(const LabState&, const PodState& p) {
  waitFor(
      [&] {
        for (const auto& r : p.processes) {
          if (!processAlive(r.pid, r.cgroup)) throw LabError("pod " + p.key() + ": its process exited:\n" + tail(r.log, 20));
        }
        for (int port : p.ports) {
          if (!listening(p.netns, port)) return false;
        }
        for (const auto& probe : p.probes) {
          if (!adminGet(p.netns, probe.port, probe.path)) return false;
        }
        return true;
      },
      p.probes.empty() ? 15s : 30s,
      "pod " + p.key() + " is not " + (p.probes.empty() ? "listening on its containerPorts" : "ready (readinessProbe)"),
      [&] { return p.processes.empty() ? std::string() : tail(p.processes.front().log, 15); });
}

void writeHostsFiles(const LabState& s) {
  std::vector<HostsService> svcs;
  for (const auto& [k, v] : s.services) svcs.push_back({v.ns, v.name, v.vip});
  for (const auto& [k, p] : s.pods) writeInPlace(p.hosts, hostsFile(p.ns, p.name, p.ip, svcs));
}

namespace {

std::string trimmed(std::string t) {
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  return t;
}

}  // namespace

std::string tokenPath(const LabState& s, const std::string& ns, const std::string& pod) {
  return s.dir + "/tokens/" + ns + "_" + pod;
}

Container waypointContainer(const LabState& s, const PodSpec& pod) {
  if (s.bin.waypoint.empty() || ::access(s.bin.waypoint.c_str(), X_OK) != 0) {
    throw LabError(pod.origin + ": Gateway " + pod.ns + "/" + pod.gateway + " needs the waypoint binary, not found at '" +
                   s.bin.waypoint + "' (build it, or lab up --bin-dir)");
  }
  Container c;
  c.name = "istio-proxy";
  c.argv = {s.bin.waypoint,
            "--gateway.name",
            pod.gateway,
            "--gateway.namespace",
            pod.ns,
            "--identity.service_account",
            pod.service_account,
            "--xds.address",
            std::string(kControlPlaneIp) + ":15012",
            "--xds.root_cert",
            s.dir + "/ca/root-cert.pem",
            "--ca.token_file",
            tokenPath(s, pod.ns, pod.name),
            "--xds.max_backoff",
            "2s",
            "--drain_deadline",
            "5s"};
  c.readiness = HttpProbe{kWaypointReadyPort, "/healthz/ready"};
  return c;
}

void writeTokens(const LabState& s) {
  std::string out = "# written by ambitctl lab: node proxies, and one workload token per waypoint pod\nnodes:\n";
  for (const auto& n : s.nodes) {
    auto token = readIfExists(s.dir + "/" + n.name + "/token");
    if (!token) continue;
    out += "- {name: " + n.name + ", token: " + trimmed(*token) + "}\n";
  }
  out += "workloads:\n";
  for (const auto& [key, p] : s.pods) {
    if (p.token.empty()) continue;
    auto token = readIfExists(p.token);
    if (!token) continue;
    out += "- {namespace: " + p.ns + ", serviceAccount: " + p.service_account + ", token: " + trimmed(*token) + "}\n";
  }
  writeAtomically(s.dir + "/tokens.yaml", out, true);
}

}  // namespace ambit::lab
