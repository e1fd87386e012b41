// AuthorizationPolicy / PeerAuthentication -> Authorization, Istio's ambient edge cases.
#include <gtest/gtest.h>

#include "controlplane/translate/translate.h"
#include "snapshot_util.h"

namespace ambit::controlplane {
namespace {

using testutil::ip4;
using testutil::snapshotOf;
namespace sec = istio::security;

AuthorizationPolicy policy(const std::string& yaml_spec, const std::string& ns = "demo") {
  auto r = parseDocuments("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: " +
                              ns + "}\nspec:\n" + yaml_spec,
                          "p.yaml");
  EXPECT_TRUE(r.ok()) << (r.issues.empty() ? "" : r.issues[0].toString());
  return std::get<AuthorizationPolicy>(r.objects.at(0));
}

sec::Authorization translated(const std::string& spec, std::vector<std::string>* warnings = nullptr,
                              const std::string& ns = "demo") {
  std::vector<std::string> w;
  auto a = translatePolicy(policy(spec, ns), MeshSettings{}, w);
  EXPECT_TRUE(a.has_value());
  if (warnings) *warnings = w;
  return a.value_or(sec::Authorization{});
}

TEST(AuthorizationTest, ScopeFollowsNamespaceAndSelector) {
  EXPECT_EQ(translated("  action: DENY\n", nullptr, "istio-system").scope(), sec::GLOBAL);
  EXPECT_EQ(translated("  action: DENY\n").scope(), sec::NAMESPACE);
  EXPECT_EQ(translated("  selector: {matchLabels: {app: x}}\n").scope(), sec::WORKLOAD_SELECTOR);
  EXPECT_EQ(translated("  selector: {matchLabels: {app: x}}\n", nullptr, "istio-system").scope(),
            sec::WORKLOAD_SELECTOR);
}

TEST(AuthorizationTest, SourcesBecomeOredMatchesInOneRulesBlock) {
  auto a = translated(R"(  action: ALLOW
  rules:
  - from:
    - source: {principals: ["spiffe://cluster.local/ns/demo/sa/client"], notNamespaces: [test]}
    - source: {ipBlocks: [198.18.0.0/15, 198.18.1.10], serviceAccounts: [web, other/api]}
    to:
    - operation: {ports: ["8080", "9090"], notPorts: ["15000"]}
)");
  EXPECT_EQ(a.action(), sec::ALLOW);
  ASSERT_EQ(a.groups_size(), 1);
  const auto& g = a.groups(0);
  ASSERT_EQ(g.rules_size(), 2) << "from and to are ANDed";
  ASSERT_EQ(g.rules(0).matches_size(), 2) << "sources are ORed";
  const auto& first = g.rules(0).matches(0);
  EXPECT_EQ(first.principals(0).exact(), "cluster.local/ns/demo/sa/client") << "spiffe:// is stripped";
  EXPECT_EQ(first.not_namespaces(0).exact(), "test");
  const auto& second = g.rules(0).matches(1);
  ASSERT_EQ(second.source_ips_size(), 2);
  EXPECT_EQ(second.source_ips(0).address(), ip4(198, 18, 0, 0));
  EXPECT_EQ(second.source_ips(0).length(), 15u);
  EXPECT_EQ(second.source_ips(1).length(), 32u);
  EXPECT_EQ(second.service_accounts(0).namespace_(), "demo");
  EXPECT_EQ(second.service_accounts(0).serviceaccount(), "web");
  EXPECT_EQ(second.service_accounts(1).namespace_(), "other");
  const auto& to = g.rules(1).matches(0);
  EXPECT_EQ(to.destination_ports_size(), 2);
  EXPECT_EQ(to.destination_ports(1), 9090u);
  EXPECT_EQ(to.not_destination_ports(0), 15000u);
}

TEST(AuthorizationTest, WildcardsBecomePresencePrefixSuffix) {
  auto a = translated("  rules: [{from: [{source: {principals: [\"*\", \"cluster.local/ns/demo/*\", \"*/sa/admin\"]}}]}]\n");
  const auto& m = a.groups(0).rules(0).matches(0);
  EXPECT_TRUE(m.principals(0).has_presence());
  EXPECT_EQ(m.principals(1).prefix(), "cluster.local/ns/demo/");
  EXPECT_EQ(m.principals(2).suffix(), "/sa/admin");
}

TEST(AuthorizationTest, AllowRuleWithL7FieldsNeverMatchesInZtunnel) {
  std::vector<std::string> warnings;
  auto a = translated(R"(  rules:
  - to: [{operation: {methods: [GET]}}]
  - from: [{source: {namespaces: [demo]}}]
)",
                      &warnings);
  ASSERT_EQ(a.groups_size(), 1) << "the L7 rule is dropped, the L4 rule kept";
  EXPECT_EQ(a.groups(0).rules(0).matches(0).namespaces(0).exact(), "demo");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ALLOW rule uses L7 fields (methods)"), std::string::npos) << warnings[0];
}

TEST(AuthorizationTest, AllowWithOnlyL7RulesAllowsNothing) {
  auto a = translated("  rules: [{to: [{operation: {paths: [/public]}}]}]\n");
  EXPECT_EQ(a.action(), sec::ALLOW);
  EXPECT_EQ(a.groups_size(), 0) << "an ALLOW policy that matches nothing: only other ALLOWs can let traffic in";
}

TEST(AuthorizationTest, DenyRuleLosesItsL7Parts) {
  std::vector<std::string> warnings;
  auto a = translated(R"(  action: DENY
  rules:
  - from: [{source: {notPrincipals: ["cluster.local/ns/demo/sa/admin"]}}]
    to: [{operation: {methods: [DELETE], ports: ["8080"]}}]
    when: [{key: "request.headers[x-debug]", values: ["1"]}]
)",
                      &warnings);
  ASSERT_EQ(a.groups_size(), 1);
  const auto& g = a.groups(0);
  ASSERT_EQ(g.rules_size(), 2) << "the header condition is gone; from and to stay";
  EXPECT_EQ(g.rules(0).matches(0).not_principals(0).exact(), "cluster.local/ns/demo/sa/admin");
  sec::Match only_port;
  only_port.add_destination_ports(8080);
  EXPECT_EQ(g.rules(1).matches(0).SerializeAsString(), only_port.SerializeAsString())
      << "methods dropped, only the port remains";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("wider than written"), std::string::npos);
}

TEST(AuthorizationTest, L4ConditionsAreKept) {
  auto a = translated(R"(  rules:
  - when:
    - {key: source.ip, values: [198.18.1.0/24]}
    - {key: destination.port, notValues: ["22"]}
    - {key: source.namespace, values: [demo]}
)");
  ASSERT_EQ(a.groups(0).rules_size(), 3);
  EXPECT_EQ(a.groups(0).rules(0).matches(0).source_ips(0).length(), 24u);
  EXPECT_EQ(a.groups(0).rules(1).matches(0).not_destination_ports(0), 22u);
  EXPECT_EQ(a.groups(0).rules(2).matches(0).namespaces(0).exact(), "demo");
}

TEST(AuthorizationTest, AllowAllAndAllowNothing) {
  EXPECT_EQ(translated("  rules: [{}]\n").groups_size(), 1) << "one empty rule matches everything";
  EXPECT_EQ(translated("  rules: [{}]\n").groups(0).rules_size(), 0);
  EXPECT_EQ(translated("  {}\n").groups_size(), 0) << "no rules matches nothing";
}

TEST(AuthorizationTest, WaypointAuditAndCustomPoliciesAreNotForZtunnel) {
  std::vector<std::string> w;
  EXPECT_FALSE(translatePolicy(policy("  targetRefs: [{kind: Service, group: \"\", name: backend}]\n"), {}, w));
  EXPECT_FALSE(translatePolicy(policy("  action: AUDIT\n"), {}, w));
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(translatePolicy(policy("  action: CUSTOM\n"), {}, w));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("CUSTOM"), std::string::npos);
}

const char* kPods = R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo, labels: {app: backend}}
status: {podIP: 198.18.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
status: {podIP: 198.18.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: other, labels: {app: backend}}
status: {podIP: 198.18.3.10}
)";

TEST(HttpPolicyTest, TargetRefPoliciesGoToTheWaypointAsWritten) {
  std::vector<std::string> w;
  auto p = translateHttpPolicy(policy(R"(  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
  - {kind: Service, group: "", name: reviews}
  - {kind: ServiceEntry, group: networking.istio.io, name: ext}
  action: DENY
  rules:
  - from: [{source: {serviceAccounts: ["client", "other/bot"], namespaces: ["demo"]}}]
    to: [{operation: {methods: ["POST"], paths: ["/admin/*"], hosts: ["Reviews"]}}]
    when: [{key: "request.headers[x-user]", values: ["mallory"]}]
)"),
                               w);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->action(), ambit::authz::v1::HttpPolicy::DENY);
  ASSERT_EQ(p->targets_size(), 2);
  EXPECT_EQ(p->targets(0).kind(), "Gateway");
  EXPECT_EQ(p->targets(0).namespace_(), "demo");
  EXPECT_EQ(p->targets(1).name(), "reviews");
  ASSERT_EQ(w.size(), 1u) << "the ServiceEntry target is named in a warning";
  const auto& r = p->rules(0);
  ASSERT_EQ(r.from(0).principals_size(), 2);
  EXPECT_EQ(r.from(0).principals(0), "*/ns/demo/sa/client");
  EXPECT_EQ(r.from(0).principals(1), "*/ns/other/sa/bot");
  EXPECT_EQ(r.to(0).paths(0), "/admin/*");
  EXPECT_EQ(r.to(0).hosts(0), "Reviews");
  EXPECT_EQ(r.when(0).key(), "request.headers[x-user]");
  // Not for ztunnel.
  EXPECT_FALSE(translatePolicy(policy("  targetRefs: [{kind: Service, group: \"\", name: reviews}]\n"),
                               MeshSettings{}, w));
}

TEST(HttpPolicyTest, OnlyTargetRefPoliciesWithAUsableTarget) {
  std::vector<std::string> w;
  EXPECT_FALSE(translateHttpPolicy(policy("  action: DENY\n"), w)) << "no targetRefs: ztunnel's";
  EXPECT_FALSE(translateHttpPolicy(policy("  targetRefs: [{kind: GatewayClass, name: x}]\n"), w));
  EXPECT_FALSE(translateHttpPolicy(
      policy(
          "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: w}]\n  action: CUSTOM\n"),
      w));
  auto audit = translateHttpPolicy(
      policy("  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: w}]\n  action: AUDIT\n"),
      w);
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->action(), ambit::authz::v1::HttpPolicy::AUDIT);
}

TEST(AuthorizationTest, SelectorPoliciesAreAttachedToTheWorkloadsTheySelect) {
  auto out = translate(snapshotOf(std::string(kPods) + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-only, namespace: demo}
spec: {selector: {matchLabels: {app: backend}}, action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-backends, namespace: istio-system}
spec: {selector: {matchLabels: {app: backend}}, action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-wide, namespace: demo}
spec: {action: DENY, rules: [{}]}
)"),
                       MeshSettings{});
  auto policies = [&](const char* uid) {
    const auto& w = out.addresses.at(uid).workload();
    return std::vector<std::string>(w.authorization_policies().begin(), w.authorization_policies().end());
  };
  EXPECT_EQ(policies("Kubernetes//Pod/demo/backend"),
            (std::vector<std::string>{"demo/backend-only", "istio-system/mesh-backends"}));
  EXPECT_TRUE(policies("Kubernetes//Pod/demo/client").empty()) << "namespace-scoped policies are not listed";
  EXPECT_EQ(policies("Kubernetes//Pod/other/other"), (std::vector<std::string>{"istio-system/mesh-backends"}));
  EXPECT_EQ(out.authorizations.count("demo/ns-wide"), 1u);
}

std::string peerAuthn(const std::string& name, const std::string& ns, const std::string& spec) {
  return "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec: " + spec + "\n";
}

TEST(PeerAuthenticationTest, EffectiveModeTable) {
  struct Case {
    std::string policies;
    std::map<uint16_t, std::string> backend;  // effective modes of demo/backend
  } cases[] = {
      {"", {{0, "PERMISSIVE"}}},
      {peerAuthn("default", "istio-system", "{mtls: {mode: STRICT}}"), {{0, "STRICT"}}},
      {peerAuthn("default", "istio-system", "{mtls: {mode: STRICT}}") +
           peerAuthn("default", "demo", "{mtls: {mode: PERMISSIVE}}"),
       {{0, "PERMISSIVE"}}},
      {peerAuthn("default", "istio-system", "{mtls: {mode: STRICT}}") + peerAuthn("default", "demo", "{mtls: {mode: UNSET}}"),
       {{0, "STRICT"}}},
      {peerAuthn("default", "demo", "{mtls: {mode: PERMISSIVE}}") +
           peerAuthn("backend", "demo", "{selector: {matchLabels: {app: backend}}, mtls: {mode: STRICT}}"),
       {{0, "STRICT"}}},
      {peerAuthn("default", "demo", "{mtls: {mode: STRICT}}") +
           peerAuthn("backend", "demo",
                     "{selector: {matchLabels: {app: backend}}, portLevelMtls: {\"8080\": {mode: PERMISSIVE}}}"),
       {{0, "STRICT"}, {8080, "PERMISSIVE"}}},
      {peerAuthn("other", "other", "{mtls: {mode: STRICT}}"), {{0, "PERMISSIVE"}}},
  };
  for (const auto& c : cases) {
    auto snap = snapshotOf(std::string(kPods) + c.policies);
    EXPECT_EQ(effectiveMtls(snap, MeshSettings{}, *snap.pods.at("demo/backend")), c.backend) << c.policies;
  }
}

TEST(PeerAuthenticationTest, StrictBecomesADenyWithoutPrincipal) {
  auto out = translate(snapshotOf(std::string(kPods) + peerAuthn("default", "demo", "{mtls: {mode: STRICT}}") +
                                  peerAuthn("backend", "demo",
                                            "{selector: {matchLabels: {app: backend}}, portLevelMtls: {\"9000\": {mode: "
                                            "DISABLE}}}")),
                       MeshSettings{});
  const auto& client = out.addresses.at("Kubernetes//Pod/demo/client").workload();
  ASSERT_EQ(client.authorization_policies_size(), 1);
  EXPECT_EQ(client.authorization_policies(0), "demo/ambit-peer-authn-strict");
  const auto& strict = out.authorizations.at("demo/ambit-peer-authn-strict");
  EXPECT_EQ(strict.action(), sec::DENY);
  EXPECT_EQ(strict.scope(), sec::WORKLOAD_SELECTOR);
  ASSERT_EQ(strict.groups(0).rules_size(), 1);
  EXPECT_TRUE(strict.groups(0).rules(0).matches(0).not_principals(0).has_presence());

  const auto& backend = out.addresses.at("Kubernetes//Pod/demo/backend").workload();
  EXPECT_EQ(backend.authorization_policies(0), "demo/ambit-peer-authn-strict-except-9000");
  const auto& except = out.authorizations.at("demo/ambit-peer-authn-strict-except-9000");
  ASSERT_EQ(except.groups(0).rules_size(), 2);
  EXPECT_EQ(except.groups(0).rules(1).matches(0).not_destination_ports(0), 9000u);
  EXPECT_FALSE(out.authorizations.count("other/ambit-peer-authn-strict"));
}

TEST(PeerAuthenticationTest, PolicyNames) {
  EXPECT_EQ(peerAuthenticationPolicyName({{0, "PERMISSIVE"}}), "");
  EXPECT_EQ(peerAuthenticationPolicyName({{0, "STRICT"}}), "ambit-peer-authn-strict");
  EXPECT_EQ(peerAuthenticationPolicyName({{0, "STRICT"}, {80, "PERMISSIVE"}, {90, "STRICT"}}),
            "ambit-peer-authn-strict-except-80");
  EXPECT_EQ(peerAuthenticationPolicyName({{0, "DISABLE"}, {443, "STRICT"}}), "ambit-peer-authn-strict-ports-443");
}

}  // namespace
}  // namespace ambit::controlplane
