// The lab's pure parts: the address plan, placement, hosts files, reading the
// user's YAML (Pods and Deployments) and ztunnel-config's tables.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/ambitctl/ztunnel_config.h"
#include "tools/lab/manifest.h"
#include "tools/lab/plan.h"

namespace ambit::lab {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(LabPlan, AddressesStayInTheBenchmarkingRange) {
  EXPECT_EQ(nodeIp(1), "198.18.0.11");
  EXPECT_EQ(podCidr(2), "198.18.2.0/24");
  EXPECT_EQ(podGateway(2), "198.18.2.1");
  EXPECT_EQ(podIp(2, 0), "198.18.2.10");
  EXPECT_EQ(podIp(kMaxNodes, kPodSlots - 1), "198.18.100.249");
  EXPECT_EQ(serviceVip(kServiceSlots - 1), "198.18.200.249");
}

TEST(LabPlan, NamesNeverPrefixAnotherLabs) {
  EXPECT_EQ(nodeNetns("lab", 1), "ambitlab-lab_node1");
  EXPECT_EQ(podNetns("lab", "demo", "client-0"), "ambitlab-lab_pod_demo_client-0");
  // "lab" and "lab-2": one's objects never start with the other's prefix + '_'.
  EXPECT_NE(nodeNetns("lab-2", 1).rfind(prefixOf("lab") + "_", 0), 0u);
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {{"lab", true},     {"e123x4n0", true},           {"a-b", true},  {"", false},
               {"Lab", false},    {"-x", false},                {"a_b", false}, {"a/b", false},
               {"x", true},       {"abcdefghijklmnopqrstu", false}};
  for (const auto& c : cases) EXPECT_EQ(validLabName(c.name), c.ok) << c.name;
}

TEST(LabPlan, NodeIndexParsesOnlyLabNodes) {
  EXPECT_EQ(nodeIndex("node1"), 1);
  EXPECT_EQ(nodeIndex("node100"), 100);
  EXPECT_EQ(nodeIndex("node101"), std::nullopt);
  EXPECT_EQ(nodeIndex("node0"), std::nullopt);
  EXPECT_EQ(nodeIndex("worker1"), std::nullopt);
}

TEST(LabPlan, PlacementHonoursNodeNameElseTheEmptiestNode) {
  struct Case {
    std::string requested;
    std::vector<int> counts;
    int node;
    std::string error;
  } cases[] = {
      {"", {2, 1, 1}, 2, ""},
      {"", {0, 0}, 1, ""},
      {"node3", {0, 0, 5}, 3, ""},
      {"node4", {0, 0, 5}, 0, "not a node of this lab"},
      {"kind-worker", {0}, 0, "not a node of this lab"},
      {"", {}, 0, "no nodes"},
  };
  for (const auto& c : cases) {
    auto p = placePod(c.requested, c.counts);
    EXPECT_EQ(p.node, c.node) << c.requested;
    if (c.error.empty()) {
      EXPECT_TRUE(p.error.empty()) << p.error;
    } else {
      EXPECT_THAT(p.error, HasSubstr(c.error));
    }
  }
}

TEST(LabPlan, LowestFreeSlot) {
  EXPECT_EQ(lowestFree({}, 3), 0);
  EXPECT_EQ(lowestFree({0, 2}, 3), 1);
  EXPECT_EQ(lowestFree({0, 1, 2}, 3), std::nullopt);
}

TEST(LabPlan, ZtunnelPortsAlternateByGeneration) {
  EXPECT_EQ(ztunnelPorts(0).admin, 15000);
  EXPECT_EQ(ztunnelPorts(0).readiness, 15021);
  EXPECT_EQ(ztunnelPorts(1).admin, 15100);
  EXPECT_EQ(ztunnelPorts(2).stats, 15020);
}

TEST(LabPlan, HostsFileGivesShortNamesOnlyInTheOwnNamespace) {
  auto hosts = hostsFile("demo", "client-0", "198.18.1.10",
                         {{"demo", "backend", "198.18.200.10"}, {"other", "db", "198.18.200.11"}, {"demo", "h", ""}});
  EXPECT_THAT(hosts, HasSubstr("198.18.1.10\tclient-0\n"));
  EXPECT_THAT(hosts, HasSubstr("198.18.200.10\tbackend.demo.svc.cluster.local backend.demo.svc backend.demo backend\n"));
  EXPECT_THAT(hosts, HasSubstr("198.18.200.11\tdb.other.svc.cluster.local db.other.svc db.other\n"));
  EXPECT_THAT(hosts, Not(HasSubstr("\th")));  // headless: no VIP
}

TEST(LabPlan, ServiceEnvironmentLikeKubernetes) {
  auto env = serviceEnv("demo", {{"demo", "my-backend", "198.18.200.10", 8080}, {"other", "db", "198.18.200.11", 5432}});
  EXPECT_EQ(env.at("MY_BACKEND_SERVICE_HOST"), "198.18.200.10");
  EXPECT_EQ(env.at("MY_BACKEND_SERVICE_PORT"), "8080");
  EXPECT_EQ(env.count("DB_SERVICE_HOST"), 0u);
}

class ManifestTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = "/tmp/ambit-lab-units-" + std::to_string(::getpid()) + ".yaml";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_F(ManifestTest, DeploymentsBecomePodsAndEverythingElsePassesThrough) {
  auto f = readSource(write(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
      - name: app
        command: [ambit-demo-app, serve]
        args: [--version, v2]
        env: [{name: GREETING, value: hi}]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec: {nodeName: node2, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec: {action: DENY}
)"));
  ASSERT_EQ(f.pods.size(), 3u);
  EXPECT_EQ(f.pods[0].key(), "demo/web-0");
  EXPECT_EQ(f.pods[1].key(), "demo/web-1");
  EXPECT_EQ(f.pods[0].service_account, "web");
  ASSERT_EQ(f.pods[0].containers.size(), 1u);
  EXPECT_EQ(f.pods[0].containers[0].argv, (std::vector<std::string>{"ambit-demo-app", "serve", "--version", "v2"}));
  EXPECT_EQ(f.pods[0].containers[0].ports, std::vector<int>{8080});
  EXPECT_EQ(f.pods[0].runHash(), f.pods[1].runHash());
  EXPECT_EQ(f.pods[2].key(), "default/solo");
  EXPECT_EQ(f.pods[2].node_name, "node2");
  EXPECT_TRUE(f.pods[2].containers[0].argv.empty());  // image only: nothing to run
  ASSERT_EQ(f.services.size(), 1u);
  EXPECT_EQ(f.services[0].first_port, 80);
  EXPECT_EQ(f.other.size(), 1u);

  fillPod(f.pods[0], "node1", "198.18.1.10", "/run/netns/x");
  fillService(f.services[0], "198.18.200.10");
  auto text = emit(f);
  EXPECT_THAT(text, HasSubstr("podIP: 198.18.1.10"));
  EXPECT_THAT(text, HasSubstr("nodeName: node1"));
  EXPECT_THAT(text, HasSubstr("ambit.dev/netns: /run/netns/x"));
  EXPECT_THAT(text, HasSubstr("clusterIP: 198.18.200.10"));
  EXPECT_THAT(text, HasSubstr("app: web"));
  EXPECT_THAT(text, HasSubstr("kind: AuthorizationPolicy"));
  EXPECT_THAT(text, Not(HasSubstr("kind: Deployment")));
}

TEST_F(ManifestTest, ErrorsNameFileAndLine) {
  auto path = write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                    "    command: ambit-demo-app\n");
  try {
    readSource(path);
    FAIL() << "accepted a command that is not a list";
  } catch (const LabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ":7"));
    EXPECT_THAT(e.what(), HasSubstr("'command'"));
  }
  path = write("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 500\n"
               "  template: {spec: {}}\n");
  EXPECT_THROW(readSource(path), LabError);
}

// A waypoint Gateway becomes what Istio's gateway controller makes: a pod and
// a Service named after it. What the lab emits is never read back as the
// user's own (a file read back from config/ makes the same pod once).
TEST_F(ManifestTest, AWaypointGatewayBecomesAPodAndAService) {
  const std::string gateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo, annotations: {ambit.dev/lab-node: node2}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: demo}
spec: {gatewayClassName: istio}
)";
  auto f = readSource(write(gateway));
  ASSERT_EQ(f.pods.size(), 1u);  // the istio (ingress) class is not a waypoint
  const auto& pod = f.pods[0];
  EXPECT_EQ(pod.key(), "demo/waypoint-0");
  EXPECT_EQ(pod.gateway, "waypoint");
  EXPECT_EQ(pod.service_account, "waypoint");
  EXPECT_EQ(pod.node_name, "node2");
  EXPECT_THAT(pod.origin, HasSubstr(":1"));
  ASSERT_EQ(f.services.size(), 1u);
  EXPECT_EQ(f.services[0].key(), "demo/waypoint");
  EXPECT_EQ(f.other.size(), 2u);  // both Gateways go to ambitd
  fillPod(f.pods[0], "node2", "198.18.2.20", "/run/netns/w");
  fillService(f.services[0], "198.18.200.30");
  auto text = emit(f);
  EXPECT_THAT(text, HasSubstr("istio.io/dataplane-mode: none"));
  EXPECT_THAT(text, HasSubstr("gateway.networking.k8s.io/gateway-name: waypoint"));
  EXPECT_THAT(text, HasSubstr("serviceAccountName: waypoint"));
  EXPECT_THAT(text, HasSubstr("name: mesh"));
  EXPECT_THAT(text, HasSubstr("port: 15008"));

  auto again = readSource(write(text));
  ASSERT_EQ(again.pods.size(), 1u);
  EXPECT_EQ(again.pods[0].key(), "demo/waypoint-0");
  EXPECT_EQ(again.pods[0].runHash(), pod.runHash());
  EXPECT_EQ(again.services.size(), 1u);
  EXPECT_EQ(again.other.size(), 2u);

  auto probe = readSource(write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                                "    readinessProbe: {httpGet: {port: 8080, path: /ready}}\n"));
  ASSERT_TRUE(probe.pods[0].containers[0].readiness);
  EXPECT_EQ(probe.pods[0].containers[0].readiness->port, 8080);
  EXPECT_EQ(probe.pods[0].containers[0].readiness->path, "/ready");
  auto named = readSource(write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                                "    ports: [{name: status, containerPort: 15021}]\n"
                                "    readinessProbe: {httpGet: {port: status, path: /healthz/ready}}\n"));
  ASSERT_TRUE(named.pods[0].containers[0].readiness);
  EXPECT_EQ(named.pods[0].containers[0].readiness->port, 15021);
  auto exec = readSource(write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                               "    readinessProbe: {exec: {command: [\"true\"]}}\n"));
  EXPECT_FALSE(exec.pods[0].containers[0].readiness);  // not run: the pod is ready when its ports listen
  auto tcp = readSource(write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                              "    readinessProbe: {tcpSocket: {port: 9090}}\n"));
  EXPECT_EQ(tcp.pods[0].containers[0].ports, std::vector<int>{9090});
  EXPECT_THROW(readSource(write("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
                                "    readinessProbe: {httpGet: {port: nosuch}}\n")),
               LabError);
}

TEST(LabelTest, ChangesFollowKubernetesRules) {
  auto set = parseLabelChange("istio.io/use-waypoint=waypoint");
  EXPECT_EQ(set.key, "istio.io/use-waypoint");
  EXPECT_EQ(set.value, "waypoint");
  EXPECT_FALSE(set.remove);
  auto removed = parseLabelChange("istio.io/use-waypoint-");
  EXPECT_EQ(removed.key, "istio.io/use-waypoint");
  EXPECT_TRUE(removed.remove);
  EXPECT_EQ(parseLabelChange("app=").value, "");
  for (const char* bad : {"", "-", "noequals", "bad key=x", "Upper.Case/x=y", "x=bad value", "-x=y", "x=-y",
                          "a/b/c=d", "x=0123456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_THROW(parseLabelChange(bad), LabError) << bad;
  }
  EXPECT_EQ(kindName("ns"), "Namespace");
  EXPECT_EQ(kindName("SVC"), "Service");
  EXPECT_EQ(kindName("po"), "Pod");
  EXPECT_EQ(kindName("gateway"), "Gateway");
  EXPECT_EQ(kindName("VirtualService"), "VirtualService");

  YAML::Node doc = YAML::Load("metadata: {name: demo, labels: {a: b}}");
  relabel(doc, {parseLabelChange("c=d"), parseLabelChange("a-")});
  EXPECT_FALSE(doc["metadata"]["labels"]["a"]);
  EXPECT_EQ(doc["metadata"]["labels"]["c"].as<std::string>(), "d");
}

TEST(ZtunnelConfig, TablesFromConfigDump) {
  auto dump = nlohmann::json::parse(R"({"proxy": {
    "workloads": [{"namespace": "demo", "name": "client-0", "addresses": ["198.18.1.10"], "node": "node1",
                   "identity": "spiffe://cluster.local/ns/demo/sa/client", "protocol": "HBONE", "waypoint": ""}],
    "services": [{"namespace": "demo", "hostname": "backend.demo.svc.cluster.local", "addresses": ["198.18.200.10"],
                  "ports": ["8080->8080"], "endpoints": 2, "waypoint": "demo/waypoint:15008"}],
    "policies": [{"name": "demo/deny", "action": "DENY", "scope": "WORKLOAD_SELECTOR", "dry_run": false}],
    "certificates": [{"identity": "spiffe://cluster.local/ns/demo/sa/client", "state": "ready",
                      "expires": "2026-11-23T00:00:00Z"}],
    "connections": {"count": 1, "connections": [{"direction": "outbound", "source": "198.18.1.10:4000",
                    "destination": "198.18.2.10:8080", "source_identity": "", "via": "hbone",
                    "bytes_to_destination": 10, "bytes_to_source": 20, "started": "t"}]}}})");
  auto w = ctl::renderZtunnelConfig(dump, "workloads", false);
  ASSERT_TRUE(w.ok());
  EXPECT_THAT(*w, HasSubstr("NAMESPACE  NAME      IP           NODE   IDENTITY"));
  EXPECT_THAT(*w, HasSubstr("demo       client-0  198.18.1.10  node1  spiffe://cluster.local/ns/demo/sa/client  HBONE     None"));
  auto s = ctl::renderZtunnelConfig(dump, "services", false);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(*s, HasSubstr("backend.demo.svc.cluster.local  198.18.200.10  8080->8080  2          demo/waypoint:15008"));
  auto p = ctl::renderZtunnelConfig(dump, "policies", false);
  EXPECT_THAT(*p, HasSubstr("demo/deny  DENY"));
  auto c = ctl::renderZtunnelConfig(dump, "connections", false);
  EXPECT_THAT(*c, HasSubstr("outbound   198.18.1.10:4000  198.18.2.10:8080  None"));
  EXPECT_THAT(*c, HasSubstr("1 open connection(s)"));
  auto j = ctl::renderZtunnelConfig(dump, "certificates", true);
  EXPECT_EQ(nlohmann::json::parse(*j)[0]["state"], "ready");
  EXPECT_FALSE(ctl::renderZtunnelConfig(dump, "routes", false).ok());
  EXPECT_FALSE(ctl::renderZtunnelConfig(nlohmann::json::object(), "workloads", false).ok());
}

}  // namespace
}  // namespace ambit::lab
