// Bad YAML in, an error naming file, line, column, object and field out.
#include <gtest/gtest.h>

#include "controlplane/model/parse.h"

namespace ambit::controlplane {
namespace {

struct Case {
  const char* yaml;
  const char* expected;  // the first issue, whole
};

TEST(ParseErrorsTest, Table) {
  const Case cases[] = {
      {"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: demo}\n"
       "spec:\n  rules:\n  - from:\n    - source:\n        principal: [x]\n",
       "t.yaml:8:9: field 'spec.rules[0].from[0].source.principal': AuthorizationPolicy demo/p: unknown field"},
      {"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: REJECT}\n",
       "t.yaml:4:16: field 'spec.action': AuthorizationPolicy default/p: expected one of ALLOW, DENY, AUDIT, CUSTOM, "
       "got 'REJECT'"},
      {"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n"
       "spec: {rules: [{from: [{source: {ipBlocks: [198.18.0.0/33]}}]}]}\n",
       "t.yaml:4:44: field 'spec.rules[0].from[0].source.ipBlocks': AuthorizationPolicy default/p: '198.18.0.0/33' is "
       "not an IP address or CIDR block"},
      {"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n"
       "spec: {rules: [{to: [{operation: {ports: [http]}}]}]}\n",
       "t.yaml:4:42: field 'spec.rules[0].to[0].operation.ports': AuthorizationPolicy default/p: 'http' is not a port "
       "number"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {namespace: demo}\n",
       "t.yaml:3:11: field 'metadata.name': is required"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n",
       "t.yaml:3:18: field 'metadata.name': 'Bad_Name' is not a valid name (lower-case letters, digits, '-' and '.')"},
      {"apiVersion: v1\nkind: Namespace\nmetadata: {name: a, namespace: b}\n",
       "t.yaml:3:32: field 'metadata.namespace': Namespace is cluster-scoped and takes no namespace"},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 70000}]}\n",
       "t.yaml:4:23: field 'spec.ports[0].port': Service default/s: must be between 1 and 65535, got 70000"},
      {"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
       "spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: 60}, {destination: {host: b}, weight: 30}]}]}\n",
       "t.yaml:4:27: field 'spec.http[0].route': VirtualService default/v: weights must add up to 100, they add up to 90"},
      {"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
       "spec: {hosts: [a], http: [{route: [{destination: {host: a}}], timeout: soon}]}\n",
       "t.yaml:4:72: field 'spec.http[0].timeout': VirtualService default/v: expected a duration such as 10s, 0.5s or "
       "100ms, got 'soon'"},
      {"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
       "spec: {hosts: [a], http: [{match: [{uri: {prefix: /a, exact: /b}}], route: [{destination: {host: a}}]}]}\n",
       "t.yaml:4:42: field 'spec.http[0].match[0].uri': VirtualService default/v: needs exactly one of exact, prefix or "
       "regex"},
      {"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec: {mtls: {mode: strict}}\n",
       "t.yaml:4:21: field 'spec.mtls.mode': PeerAuthentication default/p: expected one of UNSET, DISABLE, PERMISSIVE, "
       "STRICT, got 'strict'"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {podIP: 198.18.0.300}\n",
       "t.yaml:4:17: field 'status.podIP': Pod default/p: '198.18.0.300' is not an IP address"},
      {"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\n"
       "spec: {host: a, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}}}\n",
       "t.yaml:4:64: field 'spec.trafficPolicy.loadBalancer.consistentHash': DestinationRule default/d: needs exactly "
       "one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName"},
      {"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\n"
       "spec: {host: a, trafficPolicy: {loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}}}\n",
       "t.yaml:4:47: field 'spec.trafficPolicy.loadBalancer': DestinationRule default/d: simple and consistentHash "
       "cannot both be set"},
      {"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
       "spec: {hosts: [a], http: [{route: [{destination: {host: a}}], retries: {attempts: 2, retryOn: \"5xx,99999999999\"}}]}\n",
       "t.yaml:4:72: field 'spec.http[0].retries.retryOn': VirtualService default/v: '99999999999' is neither a retry "
       "condition (5xx, gateway-error, connect-failure, ...) nor an HTTP status code"},
      {"kind: Pod\nmetadata: {name: p}\n", "t.yaml:1:1: field 'apiVersion': is required"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p\n", "t.yaml:4:1: YAML syntax error: end of map flow not found"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nextra: 1\n", "t.yaml:4:1: field 'extra': Pod default/p: unknown field"},
  };
  for (const auto& c : cases) {
    auto r = parseDocuments(c.yaml, "t.yaml");
    ASSERT_FALSE(r.issues.empty()) << "expected an error for:\n" << c.yaml;
    EXPECT_EQ(r.issues[0].toString(), c.expected) << "for:\n" << c.yaml;
  }
}

TEST(ParseErrorsTest, EveryProblemInADocumentIsReported) {
  auto r = parseDocuments(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p}
spec:
  action: NOPE
  rulez: []
  selector: {matchLabel: {a: b}}
)",
                          "multi.yaml");
  EXPECT_EQ(r.issues.size(), 3u);
}

}  // namespace
}  // namespace ambit::controlplane
