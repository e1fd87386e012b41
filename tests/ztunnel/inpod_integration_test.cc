// ztunnel in in-pod mode, as root with real network namespaces: two "pods"
// (netns A and B joined by a veth, 198.18.10.0/24) on two "nodes" (one
// ztunnel each, in the test's own namespace), ambitd, and a stand-in node
// agent per node (the real zds::Server) that hands each pod's netns to its
// ztunnel. Capture is in-pod iptables REDIRECT (the agent's fallback mode):
// outbound TCP -> 15001, inbound TCP but 15008 -> 15006, ztunnel's own
// sockets (mark 0x539) exempt. The eBPF capture (node-agent issue) replaces
// the rules; ztunnel's side is the same.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/netns/netns.h"
#include "common/zds/server.h"
#include "tests/support/mesh.h"
#include "tests/support/netns.h"
#include "tests/support/privileged.h"
#include "tests/support/sockets.h"

namespace ambit::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kClientIp = "198.18.10.2";
constexpr const char* kBackendIp = "198.18.10.3";
constexpr const char* kOutsideIp = "198.18.10.9";  // a host on the link (in B's netns, not captured), not a workload
constexpr const char* kStrayIp = "198.18.10.10";   // on B's link, captured, but no workload's address
constexpr const char* kVip = "198.19.0.10";
constexpr const char* kClientUid = "Kubernetes//Pod/demo/client";
constexpr const char* kBackendUid = "Kubernetes//Pod/demo/backend";

// In-pod capture rules (what the agent installs when BPF is unavailable).
constexpr const char* kCaptureRules =
    "iptables -t nat -A OUTPUT -p tcp -m mark --mark 0x539 -j RETURN && "
    "iptables -t nat -A OUTPUT -p tcp -o lo -j RETURN && "
    "iptables -t nat -A OUTPUT -p tcp -j REDIRECT --to-ports 15001 && "
    "iptables -t nat -A PREROUTING -p tcp -i lo -j RETURN && "
    "iptables -t nat -A PREROUTING -p tcp --dport 15008 -j RETURN && "
    "iptables -t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 15006";

std::string peerOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

class InpodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AMBIT_REQUIRE_ROOT();
    char tmpl[] = "/tmp/ambit-test-inpod-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/config");
    auto prefix = uniqueName("ambt");
    pod_a_ = std::make_unique<ScopedNetns>(prefix + "a");
    pod_b_ = std::make_unique<ScopedNetns>(prefix + "b");
    ASSERT_EQ(shell("ip -n " + pod_a_->name() + " link add eth0 type veth peer name eth0 netns " + pod_b_->name()), 0);
    ASSERT_EQ(pod_a_->exec(std::string("ip addr add ") + kClientIp + "/24 dev eth0 && ip link set eth0 up && "
                           "ip route add default dev eth0 && " + kCaptureRules),
              0);
    ASSERT_EQ(pod_b_->exec(std::string("ip addr add ") + kBackendIp + "/24 dev eth0 && ip addr add " + kOutsideIp +
                           "/32 dev eth0 && ip addr add " + kStrayIp + "/32 dev eth0 && ip link set eth0 up && " +
                           "ip route add default dev eth0 && " + kCaptureRules + " && iptables -t nat -I PREROUTING -d " +
                           kOutsideIp + " -j RETURN"),
              0);
    backend_ = std::make_unique<EchoServer>("0.0.0.0", 8080, pod_b_->ns().get());
    outside_ = std::make_unique<EchoServer>(kOutsideIp, 9000, pod_b_->ns().get());

    std::ofstream(dir_ + "/config/mesh.yaml") << meshYaml();
    std::ofstream(dir_ + "/tokens.yaml") << "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n"
                                            "- {name: node-b, token: node-b-token-0123456789}\n";
    std::ofstream(dir_ + "/a.token") << "node-a-token-0123456789\n";
    std::ofstream(dir_ + "/b.token") << "node-b-token-0123456789\n";
    // The node agents hold the pods before any ztunnel connects (the replay path).
    agent_a_ = startAgent("a.sock", kClientUid, "client", *pod_a_);
    agent_b_ = startAgent("b.sock", kBackendUid, "backend", *pod_b_);
    ASSERT_TRUE(agent_a_ && agent_b_);
    ambitd_ = startAmbitd(dir_, &tls_port_);
    ASSERT_TRUE(ambitd_);
    za_ = startInpod("node-a", "a");
    zb_ = startInpod("node-b", "b");
    ASSERT_TRUE(za_.proc && zb_.proc);
    ASSERT_TRUE(waitReady(za_, "client")) << za_.proc->output();
    ASSERT_TRUE(waitReady(zb_, "backend")) << zb_.proc->output();
  }

  void TearDown() override {
    for (auto* z : {&za_, &zb_}) {
      if (z->proc) {
        EXPECT_EQ(z->proc->stop(), 0) << z->proc->output();
      }
    }
    if (ambitd_) {
      EXPECT_EQ(ambitd_->stop(), 0) << ambitd_->output();
    }
    agent_a_.reset();
    agent_b_.reset();
    backend_.reset();
    outside_.reset();
    pod_a_.reset();
    pod_b_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<zds::Server> startAgent(const std::string& sock, const std::string& uid, const std::string& sa,
                                          const ScopedNetns& pod) {
    auto server = zds::Server::listen(zds::ServerOptions{.path = dir_ + "/" + sock});
    if (!server) {
      ADD_FAILURE() << server.error().message;
      return nullptr;
    }
    zds::Pod p;
    p.uid = uid;
    p.info.set_name(sa);
    p.info.set_namespace_("demo");
    p.info.set_service_account(sa);
    p.netns = pod.ns();
    EXPECT_TRUE((*server)->add(p).ok());
    return std::move(*server);
  }

  ZtunnelProcess startInpod(const std::string& node, const std::string& which) {
    return startZtunnel(dir_, tls_port_, node, which + ".token",
                        {"--inpod.enabled", "true", "--inpod.socket", dir_ + "/" + which + ".sock", "--socks5.address",
                         ""});
  }

  // Ready = the agent's snapshot applied (listeners open), the pod's
  // certificate issued, and /healthz/ready says so (WDS synced too).
  static bool waitReady(ZtunnelProcess& z, const std::string& sa) {
    // The certificate may come before or after the snapshot (both follow the
    // first xDS config): look for it anywhere in the log.
    if (!z.proc->waitForLine("msg=node_agent_snapshot_applied", 20s) ||
        !z.proc->waitForOutput("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/" + sa, 20s)) {
      return false;
    }
    for (int i = 0; i < 200; ++i) {  // bounded: 10 s
      if (httpGet(z.readiness, "/healthz/ready") == "ready\n") return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::string meshYaml() const { return twoNodeMeshYaml(kClientIp, kBackendIp, kVip); }

  // One connection from pod A to `ip`:`port`: the echo of `msg`, or "" (with `*err` = errno of a failed connect).
  std::string exchange(const std::string& ip, uint16_t port, const std::string& msg, int* err = nullptr) {
    int e = 0;
    auto fd = connectTo(ip, port, pod_a_->ns().get(), &e);
    if (err) *err = e;
    if (!fd.valid()) return "";
    return roundTrip(fd.get(), msg);
  }

  std::string dir_, tls_port_;
  std::unique_ptr<ScopedNetns> pod_a_, pod_b_;
  std::unique_ptr<EchoServer> backend_, outside_;
  std::unique_ptr<zds::Server> agent_a_, agent_b_;
  std::unique_ptr<ChildProcess> ambitd_;
  ZtunnelProcess za_, zb_;
};

TEST_F(InpodTest, CapturedConnectionCrossesNodesOverMutualTls) {
  int err = 0;
  auto fd = connectTo(kVip, 80, pod_a_->ns().get(), &err);
  ASSERT_TRUE(fd.valid()) << std::strerror(err);
  // The app still sees the address it dialled.
  EXPECT_EQ(peerOf(fd.get()), std::string(kVip) + ":80");
  EXPECT_EQ(roundTrip(fd.get(), "hello from pod A"), "hello from pod A") << za_.proc->output() << zb_.proc->output();
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_TRUE(waitClosed(fd.get(), 10000));

  ASSERT_TRUE(zb_.proc->waitForLine("msg=access direction=inbound", 10s)) << zb_.proc->output();
  auto dst = httpGet(zb_.stats, "/stats/prometheus");
  EXPECT_THAT(dst, HasSubstr("istio_tcp_connections_opened_total{reporter=\"destination\",source_workload=\"client\""));
  EXPECT_THAT(dst, HasSubstr("source_principal=\"spiffe://cluster.local/ns/demo/sa/client\""));
  EXPECT_THAT(dst, HasSubstr("connection_security_policy=\"mutual_tls\"} 1"));
  auto src_line = za_.proc->waitForLine("msg=access direction=outbound", 10s);
  ASSERT_TRUE(src_line) << za_.proc->output();
  EXPECT_THAT(*src_line, HasSubstr(std::string("via=\"hbone ") + kBackendIp + ":15008\""));
  auto src = httpGet(za_.stats, "/stats/prometheus");
  EXPECT_THAT(src, HasSubstr("destination_service=\"backend.demo.svc.cluster.local\""));
  EXPECT_THAT(src, HasSubstr("destination_principal=\"spiffe://cluster.local/ns/demo/sa/backend\""));
}

TEST_F(InpodTest, NonMeshDestinationPassesThrough) {
  // A -> 198.18.10.9:9000, a host on the link that is not in the mesh: A's
  // ztunnel passes it through in plain TCP.
  EXPECT_EQ(exchange(kOutsideIp, 9000, "plain"), "plain") << za_.proc->output();
  auto a = za_.proc->waitForLine("msg=access direction=outbound", 10s);
  ASSERT_TRUE(a);
  EXPECT_THAT(*a, HasSubstr("via=passthrough"));
}

TEST_F(InpodTest, PlaintextFromOutsideTheMeshArrivesOnInboundPlaintext) {
  // A client that is not captured (its socket carries the exempt mark, as a
  // non-mesh host would be) dials the backend: B's capture sends it to 15006,
  // which authorizes it without a peer identity and connects to the app.
  int err = 0;
  auto fd = connectTo(kBackendIp, 8080, pod_a_->ns().get(), &err, netns::kProxyMark);
  ASSERT_TRUE(fd.valid()) << std::strerror(err);
  EXPECT_EQ(roundTrip(fd.get(), "no mesh"), "no mesh") << zb_.proc->output();
  ::shutdown(fd.get(), SHUT_WR);  // the access line is written when the connection ends
  EXPECT_TRUE(waitClosed(fd.get(), 10000));
  auto line = zb_.proc->waitForLine("msg=access direction=inbound_plaintext", 10s);
  ASSERT_TRUE(line) << zb_.proc->output();
  EXPECT_THAT(*line, HasSubstr("outcome=closed"));
}

TEST_F(InpodTest, InboundPlaintextServesOnlyThePodsOwnAddresses) {
  // Traffic captured on B's link for an address that is not the backend's
  // must not be relayed onward from inside the pod.
  auto fd = connectTo(kStrayIp, 9000, pod_a_->ns().get(), nullptr, netns::kProxyMark);
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(roundTrip(fd.get(), "relay?"), "");
  auto line = zb_.proc->waitForLine("msg=access direction=inbound_plaintext", 10s);
  ASSERT_TRUE(line) << zb_.proc->output();
  EXPECT_THAT(*line, HasSubstr("outcome=rejected"));
}

TEST_F(InpodTest, PolicyFromYamlDeniesTheCaller) {
  ASSERT_EQ(exchange(kVip, 80, "before"), "before");
  std::ofstream(dir_ + "/config/.deny.tmp") << R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-client, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]}]
)";
  fs::rename(dir_ + "/config/.deny.tmp", dir_ + "/config/deny.yaml");
  ASSERT_TRUE(zb_.proc->waitForLine("xds_applied type=type.googleapis.com/istio.security.Authorization updated=1", 10s))
      << zb_.proc->output();
  // A selector policy binds through the backend's workload record: the next Address update.
  ASSERT_TRUE(zb_.proc->waitForLine("xds_applied type=type.googleapis.com/istio.workload.Address updated=1", 10s));
  EXPECT_EQ(exchange(kVip, 80, "after"), "");
  EXPECT_TRUE(zb_.proc->waitForLine("outcome=denied", 5s)) << zb_.proc->output();
}

TEST_F(InpodTest, DiallingTheCapturePortDirectlyIsRefused) {
  // hardening.md 14: 127.0.0.1:15001 dialled on purpose is not a way out.
  auto fd = connectTo("127.0.0.1", 15001, pod_a_->ns().get());
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(waitClosed(fd.get(), 5000));
  EXPECT_TRUE(za_.proc->waitForLine("msg=outbound_not_captured", 5s)) << za_.proc->output();
}

TEST_F(InpodTest, FailsClosedWhenThePodIsReleasedOrZtunnelIsGone) {
  ASSERT_EQ(exchange(kVip, 80, "x"), "x") << za_.proc->output();
  // The agent releases the pod (DelWorkload, acked = listeners closed); the
  // capture rules stay until the agent removes them: refused, not bypassed.
  ASSERT_TRUE(agent_a_->remove(kClientUid).ok());
  int err = 0;
  EXPECT_EQ(exchange(kVip, 80, "x", &err), "");
  EXPECT_EQ(err, ECONNREFUSED);
  // Given back, then ztunnel stops: refused again.
  zds::Pod p;
  p.uid = kClientUid;
  p.info.set_name("client");
  p.info.set_namespace_("demo");
  p.info.set_service_account("client");
  p.netns = pod_a_->ns();
  ASSERT_TRUE(agent_a_->add(p).ok());
  EXPECT_EQ(exchange(kVip, 80, "y"), "y");
  ASSERT_EQ(za_.proc->stop(), 0);
  za_.proc.reset();
  EXPECT_EQ(exchange(kVip, 80, "z", &err), "");
  EXPECT_EQ(err, ECONNREFUSED);
  EXPECT_EQ(backend_->accepted(), 2);
}

TEST_F(InpodTest, RollingRestartUnderSteadyLoadLosesNoNewConnection) {
  // hardening.md 13: a new connection every 50 ms while each node's ztunnel
  // is replaced by a new one (SO_REUSEPORT beside the old, then SIGTERM the
  // old); every one must succeed. A connection open before ends at the old
  // proxy's drain deadline.
  int err = 0;
  auto long_lived = connectTo(kVip, 80, pod_a_->ns().get(), &err);
  ASSERT_TRUE(long_lived.valid());
  ASSERT_EQ(roundTrip(long_lived.get(), "long"), "long");

  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0}, failures{0};
  std::string first_failure;
  std::thread load([&] {
    for (int i = 0; i < 1200 && !stop; ++i) {  // bounded: at most 60 s of load
      auto msg = "conn-" + std::to_string(i);
      int e = 0;
      auto got = exchange(kVip, 80, msg, &e);
      attempts++;
      if (got != msg && failures++ == 0) first_failure = msg + ": " + (e ? std::strerror(e) : "no echo");
      std::this_thread::sleep_for(50ms);
    }
  });
  auto replace = [&](ZtunnelProcess& old, const std::string& node, const std::string& which, const std::string& sa,
                     zds::Server& agent) {
    std::this_thread::sleep_for(500ms);
    auto fresh = startInpod(node, which);
    ASSERT_TRUE(fresh.proc);
    ASSERT_TRUE(waitReady(fresh, sa)) << fresh.proc->output();
    ASSERT_TRUE(agent.waitConnected(2, 10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(old.proc->stop(std::chrono::seconds(10)), 0) << old.proc->output();
    old = std::move(fresh);
  };
  replace(za_, "node-a", "a", "client", *agent_a_);
  // The old node-a proxy carried the long-lived connection: it ended at the deadline.
  EXPECT_TRUE(waitClosed(long_lived.get(), 1000));
  replace(zb_, "node-b", "b", "backend", *agent_b_);
  std::this_thread::sleep_for(500ms);
  stop = true;
  load.join();
  EXPECT_GE(attempts.load(), 20);
  EXPECT_EQ(failures.load(), 0) << "first failure: " << first_failure << "\n"
                                << za_.proc->output() << zb_.proc->output();
  // The new proxies work on their own.
  EXPECT_EQ(exchange(kVip, 80, "after"), "after");
}

}  // namespace
}  // namespace ambit::test
