// End to end on the lab (root): `ambitctl lab up` with the demo config, then
// real traffic between pods through eBPF capture, in-pod ztunnels, HBONE and
// mTLS, policy applied live, restarts under load, and `lab down` leaving
// nothing behind. Each test has its own lab (name and state directory).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/netns.h"
#include "tests/support/privileged.h"
#include "tests/support/process.h"
#include "tests/support/prom.h"

namespace ambit::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

struct CtlRun {
  int status = -1;
  std::string output;
};


// Processes whose command line or cwd mention `needle` (zombies have none).
std::vector<std::string> processesMentioning(const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& c : cmd) c = c == '\0' ? ' ' : c;
    if (cmd.find(needle) != std::string::npos) out.push_back(pid + ": " + cmd);
  }
  return out;
}

class LabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AMBIT_REQUIRE_ROOT();
    char tmpl[] = "/tmp/ambit-test-lab-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    name_ = uniqueName("e");
    auto up = ctl({"lab", "up", "--nodes", "2", "--config", std::string(AMBIT_SOURCE_DIR) + "/deploy/lab/mesh"}, 90s);
    up_ = up.status == 0;
    ASSERT_EQ(up.status, 0) << up.output;
    EXPECT_THAT(up.output, HasSubstr("demo/backend-v1-0"));
    status_ = nlohmann::json::parse(ctl({"lab", "status", "--json"}).output);
  }

  void TearDown() override {
    if (name_.empty()) return;
    if (HasFailure() && up_) {
      for (const auto& what : {"ztunnel", "agent"}) {
        for (const auto& node : {"node1", "node2"}) {
          std::cerr << "---- " << what << " " << node << " ----\n"
                    << ctl({"lab", "logs", what, "--node", node}).output.substr(0, 20000);
        }
      }
    }
    auto down = ctl({"lab", "down"});
    EXPECT_EQ(down.status, 0) << down.output;
    // Nothing of the lab is left: no netns, cgroup, bpffs mount, process or file.
    std::string prefix = "ambitlab-" + name_;
    EXPECT_NE(shell("ip netns list | grep -q '" + prefix + "_'"), 0) << "a network namespace was left";
    EXPECT_FALSE(fs::exists(cgroup2Root() + "/" + prefix)) << "the cgroup was left";
    EXPECT_FALSE(isMounted(dir_ + "/" + name_ + "/bpffs")) << "the bpffs was left mounted";
    EXPECT_FALSE(fs::exists(dir_ + "/" + name_)) << "the state directory was left";
    auto procs = processesMentioning(dir_ + "/" + name_);
    EXPECT_TRUE(procs.empty()) << "processes left: " << ::testing::PrintToString(procs);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> labArgs(std::vector<std::string> args) {
    // Every lab command (and ztunnel-config) takes --name and --lab-dir;
    // before any "--" (exec's command).
    auto at = std::find(args.begin(), args.end(), "--");
    args.insert(at, {"--name", name_, "--lab-dir", dir_});
    return args;
  }

  CtlRun ctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s) {
    ChildProcess p(AMBITCTL_BINARY, labArgs(args));
    auto st = p.wait(timeout);
    CtlRun r;
    r.status = st.value_or(-1);
    r.output = p.output();
    return r;
  }

  // A command in a pod.
  CtlRun exec(const std::string& pod, std::vector<std::string> cmd, std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> args{"lab", "exec", pod, "--"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return ctl(args, timeout);
  }
  CtlRun get(const std::string& pod, const std::string& url) {
    return exec(pod, {"ambit-demo-app", "get", "--timeout", "3s", url});
  }
  // `ambit-demo-app load URL` from the client pod, in the background: `count`
  // requests 50 ms apart (one kept-alive connection with `reuse`).
  std::unique_ptr<ChildProcess> startLoad(const std::string& url, int count, bool reuse = false) {
    std::vector<std::string> args{"lab", "exec", "demo/client-0", "--", "ambit-demo-app", "load", url,
                                  "--count", std::to_string(count), "--interval", "50ms"};
    if (reuse) args.push_back("--reuse");
    return std::make_unique<ChildProcess>(AMBITCTL_BINARY, labArgs(args));
  }
  std::string metrics(const std::string& node) { return ctl({"lab", "metrics", "ztunnel", "--node", node}).output; }
  std::string podIp(const std::string& pod) {
    for (const auto& p : status_["pods"]) {
      if (p["pod"] == pod) return p["ip"];
    }
    return "";
  }

  std::string dir_, name_;
  bool up_ = false;
  nlohmann::json status_;
};

TEST_F(LabTest, CrossAndSameNodeTrafficIsCapturedByEbpfAndCarriedOverMutualTls) {
  for (const auto& n : status_["nodes"]) EXPECT_EQ(n["capture"], "ebpf") << n.dump();
  // client -> frontend: same node (node1); frontend -> backend: node1 -> node2.
  auto r = get("demo/client-0", "http://frontend:8080/");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("pod=frontend-0"));
  EXPECT_THAT(r.output, HasSubstr("-> pod=backend-v"));
  // The apps see the addresses they dialled (eBPF getpeername) and each hop is
  // reported by both ztunnels, with identities from mTLS.
  auto m1 = metrics("node1"), m2 = metrics("node2");
  const std::string mtls = "connection_security_policy=\"mutual_tls\"";
  EXPECT_GE(metricSum(m1, "istio_tcp_connections_opened_total",
                      {"reporter=\"source\"", "source_workload=\"client\"", "destination_workload=\"frontend\"", mtls}),
            1)
      << m1;
  EXPECT_GE(metricSum(m1, "istio_tcp_connections_opened_total",
                      {"reporter=\"destination\"", "source_workload=\"client\"", "destination_workload=\"frontend\"",
                       "source_principal=\"spiffe://cluster.local/ns/demo/sa/client\"", mtls}),
            1)
      << m1;
  EXPECT_GE(metricSum(m1, "istio_tcp_connections_opened_total",
                      {"reporter=\"source\"", "source_workload=\"frontend\"", "destination_workload=\"backend\"",
                       "destination_service=\"backend.demo.svc.cluster.local\"", mtls}),
            1)
      << m1;
  EXPECT_GE(metricSum(m2, "istio_tcp_connections_opened_total",
                      {"reporter=\"destination\"", "source_workload=\"frontend\"", "destination_workload=\"backend\"",
                       "source_principal=\"spiffe://cluster.local/ns/demo/sa/frontend\"", mtls}),
            1)
      << m2;
  // The agent's eBPF programs did the redirecting.
  auto agent = ctl({"lab", "metrics", "agent", "--node", "node1"}).output;
  EXPECT_GE(metricSum(agent, "ambit_agent_capture_events", {"mode=\"ebpf\""}), 1) << agent;
  // ztunnel-config shows the mesh as a node's ztunnel sees it.
  auto workloads = ctl({"ztunnel-config", "workloads", "--node", "node2"});
  ASSERT_EQ(workloads.status, 0) << workloads.output;
  EXPECT_THAT(workloads.output, HasSubstr("spiffe://cluster.local/ns/demo/sa/backend"));
  auto certs = ctl({"ztunnel-config", "certificates", "--node", "node2", "-o", "json"});
  ASSERT_EQ(certs.status, 0) << certs.output;
  auto cj = nlohmann::json::parse(certs.output);
  ASSERT_FALSE(cj.empty());
  for (const auto& c : cj) EXPECT_EQ(c["state"], "ready") << c.dump();
}

TEST_F(LabTest, PolicyFromYamlIsAppliedLive) {
  ASSERT_EQ(get("demo/client-0", "http://backend:8080/").status, 0);
  auto applied = ctl({"lab", "apply", std::string(AMBIT_SOURCE_DIR) + "/deploy/lab/extras/deny-client.yaml"});
  ASSERT_EQ(applied.status, 0) << applied.output;
  // `apply` returns once every ztunnel holds the policy: no waiting here.
  auto denied = get("demo/client-0", "http://backend:8080/");
  EXPECT_NE(denied.status, 0) << denied.output;
  auto via_frontend = get("demo/client-0", "http://frontend:8080/");
  EXPECT_EQ(via_frontend.status, 0) << via_frontend.output;
  auto m2 = metrics("node2");
  EXPECT_GE(metricSum(m2, "istio_tcp_connections_opened_total",
                      {"reporter=\"destination\"", "source_workload=\"client\"", "destination_workload=\"backend\""}),
            1);
  auto deleted = ctl({"lab", "delete", "deny-client.yaml"});
  ASSERT_EQ(deleted.status, 0) << deleted.output;
  EXPECT_EQ(get("demo/client-0", "http://backend:8080/").status, 0);
  // A file with a mistake is refused with file, line and field; nothing changes.
  auto bad = dir_ + "/bad-policy.yaml";
  std::ofstream(bad) << "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                        "metadata: {name: oops, namespace: demo}\nspec:\n  action: DENY\n"
                        "  rules:\n  - from: [{source: {principal: [x]}}]\n";
  auto refused = ctl({"lab", "apply", bad});
  EXPECT_NE(refused.status, 0);
  EXPECT_THAT(refused.output, HasSubstr("bad-policy.yaml:7"));
  EXPECT_EQ(get("demo/client-0", "http://backend:8080/").status, 0);

  // A file ambitd refuses (its PeerAuthentication is already declared in
  // demo.yaml) is undone whole: the pod it added is gone and config/ keeps no
  // copy. So is a file the lab refuses (a pod on a node it does not have).
  const std::string extra_pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: extra, namespace: demo}\n"
      "spec:\n  nodeName: node1\n  containers:\n  - name: app\n    command: [ambit-demo-app, serve]\n";
  auto extra_netns = [&] { return shell("ip netns list | grep -q 'ambitlab-" + name_ + "_pod_demo_extra'") == 0; };
  // Each refused file: exit status, a reason, and no trace of pod "extra".
  auto refusedWhole = [&](const std::string& file, const std::string& second_doc, const std::string& reason) {
    std::ofstream(file) << extra_pod << "---\n" << second_doc;
    auto r = ctl({"lab", "apply", file});
    EXPECT_NE(r.status, 0) << file;
    EXPECT_THAT(r.output, HasSubstr(reason));
    EXPECT_FALSE(extra_netns()) << file;
    EXPECT_FALSE(fs::exists(dir_ + "/" + name_ + "/config/" + fs::path(file).filename().string())) << file;
  };
  auto clash = dir_ + "/clash.yaml";
  refusedWhole(clash,
               "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
               "metadata: {name: default, namespace: demo}\nspec: {mtls: {mode: PERMISSIVE}}\n",
               "already declared");
  refusedWhole(dir_ + "/nowhere.yaml",
               "apiVersion: v1\nkind: Pod\nmetadata: {name: lost, namespace: demo}\n"
               "spec:\n  nodeName: node9\n  containers:\n  - name: app\n    command: [ambit-demo-app, serve]\n",
               "node9");
  // The same pod from a good file then comes up (nothing half-made is in its way).
  std::ofstream(clash) << extra_pod;
  auto good = ctl({"lab", "apply", clash});
  ASSERT_EQ(good.status, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("pod demo/extra on node1"));
  EXPECT_TRUE(extra_netns());
  auto removed = ctl({"lab", "delete", "clash.yaml"});
  ASSERT_EQ(removed.status, 0) << removed.output;
  EXPECT_FALSE(extra_netns());
}

// A waypoint, as a user adds one: a Gateway of class istio-waypoint (the lab
// runs its pod and Service), the namespace label that sends the services'
// traffic through it, then a VirtualService: a 90/10 canary measured over
// 1,000 requests, header routing, TCP passed through, the waypoint's metrics;
// deleting the Gateway sends traffic direct again.
TEST_F(LabTest, AWaypointCarriesTheCanarySplitAndTcp) {
  const std::string extras = std::string(AMBIT_SOURCE_DIR) + "/deploy/lab/extras/";
  auto applied = ctl({"lab", "apply", extras + "waypoint.yaml"});
  ASSERT_EQ(applied.status, 0) << applied.output;
  EXPECT_THAT(applied.output, HasSubstr("pod demo/waypoint-0 on node"));
  auto status = nlohmann::json::parse(ctl({"lab", "status", "--json"}).output);
  bool ready = false;
  for (const auto& p : status["pods"]) ready |= p["pod"] == "demo/waypoint-0" && p["enrolled"] == "waypoint (ready)";
  EXPECT_TRUE(ready) << status.dump(2);
  bool service = false;
  for (const auto& v : status["services"]) service |= v["service"] == "demo/waypoint";
  EXPECT_TRUE(service) << status.dump(2);

  auto labeled = ctl({"lab", "label", "namespace", "demo", "istio.io/use-waypoint=waypoint"});
  ASSERT_EQ(labeled.status, 0) << labeled.output;
  auto canary = ctl({"lab", "apply", extras + "backend-canary.yaml"});
  ASSERT_EQ(canary.status, 0) << canary.output;

  auto load = exec("demo/client-0",
                   {"ambit-demo-app", "load", "http://backend:8080/", "--count", "1000", "--interval", "0ms", "--reuse"},
                   60s);
  ASSERT_EQ(load.status, 0) << load.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(load.output, m, std::regex("versions=v1:([0-9]+),v2:([0-9]+)"))) << load.output;
  int v1 = std::stoi(m[1].str()), v2 = std::stoi(m[2].str());
  EXPECT_EQ(v1 + v2, 1000);
  EXPECT_GE(v2, 70) << load.output;  // 10 % +- 3 %
  EXPECT_LE(v2, 130) << load.output;
  for (int i = 0; i < 5; ++i) {
    auto r = exec("demo/client-0", {"curl", "-sS", "--max-time", "5", "-H", "x-canary: always", "http://backend:8080/"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("version=v2"));
  }
  auto echo = exec("demo/client-0", {"ambit-demo-app", "echo", "backend:9090", "--message", "through the waypoint"});
  ASSERT_EQ(echo.status, 0) << echo.output;
  EXPECT_THAT(echo.output, HasSubstr("through the waypoint"));

  auto wm = ctl({"lab", "metrics", "waypoint"}).output;
  EXPECT_GE(metricSum(wm, "istio_requests_total",
                      {"reporter=\"waypoint\"", "source_workload=\"client\"", "destination_version=\"v2\""}),
            v2);
  EXPECT_GE(metricSum(wm, "istio_tcp_connections_opened_total",
                      {"reporter=\"waypoint\"", "source_workload=\"client\"", "destination_workload=\"backend\""}),
            1);
  // The backends' ztunnel saw the waypoint, not the client, as the caller.
  EXPECT_GE(metricSum(metrics("node2"), "istio_tcp_connections_opened_total",
                      {"reporter=\"destination\"", "source_workload=\"waypoint\"", "destination_workload=\"backend\""}),
            1);

  // Without its Gateway the label names no waypoint: traffic goes direct.
  auto deleted = ctl({"lab", "delete", "waypoint.yaml"});
  ASSERT_EQ(deleted.status, 0) << deleted.output;
  EXPECT_EQ(get("demo/client-0", "http://backend:8080/").status, 0);
  auto unlabeled = ctl({"lab", "label", "ns", "demo", "istio.io/use-waypoint-"});
  ASSERT_EQ(unlabeled.status, 0) << unlabeled.output;
  auto bad = ctl({"lab", "label", "ns", "demo", "bad key=x"});
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.output, HasSubstr("label key 'bad key'"));
}

TEST_F(LabTest, NonEnrolledNamespaceIsLeftAlone) {
  auto client_ip = podIp("legacy/legacy-client-0");
  auto server_ip = podIp("legacy/legacy-server-0");
  ASSERT_FALSE(server_ip.empty());
  auto r = get("legacy/legacy-client-0", "http://" + server_ip + ":8080/");
  ASSERT_EQ(r.status, 0) << r.output;
  // Not proxied: the server sees the client's own address.
  EXPECT_THAT(r.output, HasSubstr("peer=::ffff:" + client_ip + ":"));
  for (const auto* node : {"node1", "node2"}) {
    auto m = metrics(node);
    EXPECT_EQ(metricSum(m, "istio_tcp_connections_opened_total", {"legacy"}), 0) << m;
  }
}

TEST_F(LabTest, ZtunnelRollingRestartUnderSteadyLoadLosesNoConnection) {
  // hardening.md 13: a new connection every 50 ms while each node's ztunnel is replaced.
  auto load = startLoad("http://frontend:8080/", 100);
  std::this_thread::sleep_for(500ms);
  for (const auto* node : {"node2", "node1"}) {
    auto r = ctl({"lab", "restart", "ztunnel", "--node", node});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("drained and exited"));
    std::this_thread::sleep_for(300ms);
  }
  auto done = load->wait(30s);
  ASSERT_TRUE(done.has_value()) << load->output();
  EXPECT_EQ(*done, 0) << load->output();
  EXPECT_THAT(load->output(), HasSubstr("requests=100 ok=100 failed=0"));
  // The new ztunnels serve on their own.
  EXPECT_EQ(get("demo/client-0", "http://frontend:8080/").status, 0);
}

TEST_F(LabTest, AgentRestartChangesNothingForRunningPods) {
  // One kept-alive connection (--reuse) across the restart, and new ones.
  auto held = startLoad("http://backend:8080/", 60, true);
  auto fresh = startLoad("http://frontend:8080/", 60);
  std::this_thread::sleep_for(300ms);
  for (const auto* node : {"node1", "node2"}) {
    auto r = ctl({"lab", "restart", "agent", "--node", node});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  for (auto* p : {held.get(), fresh.get()}) {
    auto done = p->wait(30s);
    ASSERT_TRUE(done.has_value()) << p->output();
    EXPECT_THAT(p->output(), HasSubstr("requests=60 ok=60 failed=0"));
  }
  auto status = nlohmann::json::parse(ctl({"lab", "status", "--json"}).output);
  for (const auto& p : status["pods"]) {
    if (p["pod"].get<std::string>().rfind("demo/", 0) == 0) {
      EXPECT_EQ(p["enrolled"], "yes") << p.dump();
    }
  }
  for (const auto& n : status["nodes"]) EXPECT_EQ(n["capture"], "ebpf");
}

TEST_F(LabTest, DownAfterACrashStillRemovesEverything) {
  // A lab whose every process was killed (and whose state file is gone) is
  // still removed whole by `lab down` (TearDown checks that nothing is left).
  std::string cg = cgroup2Root() + "/ambitlab-" + name_;
  std::ofstream(cg + "/cgroup.kill") << "1\n";
  fs::remove(dir_ + "/" + name_ + "/state.json");
  auto status = ctl({"lab", "status"});
  EXPECT_NE(status.status, 0);
  EXPECT_THAT(status.output, HasSubstr("no lab at"));
}

}  // namespace
}  // namespace ambit::test
