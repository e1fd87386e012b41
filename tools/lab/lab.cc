// `ambitctl lab up | down | apply | delete | restart`: making and changing a lab.
#include "tools/lab/lab.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>

#include "controlplane/model/parse.h"
#include "controlplane/source/file_source.h"
#include "tools/lab/lab_internal.h"
#include "tools/lab/manifest.h"
#include "tools/lab/plan.h"
#include "tools/lab/system.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace ambit::lab {

namespace {

// One lab command at a time per lab (a lock file beside its directory).
// `down` unlinks the file while it holds it: a command that was waiting then
// holds a lock on a deleted file, sees that, and locks the new one.
class LabLock {
 public:
  explicit LabLock(const LabOptions& lab) : path_(lab.lab_dir + "/." + lab.name + ".lock") {
    fs::create_directories(lab.lab_dir);
    for (int attempt = 0; attempt < 100; ++attempt) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw LabError("cannot lock " + path_ + ": " + std::strerror(errno));
      struct stat held {}, named {};
      if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
          held.st_dev == named.st_dev) {
        return;
      }
      ::close(fd_);
      fd_ = -1;
    }
    throw LabError("cannot lock " + path_ + ": it keeps being replaced");
  }
  ~LabLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Removes the lock file (still held, so no other command runs meanwhile).
  void removeFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

void say(std::ostream& out, const std::string& msg) { out << "  - " << msg << std::endl; }

std::string nowText() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string randomToken() {
  std::random_device rd;
  std::string hex = "0123456789abcdef", out;
  for (int i = 0; i < 40; ++i) out += hex[rd() % 16];
  return out;
}

void ipIn(const std::string& netns, std::vector<std::string> args) {
  args.insert(args.begin(), {"-n", netns});
  ip(args);
}

void buildNetwork(LabState& s, int nodes) {
  auto net = networkNetns(s.name);
  ip({"netns", "add", net});
  ipIn(net, {"link", "set", "lo", "up"});
  ipIn(net, {"link", "add", "br0", "type", "bridge"});
  ipIn(net, {"addr", "add", std::string(kControlPlaneIp) + "/24", "dev", "br0"});
  ipIn(net, {"link", "set", "br0", "up"});
  for (int i = 1; i <= nodes; ++i) {
    NodeState n;
    n.index = i;
    n.name = nodeName(i);
    n.netns = nodeNetns(s.name, i);
    n.ip = nodeIp(i);
    n.pod_cidr = podCidr(i);
    ip({"netns", "add", n.netns});
    std::string uplink = "n" + std::to_string(i);
    ipIn(net, {"link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", n.netns});
    ipIn(net, {"link", "set", uplink, "master", "br0", "up"});
    ipIn(net, {"route", "add", n.pod_cidr, "via", n.ip});
    ipIn(n.netns, {"link", "set", "lo", "up"});
    ipIn(n.netns, {"addr", "add", n.ip + "/24", "dev", "eth0"});
    ipIn(n.netns, {"link", "set", "eth0", "up"});
    ipIn(n.netns, {"link", "add", "cni0", "type", "bridge"});
    ipIn(n.netns, {"addr", "add", podGateway(i) + "/24", "dev", "cni0"});
    ipIn(n.netns, {"link", "set", "cni0", "up"});
    ip({"netns", "exec", n.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
    for (int j = 1; j <= nodes; ++j) {
      if (j != i) ipIn(n.netns, {"route", "add", podCidr(j), "via", nodeIp(j)});
    }
    fs::create_directories(s.dir + "/" + n.name);
    makeCgroup(s.cgroup + "/" + n.name + "/system");
    makeCgroup(s.cgroup + "/" + n.name + "/pods");
    s.nodes.push_back(n);
  }
}

// The names of what createPod makes for a placed pod.
void namePod(const LabState& s, PodState& p) {
  p.netns = podNetns(s.name, p.ns, p.name);
  p.veth = podVeth(p.slot);
  p.cgroup = s.cgroup + "/" + p.node + "/pods/" + p.ns + "_" + p.name;
  p.hosts = s.dir + "/hosts/" + p.ns + "_" + p.name;
}

void createPod(LabState& s, PodState& p) {
  const auto& node = s.nodes.at(static_cast<size_t>(p.node_index - 1));
  ip({"netns", "add", p.netns});
  ipIn(node.netns, {"link", "add", p.veth, "type", "veth", "peer", "name", "eth0", "netns", p.netns});
  ipIn(node.netns, {"link", "set", p.veth, "master", "cni0", "up"});
  ipIn(p.netns, {"link", "set", "lo", "up"});
  ipIn(p.netns, {"addr", "add", p.ip + "/24", "dev", "eth0"});
  ipIn(p.netns, {"link", "set", "eth0", "up"});
  ipIn(p.netns, {"route", "add", "default", "via", podGateway(p.node_index)});
  makeCgroup(p.cgroup);
  writeInPlace(p.hosts, "127.0.0.1\tlocalhost\n");
  if (!p.token.empty() && !fs::exists(p.token)) {
    fs::create_directories(fs::path(p.token).parent_path());
    writeAtomically(p.token, randomToken() + "\n", true);
  }
}

void destroyPod(const PodState& p) {
  if (!p.cgroup.empty()) removeCgroupTree(p.cgroup, 10s);
  if (!p.netns.empty() && fs::exists(netnsPath(p.netns)) && !tryIp({"netns", "del", p.netns})) {
    throw LabError("could not remove network namespace " + p.netns + " of pod " + p.key());
  }
  std::error_code ec;
  if (!p.hosts.empty()) fs::remove(p.hosts, ec);
  if (!p.token.empty()) fs::remove(p.token, ec);  // tokens.yaml is written again by the caller
}

void restartPodCgroup(const PodState& p) {
  removeCgroupTree(p.cgroup, 10s);
  makeCgroup(p.cgroup);
}

std::vector<std::string> yamlFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) out.push_back(e.path().string());
  }
  if (ec) throw LabError("reading " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

void throwIssues(const std::vector<config::ConfigIssue>& issues, const std::string& what) {
  if (issues.empty()) return;
  std::string msg = std::to_string(issues.size()) + " error(s) in " + what + ":";
  for (const auto& i : issues) msg += "\n  " + i.toString();
  throw LabError(msg);
}

void checkFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw LabError("cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  throwIssues(controlplane::parseDocuments(text, path).issues, path);
}

// Brings the lab's pods and services in line with `files` (each replaces the
// file of the same name). Returns the pods whose processes must (re)start.
struct Applied {
  std::vector<std::string> start;    // pod keys
  std::vector<std::string> created;  // pod keys whose netns/veth/cgroup are new
  std::vector<PodState> removed;     // to destroy once the agent has let go
  std::map<std::string, PodSpec> specs;
};

Applied applySources(LabState& s, std::vector<SourceFile>& files) {
  Applied a;
  for (auto& f : files) {
    std::set<std::string> pods_here, svcs_here;
    for (auto& svc : f.services) {
      auto key = svc.key();
      svcs_here.insert(key);
      auto it = s.services.find(key);
      if (it != s.services.end() && it->second.file != f.name) {
        throw LabError("Service " + key + " is already declared in " + it->second.file);
      }
      ServiceState st = it != s.services.end() ? it->second : ServiceState{svc.ns, svc.name, "", f.name, -1, 0};
      st.first_port = svc.first_port;
      if (!svc.cluster_ip.empty()) {
        // A ClusterIP the lab gave out before (a file read back from config/) keeps its slot.
        if (!(st.slot >= 0 && st.vip == svc.cluster_ip)) {
          st.vip = svc.cluster_ip == "None" ? "" : svc.cluster_ip;
          st.slot = -1;
        }
      } else if (st.slot < 0) {
        std::set<int> used;
        for (const auto& [k, v] : s.services) {
          if (v.slot >= 0) used.insert(v.slot);
        }
        auto slot = lowestFree(used, kServiceSlots);
        if (!slot) throw LabError("the lab has no ClusterIPs left");
        st.slot = *slot;
        st.vip = serviceVip(*slot);
      }
      if (svc.cluster_ip.empty()) fillService(svc, st.vip);
      s.services[key] = st;
    }
    for (auto& pod : f.pods) {
      auto key = pod.key();
      if (!pods_here.insert(key).second) throw LabError(pod.origin + ": pod " + key + " is declared twice");
      if (!pod.gateway.empty()) pod.containers = {waypointContainer(s, pod)};
      auto it = s.pods.find(key);
      if (it != s.pods.end() && it->second.file != f.name) {
        throw LabError(pod.origin + ": pod " + key + " is already declared in " + it->second.file);
      }
      if (it == s.pods.end()) {
        std::vector<int> counts(s.nodes.size(), 0);
        for (const auto& [k, p] : s.pods) counts[static_cast<size_t>(p.node_index - 1)]++;
        auto place = placePod(pod.node_name, counts);
        if (!place.error.empty()) throw LabError(pod.origin + ": pod " + key + ": " + place.error);
        std::set<int> used;
        for (const auto& [k, p] : s.pods) {
          if (p.node_index == place.node) used.insert(p.slot);
        }
        auto slot = lowestFree(used, kPodSlots);
        if (!slot) throw LabError("node" + std::to_string(place.node) + " has no pod addresses left");
        PodState p;
        p.ns = pod.ns;
        p.name = pod.name;
        p.node_index = place.node;
        p.node = nodeName(place.node);
        p.slot = *slot;
        p.ip = podIp(place.node, *slot);
        p.file = f.name;
        p.service_account = pod.service_account;
        p.gateway = pod.gateway;
        if (!p.gateway.empty()) p.token = tokenPath(s, p.ns, p.name);
        namePod(s, p);
        s.pods[key] = p;
        a.created.push_back(key);
        a.start.push_back(key);
      } else {
        if (!pod.node_name.empty() && pod.node_name != it->second.node) {
          throw LabError(pod.origin + ": pod " + key + " runs on " + it->second.node +
                         "; delete it before moving it to " + pod.node_name);
        }
        if (it->second.gateway != pod.gateway) {
          throw LabError(pod.origin + ": pod " + key + " is already running as " +
                         (it->second.gateway.empty() ? "a pod of its own" : "the waypoint of Gateway " + it->second.gateway) +
                         "; delete it (lab delete " + f.name + ") before declaring it again");
        }
        if (it->second.run_hash != pod.runHash()) a.start.push_back(key);
      }
      auto& st = s.pods[key];
      fillPod(pod, st.node, st.ip, netnsPath(st.netns));
      a.specs[key] = pod;
    }
    // A removed pod stays in the state (its slot taken) until it is destroyed.
    for (const auto& [key, p] : s.pods) {
      if (p.file == f.name && !pods_here.count(key)) a.removed.push_back(p);
    }
    for (auto it = s.services.begin(); it != s.services.end();) {
      if (it->second.file == f.name && !svcs_here.count(it->first)) {
        it = s.services.erase(it);
      } else {
        ++it;
      }
    }
    if (std::find(s.files.begin(), s.files.end(), f.name) == s.files.end()) s.files.push_back(f.name);
  }
  // Only now, with every file checked and placed, are namespaces made; a
  // failure removes what this call made.
  std::vector<std::string> made;
  try {
    for (const auto& key : a.created) {
      made.push_back(key);
      createPod(s, s.pods.at(key));
    }
    writeTokens(s);  // before any waypoint starts; ambitd reads the file again on the next request
  } catch (...) {
    for (const auto& key : made) {
      try {
        destroyPod(s.pods.at(key));
      } catch (...) {
      }
    }
    throw;
  }
  return a;
}

// Writes the config ambitd and the agents read, then waits for the mesh to
// catch up: removed pods released, enrolled pods served by their ztunnel; then
// starts the processes of new or changed pods.
// `previous` is the state before applySources: a change ambitd rejects is
// undone whole (config files, the pods this change made, the state).
void commit(LabState& s, const LabState& previous, std::vector<SourceFile>& files, Applied& a, std::ostream& out,
            const std::vector<std::string>& removed_files = {}) {
  writeHostsFiles(s);
  std::map<std::string, std::string> written;
  std::map<std::string, std::optional<std::string>> before;  // what config/ held, to put back on a rejection
  for (const auto& f : files) {
    auto path = s.configDir() + "/" + f.name;
    before[path] = readIfExists(path);
    written[path] = emit(f);
    writeAtomically(path, written[path]);
  }
  saveState(s);
  try {
    std::set<std::string> leaving;
    for (const auto& p : a.removed) leaving.insert(p.key());
    waitMeshSynced(s, written, removed_files, leaving);
  } catch (const LabError&) {
    // ambitd keeps its last good config; config/ (which the agents read too)
    // and the lab must say the same.
    for (const auto& [path, text] : before) {
      std::error_code ec;
      if (text) {
        writeAtomically(path, *text);
      } else {
        fs::remove(path, ec);
      }
    }
    for (const auto& key : a.created) {
      try {
        destroyPod(s.pods.at(key));
      } catch (const LabError& e) {
        out << "  ! " << e.what() << "\n";
      }
    }
    s = previous;
    writeHostsFiles(s);
    writeTokens(s);
    saveState(s);
    throw;
  }
  for (const auto& p : a.removed) {
    const auto* n = s.node(p.node);
    bool released = tryWaitFor(
        [&] {
          auto dump = adminJson(n->netns, kAgentAdminPort, "/config_dump");
          if (!dump) return false;
          for (const auto& x : dump->value("pods", nlohmann::json::array())) {
            if (x.value("namespace", "") == p.ns && x.value("name", "") == p.name) return false;
          }
          return true;
        },
        15s);
    if (!released) say(out, "the agent on " + p.node + " did not release pod " + p.key() + " within 15 s; removing it anyway");
    destroyPod(p);
    s.pods.erase(p.key());
    writeTokens(s);
    saveState(s);
    say(out, "pod " + p.key() + " deleted");
  }
  for (auto& n : s.nodes) waitZtunnelReady(s, n, n.ztunnel_generation);
  for (const auto& key : a.start) {
    auto& p = s.pods.at(key);
    if (!p.processes.empty()) restartPodCgroup(p);
    startPodProcesses(s, p, a.specs.at(key));
    saveState(s);
  }
  for (const auto& key : a.start) {
    waitPodListening(s, s.pods.at(key));
    const auto& p = s.pods.at(key);
    say(out, "pod " + p.key() + " on " + p.node + " at " + p.ip + (p.processes.empty() ? " (nothing to run)" : ""));
  }
  saveState(s);
}

void removeEverything(const LabOptions& lab, std::ostream& out, bool quiet_if_nothing) {
  auto prefix = prefixOf(lab.name);
  int cgroups = 0, netns = 0;
  bool bpffs = false, dir = false;
  std::vector<std::string> left;
  auto root = cgroup2Root();
  if (!root.empty()) cgroups = removeCgroupTree(root + "/" + prefix, 15s);
  for (const auto& name : netnsNamesWithPrefix(prefix + "_")) {
    if (tryIp({"netns", "del", name})) {
      ++netns;
    } else {
      left.push_back("network namespace " + name);
    }
  }
  auto bpf = lab.dir() + "/bpffs";
  if (isMountPoint(bpf)) {
    unmount(bpf);
    bpffs = true;
  }
  std::error_code ec;
  if (fs::exists(lab.dir())) {
    fs::remove_all(lab.dir(), ec);
    if (ec) throw LabError("removing " + lab.dir() + ": " + ec.message());
    dir = true;
  }
  if (!left.empty()) {
    std::string msg = "lab '" + lab.name + "': could not remove";
    for (const auto& x : left) msg += "\n  " + x;
    throw LabError(msg + "\n(see `ip netns list`; run `ambitctl lab down` again)");
  }
  if (cgroups + netns == 0 && !bpffs && !dir) {
    if (!quiet_if_nothing) out << "lab '" << lab.name << "': nothing to remove\n";
    return;
  }
  out << "lab '" << lab.name << "' removed: " << netns << " network namespace(s), " << cgroups
      << " cgroup(s) and every process in them" << (bpffs ? ", the bpffs mount" : "") << (dir ? ", " + lab.dir() : "")
      << "\n";
}

}  // namespace

void labUp(const LabOptions& lab, const UpOptions& up, std::ostream& out) {
  requireRoot();
  if (!validLabName(lab.name)) throw LabError("lab name '" + lab.name + "': use 1-20 of a-z, 0-9 and '-'");
  if (up.nodes < 1 || up.nodes > kMaxNodes) throw LabError("--nodes: 1 to " + std::to_string(kMaxNodes));
  for (const auto& [what, path] : {std::pair{"ambitd", up.bin.ambitd}, {"ztunnel", up.bin.ztunnel},
                                   {"ambit-agent", up.bin.agent}, {"ambit-demo-app", up.bin.demo_app}}) {
    if (::access(path.c_str(), X_OK) != 0) throw LabError(std::string(what) + " not found at '" + path + "' (build first, or --bin-dir)");
  }
  auto root = cgroup2Root();
  if (root.empty()) throw LabError("no cgroup2 mount: the lab needs cgroup v2");
  LabLock lock(lab);
  if (fs::exists(lab.dir() + "/state.json")) {
    auto old = loadState(lab.dir());
    if (processAlive(old.ambitd.pid, old.ambitd.cgroup)) {
      throw LabError("lab '" + lab.name + "' is already up (ambitctl lab status; ambitctl lab down)");
    }
  }
  // Check the config before anything is made.
  auto report = controlplane::validateDirectory(up.config);
  throwIssues(report.issues, up.config);
  std::vector<SourceFile> files;
  for (const auto& path : yamlFiles(up.config)) files.push_back(readSource(path));
  if (files.empty()) throw LabError(up.config + " has no .yaml files");

  // Kernel objects are named after the lab alone: a live lab of this name from
  // another --lab-dir must not be taken for the remains of a crash.
  if (!fs::exists(lab.dir() + "/state.json") && populated(root + "/" + prefixOf(lab.name))) {
    throw LabError("processes of a lab named '" + lab.name + "' are running, but " + lab.lab_dir +
                   " has no record of it (another --lab-dir?): choose another --name, or remove it with "
                   "`ambitctl lab down --name " + lab.name + "`");
  }
  out << "Starting lab '" << lab.name << "' (" << up.nodes << " node(s), config " << up.config << ")\n";
  removeEverything(lab, out, true);  // the remains of a lab that crashed
  LabState s;
  s.name = lab.name;
  s.dir = lab.dir();
  s.cgroup = root + "/" + prefixOf(lab.name);
  s.bpffs = s.dir + "/bpffs";
  s.created = nowText();
  s.bin = up.bin;
  try {
    for (const char* d : {"config", "logs", "hosts", "ca", "cacerts"}) fs::create_directories(s.dir + "/" + d);
    makeCgroup(s.cgroup + "/control");
    mountBpffs(s.bpffs);
    saveState(s);
    buildNetwork(s, up.nodes);
    saveState(s);
    say(out, "network " + std::string(kNetworkCidr) + ", nodes " + nodeIp(1) + (up.nodes > 1 ? ".." + nodeIp(up.nodes) : "") +
                 ", pods in 198.18.<node>.0/24, services in 198.18.200.0/24");
    for (const auto& n : s.nodes) {
      writeAtomically(s.dir + "/" + n.name + "/token", randomToken() + "\n", true);
    }
    writeTokens(s);
    startAmbitd(s);
    saveState(s);
    say(out, "ambitd ready on " + std::string(kControlPlaneIp) + ":15012 (xDS + CA), log " + s.ambitd.log);
    // Pods' namespaces exist before the agents start, so the first pass captures them.
    auto before_pods = s;
    auto applied = applySources(s, files);
    writeHostsFiles(s);
    for (const auto& f : files) writeAtomically(s.configDir() + "/" + f.name, emit(f));
    saveState(s);
    for (auto& n : s.nodes) startAgent(s, n, up.capture);
    for (auto& n : s.nodes) {
      waitAgentReady(s, n);
      say(out, n.name + ": ambit-agent ready, capture " + n.capture_mode);
    }
    saveState(s);
    for (auto& n : s.nodes) startZtunnel(s, n, 0);
    saveState(s);
    for (auto& n : s.nodes) {
      waitZtunnelReady(s, n, 0);
      say(out, n.name + ": ztunnel ready (in-pod mode), serving " + std::to_string(enrolledPods(s, n.name).size()) +
                   " enrolled pod(s)");
    }
    applied.removed.clear();
    commit(s, before_pods, files, applied, out);
  } catch (...) {
    try {
      saveState(s);  // so that status and logs still work; `down` needs none of it
    } catch (...) {
    }
    out << "\nThe lab did not come up; its logs are in " << s.logDir() << ". `ambitctl lab down";
    if (lab.name != "lab") out << " --name " << lab.name;
    out << "` removes what was made.\n";
    throw;
  }
  out << "\n";
  labStatus(lab, false, out);
  std::string n = lab.name == "lab" ? "" : " --name " + lab.name;
  out << "\nTry:\n"
      << "  ambitctl lab exec" << n << " demo/client-0 -- curl -s http://frontend:8080/\n"
      << "  ambitctl ztunnel-config workloads" << n << " --node node1\n"
      << "  ambitctl lab metrics ztunnel" << n << " --node node2 --filter istio_tcp_connections_opened_total\n"
      << "  ambitctl lab apply" << n << " FILE      (policies, pods, services: applied live)\n"
      << "  ambitctl lab logs" << n << " ztunnel --node node1\n"
      << "  ambitctl lab down" << n << "\n";
}

void labDown(const LabOptions& lab, std::ostream& out) {
  requireRoot();
  if (!validLabName(lab.name)) throw LabError("lab name '" + lab.name + "': use 1-20 of a-z, 0-9 and '-'");
  LabLock lock(lab);
  removeEverything(lab, out, false);
  lock.removeFile();
}

void labApply(const LabOptions& lab, const std::string& file, std::ostream& out) {
  requireRoot();
  LabLock lock(lab);
  auto s = loadState(lab.dir());
  checkFile(file);
  std::vector<SourceFile> files{readSource(file)};
  auto previous = s;
  auto applied = applySources(s, files);
  commit(s, previous, files, applied, out);
  out << file << " applied as " << s.configDir() << "/" << files[0].name << "\n";
}

void labDelete(const LabOptions& lab, const std::string& file, std::ostream& out) {
  requireRoot();
  LabLock lock(lab);
  auto s = loadState(lab.dir());
  auto name = fs::path(file).filename().string();
  if (std::find(s.files.begin(), s.files.end(), name) == s.files.end()) {
    throw LabError("no file named " + name + " was applied to lab '" + lab.name + "'");
  }
  SourceFile empty;
  empty.name = name;
  std::vector<SourceFile> files{empty};
  auto previous = s;
  auto applied = applySources(s, files);
  auto path = s.configDir() + "/" + name;
  auto text = readIfExists(path);
  std::error_code ec;
  fs::remove(path, ec);
  s.files.erase(std::find(s.files.begin(), s.files.end(), name));
  files.clear();
  try {
    commit(s, previous, files, applied, out, {path});
  } catch (const LabError&) {
    // Rejected (commit put the previous state back): the file stays applied.
    bool rolled_back = std::find(s.files.begin(), s.files.end(), name) != s.files.end();
    if (rolled_back && text && !fs::exists(path)) writeAtomically(path, *text);
    throw;
  }
  out << name << " deleted from lab '" << lab.name << "'\n";
}

void labLabel(const LabOptions& lab, const std::string& kind, const std::string& name, const std::string& ns,
              const std::vector<std::string>& labels, std::ostream& out) {
  requireRoot();
  if (labels.empty()) throw LabError("label: give KEY=VALUE (set) or KEY- (remove)");
  std::vector<LabelChange> changes;
  for (const auto& l : labels) changes.push_back(parseLabelChange(l));
  auto want = kindName(kind);
  LabLock lock(lab);
  auto s = loadState(lab.dir());
  for (const auto& file : s.files) {
    auto src = readSource(s.configDir() + "/" + file);
    auto found = findObject(src, want, ns, name);
    if (!found.doc) continue;
    if (!found.generated_from.empty()) {
      throw LabError(want + " " + found.key + " is made by the lab from " + found.generated_from +
                     ": change the Gateway instead");
    }
    YAML::Node doc = found.doc;
    relabel(doc, changes);
    std::vector<SourceFile> files{src};
    auto previous = s;
    auto applied = applySources(s, files);
    commit(s, previous, files, applied, out);
    out << want << " " << found.key << " labeled (in " << file << ")\n";
    return;
  }
  throw LabError("no " + want + " " + (want == "Namespace" ? name : ns + "/" + name) + " in lab '" + lab.name + "'");
}

void labRestart(const LabOptions& lab, const std::string& component, const std::string& node, std::ostream& out) {
  requireRoot();
  LabLock lock(lab);
  auto s = loadState(lab.dir());
  NodeState* n = nullptr;
  for (auto& x : s.nodes) {
    if (x.name == node) n = &x;
  }
  if (!n) throw LabError("no node '" + node + "' in lab '" + lab.name + "'");
  if (component == "ztunnel") {
    auto old = n->ztunnel;
    int old_gen = n->ztunnel_generation;
    int gen = old_gen + 1;
    try {
      startZtunnel(s, *n, gen);
      saveState(s);
      waitZtunnelReady(s, *n, gen);
    } catch (...) {
      // The old ztunnel still serves: stop the new one and keep the old.
      auto failed = n->ztunnel;
      if (failed.pid != old.pid) {
        try {
          stopProcess(failed.pid, failed.cgroup, 15s);
        } catch (...) {
        }
      }
      n->ztunnel = old;
      n->ztunnel_generation = old_gen;
      saveState(s);
      throw;
    }
    say(out, node + ": new ztunnel (pid " + std::to_string(n->ztunnel.pid) + ") ready beside the old one");
    stopProcess(old.pid, old.cgroup, 15s);
    say(out, node + ": old ztunnel (pid " + std::to_string(old.pid) + ") drained and exited");
  } else if (component == "agent") {
    stopProcess(n->agent.pid, n->agent.cgroup, 10s);
    say(out, node + ": ambit-agent stopped (capture stays in place)");
    startAgent(s, *n, n->capture_mode.empty() ? "auto" : n->capture_mode);
    saveState(s);
    waitAgentReady(s, *n);
    say(out, node + ": ambit-agent (pid " + std::to_string(n->agent.pid) + ") ready, capture " + n->capture_mode);
  } else {
    throw LabError("restart: 'ztunnel' or 'agent', not '" + component + "'");
  }
  saveState(s);
}

}  // namespace ambit::lab
