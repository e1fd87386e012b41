// The agent's pure parts: which pods of the node are its own and enrolled,
// the iptables rules, and the reconciler's actions with a fake capture and a
// fake ztunnel.
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/capture/iptables.h"
#include "agent/pods/node_pods.h"
#include "agent/reconciler.h"
#include "controlplane/model/parse.h"

namespace ambit::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
namespace asio = boost::asio;

controlplane::Snapshot snapshotOf(const std::string& yaml) {
  auto parsed = controlplane::parseDocuments(yaml, "test.yaml");
  EXPECT_TRUE(parsed.issues.empty()) << parsed.issues.front().toString();
  controlplane::Snapshot snap;
  for (const auto& o : parsed.objects) EXPECT_TRUE(snap.insert(o));
  return snap;
}

constexpr const char* kPods = R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, annotations: {ambit.dev/netns: /run/netns/web}}
spec: {serviceAccountName: web, nodeName: node-a}
status: {podIPs: [{ip: 198.18.0.2}, {ip: "2001:db8::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: opted-out, namespace: demo, labels: {istio.io/dataplane-mode: none}}
spec: {nodeName: node-a}
status: {podIP: 198.18.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: opted-in, namespace: plain, labels: {istio.io/dataplane-mode: ambient}}
spec: {nodeName: node-a}
status: {podIP: 198.18.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: plain}
spec: {nodeName: node-a}
status: {podIP: 198.18.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: demo}
spec: {nodeName: node-b}
status: {podIP: 198.18.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: demo}
spec: {nodeName: node-a, hostNetwork: true}
status: {podIP: 198.18.100.1}
---
apiVersion: v1
kind: Pod
metadata: {name: unscheduled, namespace: demo}
spec: {nodeName: node-a}
)";

TEST(NodePodsTest, ThePodsOfThisNodeAndWhetherEachIsEnrolled) {
  auto snap = snapshotOf(kPods);
  auto pods = nodePods(snap, "node-a", controlplane::MeshSettings{});
  struct Row {
    const char* uid;
    bool enrolled;
  };
  std::vector<Row> want{
      {"Kubernetes//Pod/demo/opted-out", false},  // pod label none wins over its namespace
      {"Kubernetes//Pod/demo/web", true},         // namespace ambient
      {"Kubernetes//Pod/plain/legacy", false},    // neither
      {"Kubernetes//Pod/plain/opted-in", true},   // pod label ambient in a plain namespace
  };
  ASSERT_EQ(pods.size(), want.size());  // not: another node's, host network, without an address
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(pods[i].uid, want[i].uid);
    EXPECT_EQ(pods[i].enrolled, want[i].enrolled) << want[i].uid;
  }
  EXPECT_EQ(pods[1].netns_path, "/run/netns/web");
  EXPECT_EQ(pods[1].service_account, "web");
  EXPECT_THAT(pods[1].addresses, ElementsAre(asio::ip::make_address("198.18.0.2"), asio::ip::make_address("2001:db8::2")));
  EXPECT_TRUE(nodePods(snap, "node-c", controlplane::MeshSettings{}).empty());
}

TEST(IptablesRulesTest, OwnChainsMarkExemptionAndEveryAddressOfThePod) {
  IptablesOptions o;
  EXPECT_EQ(iptablesRules(o),
            "*nat\n"
            ":AMBIT_OUTBOUND - [0:0]\n"
            ":AMBIT_INBOUND - [0:0]\n"
            "-A AMBIT_OUTBOUND -p tcp -m mark --mark 0x539 -j RETURN\n"
            "-A AMBIT_OUTBOUND -p tcp -o lo -j RETURN\n"
            "-A AMBIT_OUTBOUND -p tcp -j REDIRECT --to-ports 15001\n"
            "-A AMBIT_INBOUND -p tcp -i lo -j RETURN\n"
            "-A AMBIT_INBOUND -p tcp --dport 15008 -j RETURN\n"
            "-A AMBIT_INBOUND -p tcp -j REDIRECT --to-ports 15006\n"
            "COMMIT\n");
  o.outbound_port = 16001;
  o.hbone_port = 16008;
  EXPECT_THAT(iptablesRules(o), HasSubstr("--dport 16008 -j RETURN"));
  EXPECT_THAT(iptablesRules(o), HasSubstr("REDIRECT --to-ports 16001"));
}

// A capture that records calls; namespaces are "found" by a fake finder.
class FakeCapture : public Capture {
 public:
  const char* mode() const override { return "fake"; }
  Status enroll(const PodCapture& pod) override {
    log.push_back("capture " + pod.addresses.front().to_string());
    if (order) order->push_back("capture");
    if (fail_enroll) return makeError(ErrorCode::kUnavailable, "no capture");
    enrolled.insert(pod.netns.get());
    return {};
  }
  Status release(const PodCapture& pod) override {
    log.push_back("release " + pod.addresses.front().to_string());
    if (order) order->push_back("release");
    enrolled.erase(pod.netns.get());
    return {};
  }
  bool isEnrolled(const netns::Netns& ns) const override { return enrolled.count(&ns) > 0; }
  void forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) override {
    log.push_back("forget except " + std::to_string(live.size()));
  }
  std::map<std::string, uint64_t> counters() const override { return {}; }
  nlohmann::json dump() const override { return {}; }
  std::vector<std::string> log;
  std::vector<std::string>* order = nullptr;  // shared with the handover: which came first
  std::set<const netns::Netns*> enrolled;  // by object: every fake pod shares this process's netns
  bool fail_enroll = false;
};

class FakeHandover : public Handover {
 public:
  Status add(const zds::Pod& pod) override {
    log.push_back("add " + pod.uid);
    if (order) order->push_back("add");
    if (fail) return makeError(ErrorCode::kUnavailable, "ztunnel gone");
    return {};
  }
  Status remove(const std::string& uid) override {
    log.push_back("remove " + uid);
    if (order) order->push_back("remove");
    return {};
  }
  std::vector<std::string> log;
  std::vector<std::string>* order = nullptr;
  bool fail = false;
};

NodePod pod(const std::string& name, const std::string& ip, bool enrolled) {
  NodePod p;
  p.uid = "Kubernetes//Pod/demo/" + name;
  p.name = name;
  p.ns = "demo";
  p.addresses = {asio::ip::make_address(ip)};
  p.enrolled = enrolled;
  return p;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  // Every pod's "namespace" is this process's own, opened once per pod name
  // (the fake capture tells them apart by object).
  NetnsFinder finder() {
    return [this](const NodePod& p) -> Result<std::shared_ptr<netns::Netns>> {
      ++lookups;
      if (missing.count(p.name)) return makeError(ErrorCode::kNotFound, "no netns");
      auto& ns = namespaces[p.name];
      if (!ns) {
        auto cur = netns::Netns::current();
        if (!cur) return cur.error();
        ns = *cur;
      }
      return ns;
    };
  }
  FakeCapture capture;
  FakeHandover handover;
  std::map<std::string, std::shared_ptr<netns::Netns>> namespaces;
  std::set<std::string> missing;
  int lookups = 0;
};

TEST_F(ReconcilerTest, CapturesBeforeHandingOverAndReleasesBeforeTakingBack) {
  std::vector<std::string> order;
  capture.order = handover.order = &order;
  Reconciler r(capture, handover, finder());
  r.apply({pod("a", "198.18.0.2", true), pod("b", "198.18.0.3", false)});
  EXPECT_THAT(order, ElementsAre("capture", "add"));
  EXPECT_THAT(capture.log, ElementsAre("capture 198.18.0.2", "forget except 1"));
  EXPECT_THAT(handover.log, ElementsAre("add Kubernetes//Pod/demo/a"));
  // The same pods again: nothing to do, not even a lookup.
  capture.log.clear();
  handover.log.clear();
  int before = lookups;
  r.apply({pod("a", "198.18.0.2", true), pod("b", "198.18.0.3", false)});
  EXPECT_TRUE(capture.log.empty());
  EXPECT_TRUE(handover.log.empty());
  EXPECT_EQ(lookups, before);
  // a leaves the mesh.
  order.clear();
  r.apply({pod("a", "198.18.0.2", false)});
  EXPECT_THAT(order, ElementsAre("release", "remove"));
  EXPECT_THAT(capture.log, ElementsAre("release 198.18.0.2"));
  EXPECT_THAT(handover.log, ElementsAre("remove Kubernetes//Pod/demo/a"));
  EXPECT_TRUE(r.status().empty());
}

TEST_F(ReconcilerTest, FailuresAreRetriedAndNeverHandOverAnUncapturedPod) {
  Reconciler r(capture, handover, finder());
  missing.insert("a");
  r.apply({pod("a", "198.18.0.2", true)});
  ASSERT_EQ(r.status().size(), 1u);
  EXPECT_THAT(r.status()[0].error, HasSubstr("no netns"));
  EXPECT_TRUE(handover.log.empty());
  missing.clear();
  capture.fail_enroll = true;
  r.apply({pod("a", "198.18.0.2", true)});
  EXPECT_THAT(r.status()[0].error, HasSubstr("capture: no capture"));
  EXPECT_TRUE(handover.log.empty());  // never handed over without capture
  capture.fail_enroll = false;
  handover.fail = true;
  r.apply({pod("a", "198.18.0.2", true)});
  EXPECT_TRUE(r.status()[0].captured);  // captured: refused until a ztunnel takes it, never bypassed
  EXPECT_FALSE(r.status()[0].handed_over);
  EXPECT_EQ(r.counts().failed, 1u);
  handover.fail = false;
  r.apply({pod("a", "198.18.0.2", true)});
  EXPECT_TRUE(r.status()[0].handed_over);
  EXPECT_EQ(r.status()[0].error, "");
}

TEST_F(ReconcilerTest, FirstPassReleasesWhatAnEarlierRunLeftEnrolled) {
  Reconciler r(capture, handover, finder());
  // An earlier agent enrolled b; it left the mesh while no agent ran.
  auto ns = finder()(pod("b", "198.18.0.3", false));
  ASSERT_TRUE(ns.ok());
  capture.enrolled.insert(ns->get());
  capture.log.clear();
  r.apply({pod("b", "198.18.0.3", false)});
  EXPECT_THAT(capture.log, ElementsAre("release 198.18.0.3", "forget except 0"));
  // Later passes do not look at non-enrolled pods again.
  capture.log.clear();
  r.apply({pod("b", "198.18.0.3", false)});
  EXPECT_TRUE(capture.log.empty());
}

TEST_F(ReconcilerTest, AChangeThatFailsIsRetriedAndTheOldCaptureStays) {
  Reconciler r(capture, handover, finder());
  r.apply({pod("a", "198.18.0.2", true)});
  capture.fail_enroll = true;
  r.apply({pod("a", "198.18.0.9", true)});
  ASSERT_EQ(r.status().size(), 1u);
  EXPECT_TRUE(r.status()[0].captured);  // still captured with what was in place
  EXPECT_EQ(r.status()[0].pod.addresses.front().to_string(), "198.18.0.2");
  EXPECT_THAT(r.status()[0].error, HasSubstr("no capture"));
  capture.fail_enroll = false;
  capture.log.clear();
  r.apply({pod("a", "198.18.0.9", true)});  // retried
  EXPECT_THAT(capture.log, ElementsAre("capture 198.18.0.9"));
  EXPECT_EQ(r.status()[0].pod.addresses.front().to_string(), "198.18.0.9");
  EXPECT_EQ(r.status()[0].error, "");
}

TEST_F(ReconcilerTest, AChangedAddressIsCapturedAgain) {
  Reconciler r(capture, handover, finder());
  r.apply({pod("a", "198.18.0.2", true)});
  capture.log.clear();
  r.apply({pod("a", "198.18.0.9", true)});
  EXPECT_THAT(capture.log, ElementsAre("capture 198.18.0.9"));
  EXPECT_EQ(handover.log.size(), 2u);
}

}  // namespace
}  // namespace ambit::agent
