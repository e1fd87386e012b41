// YAML in, model objects out: the fields translation depends on.
#include <gtest/gtest.h>

#include "controlplane/model/parse.h"

namespace ambit::controlplane {
namespace {

template <typename T>
T only(const ParseResult& r) {
  EXPECT_TRUE(r.ok()) << (r.issues.empty() ? "" : r.issues[0].toString());
  EXPECT_EQ(r.objects.size(), 1u);
  return std::get<T>(r.objects.at(0));
}

TEST(ParseTest, NamespaceAndPod) {
  auto r = parseDocuments(R"(
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata:
  name: client-1
  namespace: demo
  labels: {app: client, version: v1}
  uid: 1234
spec:
  serviceAccountName: client
  nodeName: node-a
  containers:
  - name: app
    image: ambit-demo-app
    ports: [{name: http, containerPort: 8080}]
status:
  phase: Running
  podIP: 198.18.1.10
  podIPs: [{ip: 198.18.1.10}, {ip: "2001:db8::a"}]
)",
                          "demo.yaml");
  ASSERT_TRUE(r.ok()) << r.issues[0].toString();
  ASSERT_EQ(r.objects.size(), 2u);
  const auto& ns = std::get<Namespace>(r.objects[0]);
  EXPECT_EQ(ns.meta.name, "demo");
  EXPECT_EQ(ns.meta.ns, "");
  EXPECT_EQ(ns.meta.labels.at("istio.io/dataplane-mode"), "ambient");
  const auto& pod = std::get<Pod>(r.objects[1]);
  EXPECT_EQ(pod.meta.ns, "demo");
  EXPECT_EQ(pod.service_account, "client");
  EXPECT_EQ(pod.node_name, "node-a");
  EXPECT_EQ(pod.ips, (std::vector<std::string>{"198.18.1.10", "2001:db8::a"}));
  ASSERT_EQ(pod.ports.size(), 1u);
  EXPECT_EQ(pod.ports[0].name, "http");
  EXPECT_EQ(pod.meta.origin, "demo.yaml:8:1");
  EXPECT_EQ(objectKey(r.objects[1]), "Pod/demo/client-1");
}

TEST(ParseTest, PodDefaults) {
  const auto pod = only<Pod>(parseDocuments("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "f.yaml"));
  EXPECT_EQ(pod.meta.ns, "default");
  EXPECT_EQ(pod.service_account, "default");
  EXPECT_TRUE(pod.ips.empty());
}

TEST(ParseTest, ServiceWithNamedAndDefaultTargetPorts) {
  auto r = parseDocuments(R"(
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: 198.19.0.10
  selector: {app: backend}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: tcp, port: 9000}
  - {name: grpc, port: 9090, targetPort: 19090, appProtocol: grpc}
)",
                          "svc.yaml");
  const auto svc = only<Service>(r);
  EXPECT_EQ(svc.cluster_ips, (std::vector<std::string>{"198.19.0.10"}));
  EXPECT_TRUE(svc.has_selector);
  ASSERT_EQ(svc.ports.size(), 3u);
  EXPECT_EQ(svc.ports[0].target_port_name, "http");
  EXPECT_FALSE(svc.ports[0].target_port.has_value());
  EXPECT_EQ(svc.ports[1].target_port, 9000);
  EXPECT_EQ(svc.ports[2].target_port, 19090);
  EXPECT_EQ(svc.ports[2].app_protocol, "grpc");
}

TEST(ParseTest, HeadlessServiceHasNoVip) {
  const auto svc = only<Service>(parseDocuments(
      "apiVersion: v1\nkind: Service\nmetadata: {name: h}\nspec: {clusterIP: None, ports: [{port: 80}]}\n", "h.yaml"));
  EXPECT_TRUE(svc.cluster_ips.empty());
}

TEST(ParseTest, AuthorizationPolicyKeepsEveryMatchField) {
  const auto ap = only<AuthorizationPolicy>(parseDocuments(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-policy, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/client"]
        notNamespaces: [other]
        ipBlocks: [198.18.0.0/16]
    to:
    - operation: {ports: ["8080"], methods: [GET], notPaths: [/admin]}
    when:
    - {key: "request.headers[x-user]", values: [alice]}
)",
                                                            "ap.yaml"));
  EXPECT_EQ(ap.action, "DENY");
  EXPECT_TRUE(ap.has_selector);
  EXPECT_EQ(ap.selector.at("app"), "backend");
  ASSERT_EQ(ap.rules.size(), 1u);
  const auto& rule = ap.rules[0];
  EXPECT_EQ(rule.from[0].principals[0], "cluster.local/ns/demo/sa/client");
  EXPECT_EQ(rule.from[0].not_namespaces[0], "other");
  EXPECT_EQ(rule.from[0].ip_blocks[0], "198.18.0.0/16");
  EXPECT_EQ(rule.to[0].ports[0], "8080");
  EXPECT_EQ(rule.to[0].not_paths[0], "/admin");
  EXPECT_EQ(rule.when[0].key, "request.headers[x-user]");
}

TEST(ParseTest, AllowNothingVersusAllowAll) {
  const auto nothing = only<AuthorizationPolicy>(parseDocuments(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {}\n", "a.yaml"));
  EXPECT_TRUE(nothing.rules.empty());
  const auto all = only<AuthorizationPolicy>(parseDocuments(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {rules: [{}]}\n",
      "a.yaml"));
  ASSERT_EQ(all.rules.size(), 1u);
  EXPECT_TRUE(all.rules[0].from.empty() && all.rules[0].to.empty());
}

TEST(ParseTest, PolicyTargetRefsForWaypoints) {
  const auto ap = only<AuthorizationPolicy>(parseDocuments(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l7, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: backend}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)",
                                                            "l7.yaml"));
  ASSERT_EQ(ap.target_refs.size(), 1u);
  EXPECT_EQ(ap.target_refs[0].kind, "Service");
  EXPECT_EQ(ap.target_refs[0].name, "backend");
}

TEST(ParseTest, PeerAuthenticationModes) {
  const auto pa = only<PeerAuthentication>(parseDocuments(R"(
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: strict, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  mtls: {mode: STRICT}
  portLevelMtls: {"8080": {mode: PERMISSIVE}}
)",
                                                             "pa.yaml"));
  EXPECT_EQ(pa.mode, "STRICT");
  EXPECT_EQ(pa.port_modes.at(8080), "PERMISSIVE");
}

TEST(ParseTest, VirtualServiceCanaryWithRetriesAndFaults) {
  const auto vs = only<VirtualService>(parseDocuments(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: demo}
spec:
  hosts: [backend.demo.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /api}, headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: backend, subset: v2}}]
  - route:
    - {destination: {host: backend, subset: v1}, weight: 90}
    - {destination: {host: backend, subset: v2, port: {number: 8080}}, weight: 10}
    timeout: 2.5s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,reset"}
    fault: {delay: {fixedDelay: 1s, percentage: {value: 5.5}}, abort: {httpStatus: 503, percentage: {value: 1}}}
    mirror: {host: backend-shadow}
    mirrorPercentage: {value: 50}
)",
                                                         "vs.yaml"));
  ASSERT_EQ(vs.http.size(), 2u);
  EXPECT_EQ(vs.http[0].match[0].uri->kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(vs.http[0].match[0].headers.at("x-canary").value, "true");
  const auto& split = vs.http[1];
  EXPECT_EQ(split.route[0].weight, 90);
  EXPECT_EQ(split.route[1].destination.port, 8080);
  EXPECT_EQ(split.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(split.retries->attempts, 3);
  EXPECT_EQ(split.retries->per_try_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(split.fault->delay, std::chrono::milliseconds(1000));
  EXPECT_DOUBLE_EQ(split.fault->delay_percent, 5.5);
  EXPECT_EQ(split.fault->abort_status, 503);
  EXPECT_EQ(split.mirror->host, "backend-shadow");
  EXPECT_DOUBLE_EQ(split.mirror_percent, 50);
}

TEST(ParseTest, DestinationRuleSubsetsAndCircuitBreaking) {
  const auto dr = only<DestinationRule>(parseDocuments(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: demo}
spec:
  host: backend
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10, idleTimeout: 90s}
      http: {http1MaxPendingRequests: 5, maxRetries: 2, h2UpgradePolicy: UPGRADE, useClientProtocol: true}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 30s}
    loadBalancer: {simple: LEAST_REQUEST}
    retryBudget: {percent: 25.5}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
)",
                                                          "dr.yaml"));
  EXPECT_EQ(dr.traffic_policy->max_connections, 10);
  EXPECT_EQ(dr.traffic_policy->http1_max_pending_requests, 5);
  EXPECT_EQ(dr.traffic_policy->tcp_idle_timeout, std::chrono::milliseconds(90000));
  EXPECT_EQ(dr.traffic_policy->h2_upgrade_policy, "UPGRADE");
  EXPECT_TRUE(dr.traffic_policy->use_client_protocol);
  EXPECT_TRUE(dr.traffic_policy->has_retry_budget);
  EXPECT_EQ(dr.traffic_policy->retry_budget_percent, 25.5);
  EXPECT_EQ(dr.traffic_policy->min_retry_concurrency, std::nullopt);
  EXPECT_EQ(dr.traffic_policy->consecutive_5xx_errors, 3);
  EXPECT_EQ(dr.traffic_policy->base_ejection_time, std::chrono::milliseconds(30000));
  EXPECT_EQ(dr.traffic_policy->lb_simple, "LEAST_REQUEST");
  ASSERT_EQ(dr.subsets.size(), 2u);
  EXPECT_EQ(dr.subsets[1].labels.at("version"), "v2");
}

TEST(ParseTest, ServiceEntryStatic) {
  const auto se = only<ServiceEntry>(parseDocuments(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: demo}
spec:
  hosts: [legacy.example.internal]
  addresses: [198.19.5.0/24]
  ports: [{number: 443, name: https, protocol: TLS}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints: [{address: 198.19.5.7, ports: {https: 8443}, labels: {app: legacy}}]
)",
                                                     "se.yaml"));
  EXPECT_EQ(se.location, "MESH_INTERNAL");
  EXPECT_EQ(se.endpoints[0].ports.at("https"), 8443);
}

TEST(ParseTest, WaypointGatewayAndHttpRoute) {
  auto r = parseDocuments(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo, labels: {istio.io/waypoint-for: service}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: backend, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}, headers: [{name: x-user, value: bob}]}]
    backendRefs: [{name: backend-v2, port: 80}]
  - backendRefs: [{name: backend-v1, port: 80, weight: 90}, {name: backend-v2, port: 80, weight: 10}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-mesh, value: ambit}], remove: [x-debug]}}
    timeouts: {request: 5s}
)",
                          "gw.yaml");
  ASSERT_TRUE(r.ok()) << r.issues[0].toString();
  const auto& gw = std::get<Gateway>(r.objects[0]);
  EXPECT_EQ(gw.class_name, "istio-waypoint");
  EXPECT_EQ(gw.listeners[0].port, 15008);
  const auto& route = std::get<HTTPRoute>(r.objects[1]);
  EXPECT_EQ(route.parents[0].kind, "Service");
  EXPECT_EQ(route.parents[0].group, "");
  EXPECT_EQ(route.rules[0].matches[0].path->kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(route.rules[0].matches[0].headers[0].first, "x-user");
  EXPECT_EQ(route.rules[1].backends[1].weight, 10);
  EXPECT_EQ(route.rules[1].request_headers.set.at("x-mesh"), "ambit");
  EXPECT_EQ(route.rules[1].timeout, std::chrono::milliseconds(5000));
}

TEST(ParseTest, UnknownKindsAreSkippedWithAWarning) {
  auto r = parseDocuments("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n---\n", "d.yaml");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.objects.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "d.yaml:1:1: skipping apps/v1 Deployment (a kind Ambit does not use)");
}

TEST(ParseTest, UnsupportedIstioFieldsWarnButLoad) {
  auto r = parseDocuments(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [a]
  http: [{route: [{destination: {host: a}}], corsPolicy: {allowOrigins: [{exact: x}]}}]
)",
                          "vs.yaml");
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "vs.yaml:7:58: VirtualService default/vs: field 'spec.http[0].corsPolicy': is not supported by Ambit yet "
            "and is ignored");
}

}  // namespace
}  // namespace ambit::controlplane
