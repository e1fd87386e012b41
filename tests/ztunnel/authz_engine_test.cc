// ztunnel's L4 authorization, end to end from the YAML users write: each case
// is AuthorizationPolicy/PeerAuthentication YAML, translated by ambitd's
// translation, then decided by ztunnel's engine for a connection.
#include "ztunnel/authz/engine.h"

#include <gtest/gtest.h>

#include "controlplane/translate/translate.h"
#include "tests/controlplane/translate/snapshot_util.h"
#include "tests/support/net.h"

namespace ambit::ztunnel::authz {
namespace {

namespace cp = ambit::controlplane;

std::string ip(const char* text) { return test::rawIp(text); }

const char* kMesh = R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-b}
status: {podIP: 198.18.2.10}
---
)";

// The decision for a connection to demo/backend under `policies`.
Decision decideFor(const std::string& policies, const Connection& c) {
  auto t = cp::translate(cp::testutil::snapshotOf(std::string(kMesh) + policies), cp::MeshSettings{});
  std::map<std::string, PolicyPtr> by_name;
  for (const auto& [name, a] : t.authorizations) by_name[name] = std::make_shared<istio::security::Authorization>(a);
  PolicySet set(std::move(by_name));
  const auto& dst = t.addresses.at("Kubernetes//Pod/demo/backend").workload();
  return decide(set.applicable(dst), c);
}

Connection from(const char* ns, const char* sa, const char* src_ip = "198.18.1.10", uint16_t port = 8080) {
  Connection c;
  c.source = tls::Identity{"cluster.local", ns, sa};
  c.source_ip = ip(src_ip);
  c.destination_ip = ip("198.18.2.10");
  c.destination_port = port;
  return c;
}

Connection plaintext(const char* src_ip = "198.18.1.10", uint16_t port = 8080) {
  Connection c = from("x", "y", src_ip, port);
  c.source.reset();
  return c;
}

const char* kAllowClient = R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}], to: [{operation: {ports: ["8080"]}}]}]
)";

TEST(AuthzEngineTest, IstioSemanticsFromYaml) {
  struct Case {
    const char* name;
    std::string policies;
    Connection conn;
    bool allowed;
    const char* reason;
  };
  const Case cases[] = {
      {"no policy: allow", "", from("demo", "client"), true, "no ALLOW policy applies"},
      {"ALLOW matches principal and port", kAllowClient, from("demo", "client"), true,
       "allowed by policy demo/allow-client"},
      {"ALLOW exists, other principal", kAllowClient, from("demo", "intruder"), false, "no ALLOW policy matched"},
      {"ALLOW exists, other port", kAllowClient, from("demo", "client", "198.18.1.10", 9090), false,
       "no ALLOW policy matched"},
      {"ALLOW on principals, plaintext has none", kAllowClient, plaintext(), false, "no ALLOW policy matched"},
      {"DENY wins over ALLOW",
       std::string(kAllowClient) + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-ns, namespace: demo}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [demo]}}]}]}
)",
       from("demo", "client"), false, "denied by policy demo/deny-ns"},
      {"mesh-wide DENY from the root namespace",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-legacy, namespace: istio-system}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [legacy]}}]}]}
)",
       from("legacy", "old"), false, "denied by policy istio-system/no-legacy"},
      {"ALLOW with an empty spec allows nothing",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: demo}
spec: {}
)",
       from("demo", "client"), false, "no ALLOW policy matched"},
      {"ALLOW with one empty rule allows everything",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: demo}
spec: {rules: [{}]}
)",
       plaintext(), true, "allowed by policy demo/allow-all"},
      {"ALLOW rule with L7 fields never matches in ztunnel",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: demo}
spec: {rules: [{to: [{operation: {methods: [GET]}}]}]}
)",
       from("demo", "client"), false, "no ALLOW policy matched"},
      {"DENY rule loses its L7 parts (denies more, never less)",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: demo}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [demo]}}], to: [{operation: {paths: [/admin]}}]}]}
)",
       from("demo", "client"), false, "denied by policy demo/no-admin"},
      {"notPrincipals [*] denies plaintext",
       R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-mtls, namespace: demo}
spec: {action: DENY, rules: [{from: [{source: {notPrincipals: ["*"]}}]}]}
)",
       plaintext(), false, "denied by policy demo/require-mtls"},
      {"notPrincipals [*] lets mTLS through", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-mtls, namespace: demo}
spec: {action: DENY, rules: [{from: [{source: {notPrincipals: ["*"]}}]}]}
)",
       from("demo", "client"), true, "no ALLOW policy applies"},
      {"ipBlocks CIDR", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-subnet, namespace: demo}
spec: {rules: [{from: [{source: {ipBlocks: [198.18.1.0/24]}}]}]}
)",
       plaintext("198.18.1.77"), true, "allowed by policy demo/from-subnet"},
      {"ipBlocks CIDR, outside", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-subnet, namespace: demo}
spec: {rules: [{from: [{source: {ipBlocks: [198.18.1.0/24]}}]}]}
)",
       plaintext("198.18.3.1"), false, "no ALLOW policy matched"},
      {"v4 policy holds for a v4-mapped v6 source", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-subnet, namespace: demo}
spec: {rules: [{from: [{source: {ipBlocks: [198.18.1.0/24]}}]}]}
)",
       plaintext("::ffff:198.18.1.5"), true, "allowed by policy demo/from-subnet"},
      {"v6 block", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: v6, namespace: demo}
spec: {rules: [{from: [{source: {ipBlocks: ["2001:db8:1::/48"]}}]}]}
)",
       plaintext("2001:db8:1:ffff::9"), true, "allowed by policy demo/v6"},
      {"notPorts", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: not-debug, namespace: demo}
spec: {rules: [{to: [{operation: {notPorts: ["9999"]}}]}]}
)",
       from("demo", "client", "198.18.1.10", 9999), false, "no ALLOW policy matched"},
      {"principal prefix and suffix forms", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: wild, namespace: demo}
spec: {rules: [{from: [{source: {principals: ["cluster.local/ns/demo/*", "*/sa/ops"]}}]}]}
)",
       from("other", "ops"), true, "allowed by policy demo/wild"},
      {"serviceAccounts (Istio 1.23+ field)", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: sa, namespace: demo}
spec: {rules: [{from: [{source: {serviceAccounts: [client]}}]}]}
)",
       from("demo", "client"), true, "allowed by policy demo/sa"},
      {"selector that does not select the pod does not apply", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-app, namespace: demo}
spec: {selector: {matchLabels: {app: frontend}}, rules: [{from: [{source: {namespaces: [nobody]}}]}]}
)",
       from("demo", "client"), true, "no ALLOW policy applies"},
      {"policy in another namespace does not apply", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: other}
spec: {}
)",
       from("demo", "client"), true, "no ALLOW policy applies"},
      {"PeerAuthentication STRICT rejects plaintext", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}}
)",
       plaintext(), false, "denied by policy demo/ambit-peer-authn-strict"},
      {"PeerAuthentication STRICT admits mTLS", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}}
)",
       from("demo", "client"), true, "no ALLOW policy applies"},
      {"STRICT with a PERMISSIVE port lets plaintext in on that port", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: backend, namespace: demo}
spec: {selector: {matchLabels: {app: backend}}, mtls: {mode: STRICT}, portLevelMtls: {"9000": {mode: PERMISSIVE}}}
)",
       plaintext("198.18.1.10", 9000), true, "no ALLOW policy applies"},
      {"... and not on the others", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: backend, namespace: demo}
spec: {selector: {matchLabels: {app: backend}}, mtls: {mode: STRICT}, portLevelMtls: {"9000": {mode: PERMISSIVE}}}
)",
       plaintext("198.18.1.10", 8080), false, "denied by policy demo/ambit-peer-authn-strict-except-9000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Decision d = decideFor(c.policies, c.conn);
    EXPECT_EQ(d.allowed, c.allowed);
    EXPECT_EQ(d.reason, c.reason);
  }
}

TEST(AuthzEngineTest, DryRunIsReportedNotEnforced) {
  Decision d = decideFor(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: would-deny, namespace: demo, annotations: {istio.io/dry-run: "true"}}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [demo]}}]}]}
)",
                         from("demo", "client"));
  EXPECT_TRUE(d.allowed);
  ASSERT_TRUE(d.dry_run_allowed.has_value());
  EXPECT_FALSE(*d.dry_run_allowed);
  EXPECT_EQ(d.dry_run_reason, "denied by policy demo/would-deny");
  EXPECT_FALSE(decideFor("", from("demo", "client")).dry_run_allowed.has_value());
}

TEST(AuthzEngineTest, CidrEdges) {
  auto block = [](const char* text, uint32_t len) {
    istio::security::Address a;
    a.set_address(ip(text));
    a.set_length(len);
    return a;
  };
  struct Case {
    istio::security::Address block;
    const char* ip;
    bool in;
  } cases[] = {
      {block("198.18.0.0", 15), "198.19.255.255", true},
      {block("198.18.0.0", 15), "198.20.0.0", false},
      {block("198.18.1.10", 32), "198.18.1.10", true},
      {block("198.18.1.10", 32), "198.18.1.11", false},
      {block("0.0.0.0", 0), "198.18.9.9", true},
      {block("198.18.1.0", 24), "2001:db8::1", false},  // families never match each other
      {block("2001:db8::", 32), "2001:db8:ffff::1", true},
      {block("2001:db8::", 33), "2001:db8:8000::1", false},
  };
  for (const auto& c : cases) {
    istio::security::Match m;
    *m.add_source_ips() = c.block;
    Connection conn;
    conn.source_ip = ip(c.ip);
    EXPECT_EQ(matches(m, conn), c.in) << c.ip << " in block of length " << c.block.length();
  }
}

}  // namespace
}  // namespace ambit::ztunnel::authz
