// Where ztunnel sends a captured outbound connection, from the YAML users
// write: ambitd's translation builds the WDS state, the decision is a table.
#include "ztunnel/outbound/decide.h"

#include <gtest/gtest.h>

#include "controlplane/translate/translate.h"
#include "tests/controlplane/translate/snapshot_util.h"
#include "tests/support/net.h"

namespace ambit::ztunnel::outbound {
namespace {

namespace cp = ambit::controlplane;

std::string ip(const char* text) { return test::rawIp(text); }

const char* kMesh = R"(
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
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, nodeName: node-a}
status: {podIP: 198.18.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-v1, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-b}
status: {podIP: 198.18.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-v2, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-a}
status: {podIP: 198.18.1.11}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-pending, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-b}
status: {podIP: 198.18.2.12, phase: Pending}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo}
spec: {clusterIP: 198.19.0.10, selector: {app: backend}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: demo}
spec: {clusterIP: 198.19.0.11, selector: {app: nothing}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec: {nodeName: node-b}
status: {podIP: 198.18.3.10}
---
apiVersion: v1
kind: Service
metadata: {name: old, namespace: legacy}
spec: {clusterIP: 198.19.1.10, selector: {app: old}, ports: [{port: 80, targetPort: 8000}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint, nodeName: node-b}
status: {podIP: 198.18.2.50}
---
apiVersion: v1
kind: Service
metadata: {name: waypoint, namespace: demo}
spec:
  clusterIP: 198.19.0.50
  selector: {gateway.networking.k8s.io/gateway-name: waypoint}
  ports: [{name: mesh, port: 15008}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews, namespace: demo, labels: {app: reviews}}
spec: {serviceAccountName: reviews, nodeName: node-b}
status: {podIP: 198.18.2.20}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec: {clusterIP: 198.19.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
)";

struct Fixture {
  std::shared_ptr<const ProxyState> state;
  Fixture() {
    auto t = cp::translate(cp::testutil::snapshotOf(kMesh), cp::MeshSettings{});
    for (const auto& w : t.warnings) ADD_FAILURE() << "translation warning: " << w;
    state = ProxyState::build(t.addresses, {});
  }
  const istio::workload::Workload& pod(const char* name) {
    auto w = state->workloadByUid(std::string("Kubernetes//Pod/demo/") + name);
    EXPECT_TRUE(w) << name;
    return *w;
  }
};

TEST(OutboundDecideTest, Table) {
  Fixture f;
  using K = Request::Kind;
  struct Case {
    const char* name;
    const char* from;
    const char* dst;
    uint16_t port;
    std::size_t pick;
    K kind;
    const char* hbone_ip;     // "" = not HBONE
    const char* authority;
    const char* identity_sa;  // expected peer service account ("" = none)
    bool via_waypoint;
    bool same_node;
  };
  const Case cases[] = {
      {"VIP -> first healthy endpoint, target port mapped", "client", "198.19.0.10", 80, 0, K::kHbone, "198.18.2.10",
       "198.18.2.10:8080", "backend", false, false},
      {"VIP -> the other endpoint, on the same node", "client", "198.19.0.10", 80, 1, K::kHbone, "198.18.1.11",
       "198.18.1.11:8080", "backend", false, true},
      {"pending pods are not endpoints (pick wraps over 2)", "client", "198.19.0.10", 80, 2, K::kHbone, "198.18.2.10",
       "198.18.2.10:8080", "backend", false, false},
      {"pod IP directly", "client", "198.18.2.10", 8080, 0, K::kHbone, "198.18.2.10", "198.18.2.10:8080", "backend",
       false, false},
      {"service with a waypoint -> HBONE to the waypoint, authority = VIP:port", "client", "198.19.0.20", 9080, 0,
       K::kHbone, "198.18.2.50", "198.19.0.20:9080", "waypoint", true, false},
      {"the waypoint itself reaches the endpoints (no loop)", "waypoint-0", "198.19.0.20", 9080, 0, K::kHbone,
       "198.18.2.20", "198.18.2.20:9080", "reviews", false, true},
      {"not enrolled: plain TCP to the endpoint, port mapped", "client", "198.19.1.10", 80, 0, K::kPassthrough, "",
       "", "", false, false},
      {"not in the mesh at all: passthrough", "client", "198.18.99.99", 443, 0, K::kPassthrough, "", "", "", false,
       false},
      {"service without endpoints: refused", "client", "198.19.0.11", 80, 0, K::kRefuse, "", "", "", false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Request r = decide(*f.state, f.pod(c.from), ip(c.dst), c.port, [&](std::size_t) { return c.pick; });
    EXPECT_EQ(r.kind, c.kind) << r.reason;
    EXPECT_EQ(r.via_waypoint, c.via_waypoint) << r.reason;
    if (c.kind == K::kHbone) {
      EXPECT_EQ(r.hbone_ip, ip(c.hbone_ip));
      EXPECT_EQ(r.hbone_port, 15008);
      EXPECT_EQ(r.authority, c.authority);
      EXPECT_EQ(r.expected_identity.service_account, c.identity_sa);
      EXPECT_EQ(r.expected_identity.ns, "demo");
      EXPECT_EQ(r.expected_identity.trust_domain, "cluster.local");
      EXPECT_EQ(r.same_node, c.same_node);
    }
  }
  // Passthrough keeps the mapped endpoint for services, the original address otherwise.
  Request legacy = decide(*f.state, f.pod("client"), ip("198.19.1.10"), 80, [](std::size_t) { return 0; });
  EXPECT_EQ(legacy.target_ip, ip("198.18.3.10"));
  EXPECT_EQ(legacy.target_port, 8000);
  EXPECT_EQ(legacy.service->hostname(), "old.legacy.svc.cluster.local");
  Request unknown = decide(*f.state, f.pod("client"), ip("198.18.99.99"), 443, [](std::size_t) { return 0; });
  EXPECT_EQ(unknown.target_ip, ip("198.18.99.99"));
  EXPECT_EQ(unknown.target_port, 443);
  EXPECT_FALSE(unknown.destination);
}

TEST(OutboundDecideTest, StateIndexes) {
  Fixture f;
  EXPECT_TRUE(f.state->serviceByAddress("", ip("198.19.0.10")));
  EXPECT_TRUE(f.state->workloadByAddress("", ip("::ffff:198.18.1.10"))) << "v4-mapped finds the v4 workload";
  EXPECT_FALSE(f.state->workloadByAddress("other-network", ip("198.18.1.10")));
  EXPECT_EQ(f.state->endpoints("demo/backend.demo.svc.cluster.local").size(), 3u);  // pending included; decide filters
  EXPECT_EQ(hostPort(ip("2001:db8::1"), 80), "[2001:db8::1]:80");
}

}  // namespace
}  // namespace ambit::ztunnel::outbound
