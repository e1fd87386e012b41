// Model -> WDS Workloads and Services.
#include <gtest/gtest.h>

#include "controlplane/translate/translate.h"
#include "snapshot_util.h"

namespace ambit::controlplane {
namespace {

using testutil::ip4;
using testutil::snapshotOf;

const char* kDemo = R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-v1, namespace: demo, labels: {app: backend, version: v1}}
spec:
  serviceAccountName: backend
  nodeName: node-b
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 198.18.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {nodeName: node-a}
status: {podIP: 198.18.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
status: {podIP: 198.18.3.10}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo}
spec:
  clusterIP: 198.19.0.10
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: http}, {name: grpc-api, port: 9090}]
)";

TEST(EnrollmentTest, Table) {
  struct Case {
    const char* ns_mode;   // "" = no label
    const char* pod_mode;  // "" = no label
    bool host_network;
    bool enrolled;
  } cases[] = {
      {"ambient", "", false, true},     {"ambient", "none", false, false}, {"", "", false, false},
      {"", "ambient", false, true},     {"none", "", false, false},        {"ambient", "", true, false},
      {"ambient", "ambient", true, false},
  };
  for (const auto& c : cases) {
    Namespace ns;
    if (*c.ns_mode) ns.meta.labels["istio.io/dataplane-mode"] = c.ns_mode;
    Pod pod;
    if (*c.pod_mode) pod.meta.labels["istio.io/dataplane-mode"] = c.pod_mode;
    pod.host_network = c.host_network;
    EXPECT_EQ(podEnrolled(pod, &ns), c.enrolled)
        << "ns=" << c.ns_mode << " pod=" << c.pod_mode << " hostNetwork=" << c.host_network;
  }
}

TEST(WorkloadTranslationTest, EnrolledPodBecomesHboneWorkload) {
  auto out = translate(snapshotOf(kDemo), MeshSettings{});
  ASSERT_TRUE(out.addresses.count("Kubernetes//Pod/demo/backend-v1"));
  const auto& w = out.addresses.at("Kubernetes//Pod/demo/backend-v1").workload();
  EXPECT_EQ(w.name(), "backend-v1");
  EXPECT_EQ(w.namespace_(), "demo");
  ASSERT_EQ(w.addresses_size(), 1);
  EXPECT_EQ(w.addresses(0), ip4(198, 18, 2, 10));
  EXPECT_EQ(w.tunnel_protocol(), istio::workload::HBONE);
  EXPECT_EQ(w.trust_domain(), "cluster.local");
  EXPECT_EQ(w.service_account(), "backend");
  EXPECT_EQ(w.node(), "node-b");
  EXPECT_EQ(w.canonical_name(), "backend");
  EXPECT_EQ(w.canonical_revision(), "v1");
  EXPECT_EQ(w.status(), istio::workload::HEALTHY);
  // Named targetPort "http" resolves to the pod's container port 8080.
  const auto& ports = w.services().at("demo/backend.demo.svc.cluster.local");
  ASSERT_EQ(ports.ports_size(), 2);
  EXPECT_EQ(ports.ports(0).service_port(), 80u);
  EXPECT_EQ(ports.ports(0).target_port(), 8080u);
  EXPECT_EQ(ports.ports(1).target_port(), 9090u);
}

TEST(WorkloadTranslationTest, UnenrolledAndUnscheduledPods) {
  auto out = translate(snapshotOf(kDemo), MeshSettings{});
  EXPECT_EQ(out.addresses.at("Kubernetes//Pod/legacy/old").workload().tunnel_protocol(), istio::workload::NONE);
  EXPECT_FALSE(out.addresses.count("Kubernetes//Pod/demo/pending")) << "a pod without an IP has nothing to route to";
  EXPECT_TRUE(out.addresses.at("Kubernetes//Pod/demo/client").workload().services().empty());
}

TEST(WorkloadTranslationTest, ServiceHasVipPortsAndProtocols) {
  MeshSettings mesh;
  mesh.domain_suffix = "example.local";
  auto out = translate(snapshotOf(kDemo), mesh);
  ASSERT_TRUE(out.addresses.count("demo/backend.demo.svc.example.local"));
  const auto& s = out.addresses.at("demo/backend.demo.svc.example.local").service();
  EXPECT_EQ(s.hostname(), "backend.demo.svc.example.local");
  ASSERT_EQ(s.addresses_size(), 1);
  EXPECT_EQ(s.addresses(0).address(), ip4(198, 19, 0, 10));
  ASSERT_EQ(s.ports_size(), 2);
  EXPECT_EQ(s.ports(0).target_port(), 0u) << "named target ports resolve per workload";
  EXPECT_EQ(s.ports(0).app_protocol(), istio::workload::HTTP11);
  EXPECT_EQ(s.ports(1).app_protocol(), istio::workload::GRPC);
  EXPECT_FALSE(s.has_waypoint());
}

TEST(AppProtocolTest, Table) {
  using istio::workload::AppProtocol;
  struct Case {
    const char* app_protocol;
    const char* name;
    AppProtocol expected;
  } cases[] = {{"", "http", AppProtocol::HTTP11},        {"", "http-web", AppProtocol::HTTP11},
               {"", "http2", AppProtocol::HTTP2},        {"", "grpc", AppProtocol::GRPC},
               {"", "tcp-db", AppProtocol::TCP},         {"", "https", AppProtocol::TLS},
               {"", "web", AppProtocol::UNKNOWN},        {"HTTP", "tcp", AppProtocol::HTTP11},
               {"kubernetes.io/h2c", "", AppProtocol::HTTP2}, {"", "mysql", AppProtocol::TCP},
               {"", "mongo-main", AppProtocol::TCP},     {"redis", "cache", AppProtocol::TCP}};
  for (const auto& c : cases) EXPECT_EQ(appProtocolFor(c.app_protocol, c.name), c.expected) << c.name;
}

const char* kWaypointBase = R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo, labels: {app: backend}}
status: {podIP: 198.18.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: direct, namespace: demo, labels: {app: direct, istio.io/use-waypoint: none}}
status: {podIP: 198.18.2.11}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo}
spec: {clusterIP: 198.19.0.10, selector: {app: backend}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: opted-out, namespace: demo, labels: {istio.io/use-waypoint: none}}
spec: {clusterIP: 198.19.0.11, selector: {app: backend}, ports: [{port: 80}]}
)";

std::string waypointGateway(const char* waypoint_for) {
  std::string labels = *waypoint_for ? std::string(", labels: {istio.io/waypoint-for: ") + waypoint_for + "}" : "";
  return std::string("---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, "
                     "namespace: demo") +
         labels + "}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n";
}

TEST(WaypointTest, ForTable) {
  struct Case {
    const char* waypoint_for;
    bool service_has;
    bool workload_has;
  } cases[] = {{"", true, false}, {"service", true, false}, {"workload", false, true}, {"all", true, true}, {"none", false, false}};
  for (const auto& c : cases) {
    auto out = translate(snapshotOf(std::string(kWaypointBase) + waypointGateway(c.waypoint_for)), MeshSettings{});
    const auto& svc = out.addresses.at("demo/backend.demo.svc.cluster.local").service();
    const auto& wl = out.addresses.at("Kubernetes//Pod/demo/backend").workload();
    EXPECT_EQ(svc.has_waypoint(), c.service_has) << "waypoint-for=" << c.waypoint_for;
    EXPECT_EQ(wl.has_waypoint(), c.workload_has) << "waypoint-for=" << c.waypoint_for;
    if (svc.has_waypoint()) {
      EXPECT_EQ(svc.waypoint().hostname().hostname(), "waypoint.demo.svc.cluster.local");
      EXPECT_EQ(svc.waypoint().hostname().namespace_(), "demo");
      EXPECT_EQ(svc.waypoint().hbone_mtls_port(), 15008u);
    }
    // "none" on the object itself beats the namespace label.
    EXPECT_FALSE(out.addresses.at("demo/opted-out.demo.svc.cluster.local").service().has_waypoint());
    EXPECT_FALSE(out.addresses.at("Kubernetes//Pod/demo/direct").workload().has_waypoint());
  }
}

// The waypoint's own Service (as Istio's gateway controller labels it) does
// not inherit the namespace's use-waypoint: it would point at itself.
TEST(WaypointTest, TheWaypointsOwnServiceDoesNotUseIt) {
  auto out = translate(snapshotOf(std::string(kWaypointBase) + waypointGateway("") + R"(---
apiVersion: v1
kind: Service
metadata:
  name: waypoint
  namespace: demo
  labels: {gateway.istio.io/managed: istio.io-mesh-controller, gateway.networking.k8s.io/gateway-name: waypoint}
spec: {clusterIP: 198.19.0.12, selector: {gateway.networking.k8s.io/gateway-name: waypoint}, ports: [{name: mesh, port: 15008}]}
)"),
                       MeshSettings{});
  EXPECT_TRUE(out.addresses.at("demo/backend.demo.svc.cluster.local").service().has_waypoint());
  EXPECT_FALSE(out.addresses.at("demo/waypoint.demo.svc.cluster.local").service().has_waypoint());
}

TEST(WaypointTest, MissingGatewayWarnsAndGoesDirect) {
  auto out = translate(snapshotOf(kWaypointBase), MeshSettings{});
  EXPECT_FALSE(out.addresses.at("demo/backend.demo.svc.cluster.local").service().has_waypoint());
  ASSERT_FALSE(out.warnings.empty());
  EXPECT_NE(out.warnings[0].find("names no waypoint Gateway demo/waypoint"), std::string::npos) << out.warnings[0];
}

TEST(ServiceEntryTest, StaticEndpointsBecomeWorkloads) {
  auto out = translate(snapshotOf(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: demo}
spec:
  hosts: [legacy.example.internal]
  addresses: [198.19.5.0/24]
  ports: [{number: 443, name: https, protocol: TLS}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 198.19.5.7, ports: {https: 8443}}]
)"),
                       MeshSettings{});
  const auto& s = out.addresses.at("demo/legacy.example.internal").service();
  EXPECT_EQ(s.addresses(0).address(), ip4(198, 19, 5, 0));
  EXPECT_EQ(s.addresses(0).length(), 24u);
  EXPECT_EQ(s.ports(0).app_protocol(), istio::workload::TLS);
  const auto& w = out.addresses.at("Kubernetes/networking.istio.io/ServiceEntry/demo/legacy/198.19.5.7").workload();
  EXPECT_EQ(w.addresses(0), ip4(198, 19, 5, 7));
  EXPECT_EQ(w.services().at("demo/legacy.example.internal").ports(0).target_port(), 8443u);
}

TEST(TranslateTest, IsDeterministic) {
  auto snap = snapshotOf(kDemo);
  auto a = translate(snap, MeshSettings{});
  auto b = translate(snap, MeshSettings{});
  ASSERT_EQ(a.addresses.size(), b.addresses.size());
  for (const auto& [k, v] : a.addresses) EXPECT_EQ(v.SerializeAsString(), b.addresses.at(k).SerializeAsString()) << k;
}

}  // namespace
}  // namespace ambit::controlplane
