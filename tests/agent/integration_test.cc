// The real node agent on the real kernel (root), in eBPF and in iptables
// mode: ambitd + ambit-agent + an in-pod ztunnel on one "node" (a netns) with
// three "pods" (a netns + a cgroup each, veth to the node, a /30 each from
// a 198.19.B.0/24 block this test holds):
//   client  demo (ambient)  .2   netns named by annotation
//   server  demo (ambient)  .6   netns found by its address
//   plain   plain (none)    .10
// Every test app process runs in its pod's cgroup (the eBPF programs attach
// to the cgroup this test made; never the root). Everything is removed after
// each test and the teardown checks that nothing is left.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/mesh.h"
#include "tests/support/netns.h"
#include "tests/support/privileged.h"
#include "tests/support/prom.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"

namespace ambit::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;



// Answers every connection with "peer=<address>:<port>" and closes: who the
// app saw connect (the client itself, or ztunnel on the pod's behalf).
class PeerServer {
 public:
  PeerServer(const netns::Netns& ns, uint16_t port) {
    auto fd = netns::socketIn(&ns, AF_INET, SOCK_STREAM);
    if (!fd) throw std::runtime_error(fd.error().message);
    fd_ = *fd;
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 64) != 0) {
      throw std::runtime_error("PeerServer: cannot listen");
    }
    thread_ = std::thread([this] { run(); });
  }
  ~PeerServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }

 private:
  void run() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int c = ::accept(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
      if (c < 0) continue;
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      std::string msg = std::string("peer=") + buf + ":" + std::to_string(ntohs(in->sin_port)) + "\n";
      (void)!::write(c, msg.data(), msg.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// One connection from a process in a pod (its cgroup and netns).
struct Dial {
  bool ok = false;
  std::string peer;   // getpeername() as the app sees it
  std::string reply;  // what the server said ("peer=...")
  std::string error;  // the exception's class name
  // The server's view of the peer IP ("" when it said nothing).
  std::string seenFrom() const {
    return reply.rfind("peer=", 0) == 0 ? reply.substr(5, reply.rfind(':') - 5) : "";
  }
};

constexpr const char* kDialPy = R"(
import json, socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET)
s.settimeout(5)
try:
    s.connect((ip, port))
    p = s.getpeername()
    data = b''
    while len(data) < 4096:
        b = s.recv(256)
        if not b:
            break
        data += b
    print(json.dumps({'ok': True, 'peer': '%s:%d' % (p[0], p[1]), 'reply': data.decode().strip()}), flush=True)
except Exception as e:
    print(json.dumps({'ok': False, 'error': type(e).__name__}), flush=True)
)";


class AgentIntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    AMBIT_REQUIRE_ROOT();
    mode_ = GetParam();
    char tmpl[] = "/tmp/ambit-test-agent-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/config");
    fs::create_directories(dir_ + "/bpffs");
    ASSERT_EQ(::mount("bpf", (dir_ + "/bpffs").c_str(), "bpf", 0, nullptr), 0) << std::strerror(errno);
    bpffs_mounted_ = true;
    pin_dir_ = dir_ + "/bpffs/ambit";
    prefix_ = uniqueName("ambt");
    auto root = cgroup2Root();
    ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
    cgroup_ = root + "/" + prefix_;
    ASSERT_TRUE(fs::create_directory(cgroup_));
    for (const char* pod : {"client", "server", "plain"}) fs::create_directory(cgroup_ + "/" + pod);

    node_ = std::make_unique<ScopedNetns>(prefix_ + "n");
    client_ = std::make_unique<ScopedNetns>(prefix_ + "c");
    server_ = std::make_unique<ScopedNetns>(prefix_ + "s");
    plain_ = std::make_unique<ScopedNetns>(prefix_ + "p");
    ASSERT_EQ(node_->exec("sysctl -qw net.ipv4.ip_forward=1"), 0);
    kClientIp = block_.ip(2);
    kServerIp = block_.ip(6);
    kPlainIp = block_.ip(10);
    kNodeToPlainIp = block_.ip(9);
    int host = 1;  // node side .1/.5/.9, pod side .2/.6/.10, a /30 each
    for (auto* pod : {client_.get(), server_.get(), plain_.get()}) {
      std::string link = "v" + std::to_string(host);
      ASSERT_EQ(shell("ip -n " + node_->name() + " link add " + link + " type veth peer name eth0 netns " + pod->name()),
                0);
      ASSERT_EQ(node_->exec("ip addr add " + block_.ip(host) + "/30 dev " + link + " && ip link set " + link + " up"), 0);
      ASSERT_EQ(pod->exec("ip addr add " + block_.ip(host + 1) + "/30 dev eth0 && ip link set eth0 up && "
                          "ip route add default via " + block_.ip(host)),
                0);
      host += 4;
    }
    server_app_ = std::make_unique<PeerServer>(*server_->ns(), 8080);
    plain_app_ = std::make_unique<PeerServer>(*plain_->ns(), 8080);
    node_app_ = std::make_unique<PeerServer>(*node_->ns(), 9000);
    server_echo_ = std::make_unique<EchoServer>("0.0.0.0", 8081, server_->ns().get());

    writeConfig(true);
    std::ofstream(dir_ + "/tokens.yaml") << "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n";
    std::ofstream(dir_ + "/a.token") << "node-a-token-0123456789\n";
    ambitd_ = startAmbitd(dir_, &tls_port_);
    ASSERT_TRUE(ambitd_);
    startTheAgent();
    ASSERT_TRUE(agent_.proc);
    startTheZtunnel();
    ASSERT_TRUE(zt_.proc);
  }

  void TearDown() override {
    if (HasFailure()) {
      if (zt_.proc) std::cerr << "---- ztunnel ----\n" << zt_.proc->output();
      if (agent_.proc) std::cerr << "---- agent ----\n" << agent_.proc->output();
    }
    if (zt_.proc) { EXPECT_EQ(zt_.proc->stop(), 0) << zt_.proc->output(); }
    if (agent_.proc) { EXPECT_EQ(agent_.proc->stop(), 0) << agent_.proc->output(); }
    if (ambitd_) { EXPECT_EQ(ambitd_->stop(), 0) << ambitd_->output(); }
    server_app_.reset();
    plain_app_.reset();
    node_app_.reset();
    server_echo_.reset();
    client_.reset();
    server_.reset();
    plain_.reset();
    node_.reset();
    // The pinned links go with the bpffs, the cgroup programs with the cgroup.
    if (bpffs_mounted_) { EXPECT_EQ(::umount((dir_ + "/bpffs").c_str()), 0) << std::strerror(errno); }
    for (const char* pod : {"client", "server", "plain"}) ::rmdir((cgroup_ + "/" + pod).c_str());
    if (!cgroup_.empty()) { EXPECT_EQ(::rmdir(cgroup_.c_str()), 0) << cgroup_ << ": " << std::strerror(errno); }
    // Nothing of this test is left: no namespace, cgroup, mount or pin.
    if (!prefix_.empty()) {
      EXPECT_NE(shell("ip netns list | grep -q " + prefix_), 0) << "a namespace was left behind";
      EXPECT_FALSE(fs::exists(cgroup_));
      EXPECT_FALSE(isMounted(dir_ + "/bpffs"));
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // demo is ambient when `enrolled`; client's netns is named by annotation,
  // server's is found by its address.
  void writeConfig(bool enrolled) {
    std::string demo_labels = enrolled ? "{istio.io/dataplane-mode: ambient}" : "{}";
    std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: " + demo_labels +
                       "}\n---\n"
                       "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: demo, annotations: "
                       "{ambit.dev/netns: /run/netns/" +
                       client_->name() + "}}\nspec: {serviceAccountName: client, nodeName: node-a}\nstatus: {podIP: " +
                       kClientIp +
                       "}\n---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: demo}\n"
                       "spec: {serviceAccountName: server, nodeName: node-a}\nstatus: {podIP: " +
                       kServerIp +
                       "}\n---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: plain, namespace: plain, annotations: "
                       "{ambit.dev/netns: /run/netns/" +
                       plain_->name() + "}}\nspec: {nodeName: node-a}\nstatus: {podIP: " + kPlainIp + "}\n";
    std::ofstream(dir_ + "/config/mesh.yaml.tmp") << yaml;
    fs::rename(dir_ + "/config/mesh.yaml.tmp", dir_ + "/config/mesh.yaml");
  }

  void startTheAgent() {
    agent_ = startAgent({"--node_name", "node-a", "--config_dir", dir_ + "/config", "--capture.mode", mode_,
                         "--bpf.pin_dir", pin_dir_, "--bpf.cgroup", cgroup_, "--zds.socket", dir_ + "/agent.sock",
                         "--resync", "1s"});
    if (!agent_.proc) return;
    auto listening = agent_.proc->waitForLine("msg=zds_listening", 20s);
    if (!listening) {
      ADD_FAILURE() << "the agent did not open its socket:\n" << agent_.proc->output();
      agent_.proc.reset();
      return;
    }
    EXPECT_THAT(agent_.proc->output(), HasSubstr("msg=capture_mode mode=" + mode_));
  }

  void startTheZtunnel() {
    zt_ = startZtunnel(dir_, tls_port_, "node-a", "a.token",
                       {"--inpod.enabled", "true", "--inpod.socket", dir_ + "/agent.sock", "--inpod.bpf_pin_dir",
                        pin_dir_, "--socks5.address", ""});
    if (!zt_.proc) return;
    // The certificates may come before or after the snapshot: anywhere in the log.
    bool ok = zt_.proc->waitForLine("msg=node_agent_snapshot_applied pods=2", 20s).has_value();
    ok = ok && zt_.proc->waitForOutput("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/client", 20s) &&
         zt_.proc->waitForOutput("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/server", 20s);
    for (int i = 0; ok && i < 200; ++i) {  // bounded: 10 s
      if (httpGet(zt_.readiness, "/healthz/ready") == "ready\n") return;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "ztunnel not ready:\n" << zt_.proc->output();
    zt_.proc.reset();
  }

  Dial dial(const std::string& pod, const ScopedNetns& ns, const std::string& ip, uint16_t port) {
    ChildProcess p("/bin/sh", {"-c",
                               "echo $$ > " + cgroup_ + "/" + pod + "/cgroup.procs && exec ip netns exec " + ns.name() +
                                   " /usr/bin/python3 -c \"$1\" \"$2\" \"$3\"",
                               "dial", kDialPy, ip, std::to_string(port)});
    Dial d;
    auto line = p.waitForLine("{\"ok\"", 15s);
    p.wait(5s);
    if (!line) {
      d.error = "no result: " + p.output();
      return d;
    }
    auto j = nlohmann::json::parse(*line);
    d.ok = j["ok"];
    d.peer = j.value("peer", "");
    d.reply = j.value("reply", "");
    d.error = j.value("error", "");
    return d;
  }

  std::string ztunnelStats() { return httpGet(zt_.stats, "/stats/prometheus"); }
  double verdict(const std::string& event) {
    return metricSum(httpGet(agent_.stats, "/stats/prometheus"), "ambit_agent_capture_events",
                     {"event=\"" + event + "\""});
  }
  double ztunnelOpened() { return metricSum(ztunnelStats(), "istio_tcp_connections_opened_total", {}); }

  AddressBlock block_;
  std::string kClientIp, kServerIp, kPlainIp, kNodeToPlainIp;  // from block_
  std::string mode_, dir_, pin_dir_, prefix_, cgroup_, tls_port_;
  bool bpffs_mounted_ = false;
  std::unique_ptr<ScopedNetns> node_, client_, server_, plain_;
  std::unique_ptr<PeerServer> server_app_, plain_app_, node_app_;
  std::unique_ptr<EchoServer> server_echo_;
  std::unique_ptr<ChildProcess> ambitd_;
  AgentProcess agent_;
  ZtunnelProcess zt_;
};

TEST_P(AgentIntegrationTest, CapturedTrafficIsMutualTlsAndTheAppSeesWhatItDialled) {
  auto d = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(d.ok) << d.error << "\n" << zt_.proc->output();
  EXPECT_EQ(d.peer, kServerIp + ":8080");  // getpeername: what it dialled
  // The server's app saw ztunnel, connecting from the server pod's own address.
  EXPECT_EQ(d.seenFrom(), kServerIp) << d.reply;
  auto stats = ztunnelStats();
  for (const char* reporter : {"source", "destination"}) {
    EXPECT_GE(metricSum(stats, "istio_tcp_connections_opened_total",
                        {std::string("reporter=\"") + reporter + "\"", "source_workload=\"client\"",
                         "destination_workload=\"server\"", "connection_security_policy=\"mutual_tls\""}),
              1)
        << stats;
  }
  if (mode_ == "ebpf") {
    EXPECT_GE(verdict("connect_redirected"), 1);
    EXPECT_GE(verdict("peername_rewritten"), 1);
  } else {
    EXPECT_GE(verdict("outbound_redirected_packets"), 1);
  }
  auto dump = nlohmann::json::parse(httpGet(agent_.admin, "/config_dump"));
  EXPECT_EQ(dump["capture"]["mode"], mode_);
  ASSERT_EQ(dump["pods"].size(), 2u) << dump.dump(2);
  for (const auto& p : dump["pods"]) {
    EXPECT_TRUE(p["captured"].get<bool>()) << p.dump();
    EXPECT_TRUE(p["handed_over"].get<bool>()) << p.dump();
  }
}

TEST_P(AgentIntegrationTest, InboundIsCapturedAndANonEnrolledPodIsUntouched) {
  // From outside the mesh into the server pod: steered to ztunnel's 15006,
  // which connects to the app from inside the pod.
  double opened = ztunnelOpened();
  auto in = dial("plain", *plain_, kServerIp, 8080);
  ASSERT_TRUE(in.ok) << in.error;
  EXPECT_EQ(in.seenFrom(), kServerIp) << in.reply << httpGet(agent_.stats, "/stats/prometheus") << ztunnelStats();
  EXPECT_GT(ztunnelOpened(), opened);
  EXPECT_GE(metricSum(ztunnelStats(), "istio_tcp_connections_opened_total",
                      {"reporter=\"destination\"", "destination_workload=\"server\""}),
            1);
  if (mode_ == "ebpf") { EXPECT_GE(verdict("inbound_steered"), 1); }
  // The plain pod's own traffic is not captured: it reaches the node directly.
  opened = ztunnelOpened();
  auto out = dial("plain", *plain_, kNodeToPlainIp, 9000);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.seenFrom(), kPlainIp) << out.reply;
  EXPECT_EQ(ztunnelOpened(), opened);
  if (mode_ == "ebpf") { EXPECT_GE(verdict("connect_not_enrolled"), 1); }
  // An address of the server pod the agent was not told about (a secondary
  // address): it never reaches the app around the proxy.
  std::string unlisted = block_.ip(20);
  ASSERT_EQ(server_->exec("ip addr add " + unlisted + "/32 dev eth0"), 0);
  ASSERT_EQ(node_->exec("ip route add " + unlisted + "/32 via " + kServerIp), 0);
  auto around = dial("plain", *plain_, unlisted, 8080);
  EXPECT_FALSE(around.ok && around.seenFrom() == kPlainIp) << "reached the app uncaptured: " << around.reply;
  // And the plain pod's inbound is not captured either (client -> plain: the
  // client is captured, ztunnel passes it through; plain's app sees the client).
  auto to_plain = dial("client", *client_, kPlainIp, 8080);
  ASSERT_TRUE(to_plain.ok) << to_plain.error;
  EXPECT_EQ(to_plain.seenFrom(), kClientIp) << to_plain.reply;
}

TEST_P(AgentIntegrationTest, UnenrollingRestoresDirectTrafficAndReenrollingCapturesAgain) {
  writeConfig(false);
  ASSERT_TRUE(agent_.proc->waitForLine("msg=pod_released", 10s)) << agent_.proc->output();
  ASSERT_TRUE(agent_.proc->waitForLine("msg=pod_released", 10s)) << agent_.proc->output();
  auto d = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.seenFrom(), kClientIp) << "direct: the server sees the client itself";
  // Nothing of the capture is left in the pods.
  if (mode_ == "ebpf") {
    for (const auto& e : fs::directory_iterator(pin_dir_)) {
      EXPECT_NE(e.path().filename().string().rfind("netns_", 0), 0u) << e.path();
    }
  } else {
    for (auto* pod : {client_.get(), server_.get()}) {
      EXPECT_NE(pod->exec("iptables-save -t nat | grep -q AMBIT"), 0);
      EXPECT_NE(pod->exec("ip6tables-save -t nat | grep -q AMBIT"), 0);
    }
  }
  auto dump = nlohmann::json::parse(httpGet(zt_.admin, "/config_dump"));
  EXPECT_TRUE(dump["proxy"]["local_workloads"].empty()) << dump["proxy"].dump(2);

  writeConfig(true);
  ASSERT_TRUE(agent_.proc->waitForLine("msg=pod_enrolled", 10s)) << agent_.proc->output();
  ASSERT_TRUE(agent_.proc->waitForLine("msg=pod_enrolled", 10s)) << agent_.proc->output();
  auto again = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(again.ok) << again.error;
  EXPECT_EQ(again.seenFrom(), kServerIp) << "captured again";
}

TEST_P(AgentIntegrationTest, WithZtunnelGoneEnrolledPodsAreRefusedNeverBypassed) {
  zt_.proc->kill();  // a crash: no drain
  zt_.proc.reset();
  auto out = dial("client", *client_, kServerIp, 8080);
  EXPECT_FALSE(out.ok) << "outbound bypassed the mesh: " << out.reply;
  EXPECT_EQ(out.error, "ConnectionRefusedError");
  auto in = dial("plain", *plain_, kServerIp, 8080);
  EXPECT_FALSE(in.ok) << "inbound bypassed the mesh: " << in.reply;
  EXPECT_EQ(in.error, "ConnectionRefusedError");
  if (mode_ == "ebpf") { EXPECT_GE(verdict("inbound_no_proxy"), 1); }
  // A new ztunnel gets the pods replayed and serves them.
  startTheZtunnel();
  ASSERT_TRUE(zt_.proc);
  auto back = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(back.ok) << back.error;
  EXPECT_EQ(back.seenFrom(), kServerIp);
}

TEST_P(AgentIntegrationTest, AgentRestartChangesNothingForRunningPods) {
  // A long-lived connection into the server pod (captured inbound).
  int err = 0;
  auto held = connectTo(kServerIp, 8081, plain_->ns().get(), &err);
  ASSERT_TRUE(held.valid()) << std::strerror(err);
  ASSERT_EQ(roundTrip(held.get(), "before"), "before");
  auto before = nlohmann::json::parse(httpGet(zt_.admin, "/config_dump"))["proxy"]["local_workloads"];
  ASSERT_EQ(before.size(), 2u);

  ASSERT_EQ(agent_.proc->stop(), 0) << agent_.proc->output();
  agent_.proc.reset();
  // No agent: capture stays in place.
  auto during = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(during.ok) << during.error;
  EXPECT_EQ(during.seenFrom(), kServerIp);
  EXPECT_EQ(roundTrip(held.get(), "during"), "during");

  startTheAgent();
  ASSERT_TRUE(agent_.proc);
  // ztunnel reconnects and gets the same pods: nothing is removed or re-opened.
  ASSERT_TRUE(zt_.proc->waitForLine("msg=node_agent_snapshot_applied pods=2", 20s)) << zt_.proc->output();
  EXPECT_EQ(roundTrip(held.get(), "after"), "after");
  auto after = nlohmann::json::parse(httpGet(zt_.admin, "/config_dump"))["proxy"]["local_workloads"];
  EXPECT_EQ(after, before);
  auto d = dial("client", *client_, kServerIp, 8080);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.seenFrom(), kServerIp);
  EXPECT_THAT(agent_.proc->output(), ::testing::Not(HasSubstr("msg=pod_released")));
}

// auto: where eBPF cannot be loaded (here: the only cgroup offered is a
// root, which the agent refuses), the agent falls back to iptables, says so
// in its log and in /config_dump.
TEST(AgentFallbackTest, AutoFallsBackToIptablesAndSaysWhy) {
  AMBIT_REQUIRE_ROOT();
  char tmpl[] = "/tmp/ambit-test-agent-auto-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  fs::create_directories(dir + "/config");
  auto agent = startAgent({"--node_name", "node-a", "--config_dir", dir + "/config", "--capture.mode", "auto",
                           "--bpf.pin_dir", dir + "/not-a-bpffs", "--bpf.cgroup", cgroup2Root(), "--zds.socket",
                           dir + "/agent.sock"});
  ASSERT_TRUE(agent.proc);
  EXPECT_TRUE(agent.proc->waitForOutput("msg=capture_fallback mode=iptables", 10s)) << agent.proc->output();
  EXPECT_TRUE(agent.proc->waitForOutput("msg=capture_mode mode=iptables", 10s)) << agent.proc->output();
  ASSERT_TRUE(agent.proc->waitForLine("msg=zds_listening", 10s));
  auto dump = nlohmann::json::parse(httpGet(agent.admin, "/config_dump"));
  EXPECT_EQ(dump["capture"]["mode"], "iptables");
  EXPECT_THAT(dump["capture"]["fallback_reason"].get<std::string>(), HasSubstr("root cgroup"));
  EXPECT_EQ(agent.proc->stop(), 0);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Modes, AgentIntegrationTest, ::testing::Values("ebpf", "iptables"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ambit::test
