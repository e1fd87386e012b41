// L7 authorization tables: Istio's ALLOW/DENY/AUDIT semantics, patterns,
// sources, operations, conditions, repeated headers (hardening.md 6), fields
// that cannot be checked, and dry runs.
#include "waypoint/authz/http_authz.h"

#include <functional>

#include <gtest/gtest.h>

namespace ambit::waypoint::authz {
namespace {

av1::HttpPolicy policy(const std::string& name, av1::HttpPolicy::Action action) {
  av1::HttpPolicy p;
  p.set_namespace_("demo");
  p.set_name(name);
  p.set_action(action);
  return p;
}

RequestAttributes request(const std::string& method, const std::string& path,
                          const std::vector<route::Header>* headers = nullptr) {
  RequestAttributes r;
  r.principal = "cluster.local/ns/demo/sa/client";
  r.source_namespace = "demo";
  r.source_ip = "198.18.1.10";
  r.destination_ip = "198.18.2.10";
  r.port = 8080;
  r.host = "backend.demo.svc.cluster.local";
  r.method = method;
  r.path = path;
  r.headers = headers;
  return r;
}

TEST(PatternTest, Table) {
  EXPECT_TRUE(patternMatches("/admin", "/admin"));
  EXPECT_FALSE(patternMatches("/admin", "/admin/"));
  EXPECT_TRUE(patternMatches("/admin*", "/admin/x"));
  EXPECT_TRUE(patternMatches("*.css", "/a/b.css"));
  EXPECT_TRUE(patternMatches("*", ""));
  EXPECT_FALSE(patternMatches("GET", "get"));
  EXPECT_TRUE(patternMatches("Backend.Demo*", "backend.demo.svc", true));
}

TEST(IpBlockTest, Table) {
  EXPECT_TRUE(ipInBlock("198.18.0.0/15", "198.19.255.1"));
  EXPECT_FALSE(ipInBlock("198.18.0.0/16", "198.19.0.1"));
  EXPECT_TRUE(ipInBlock("198.18.1.10", "198.18.1.10"));
  EXPECT_FALSE(ipInBlock("198.18.1.10", "198.18.1.11"));
  EXPECT_TRUE(ipInBlock("2001:db8::/32", "2001:db8:1::5"));
  EXPECT_FALSE(ipInBlock("2001:db8::/32", "198.18.0.1"));
  EXPECT_FALSE(ipInBlock("not-an-ip", "198.18.0.1"));
  EXPECT_FALSE(ipInBlock("198.18.0.0/x", "203.0.113.1"));  // malformed: matches nothing, not everything
  EXPECT_FALSE(ipInBlock("198.18.0.0/33", "198.18.0.1"));
  EXPECT_TRUE(ipInBlock("198.18.0.0/16", "::ffff:198.18.4.4"));  // a v4-mapped source is the v4 address
}

TEST(DecideTest, DenyWinsThenAllowMustMatch) {
  auto deny = policy("no-admin", av1::HttpPolicy::DENY);
  deny.add_rules()->add_to()->add_paths("/admin*");
  auto allow = policy("get-only", av1::HttpPolicy::ALLOW);
  auto* rule = allow.add_rules();
  rule->add_from()->add_principals("cluster.local/ns/demo/sa/client");
  rule->add_to()->add_methods("GET");
  std::vector<const av1::HttpPolicy*> ps{&deny, &allow};

  EXPECT_TRUE(decide(ps, request("GET", "/items")).allowed);
  auto d = decide(ps, request("GET", "/admin/users"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by DENY policy demo/no-admin");
  d = decide(ps, request("POST", "/items"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "no ALLOW policy matched");
  auto plaintext = request("GET", "/items");
  plaintext.principal.reset();
  EXPECT_FALSE(decide(ps, plaintext).allowed);  // no identity: the principal rule cannot hold
  EXPECT_TRUE(decide({}, request("DELETE", "/x")).allowed);
}

TEST(DecideTest, EmptyPoliciesAndEmptyRules) {
  auto allow_nothing = policy("allow-nothing", av1::HttpPolicy::ALLOW);  // no rules
  EXPECT_FALSE(decide({&allow_nothing}, request("GET", "/")).allowed);
  auto allow_all = policy("allow-all", av1::HttpPolicy::ALLOW);
  allow_all.add_rules();  // rules: [{}]
  EXPECT_TRUE(decide({&allow_nothing, &allow_all}, request("GET", "/")).allowed);
  auto deny_nothing = policy("deny-nothing", av1::HttpPolicy::DENY);
  EXPECT_TRUE(decide({&deny_nothing}, request("GET", "/")).allowed);
  auto deny_all = policy("deny-all", av1::HttpPolicy::DENY);
  deny_all.add_rules();
  EXPECT_FALSE(decide({&deny_all, &allow_all}, request("GET", "/")).allowed);
}

TEST(DecideTest, OperationFields) {
  auto p = policy("ops", av1::HttpPolicy::ALLOW);
  auto* to = p.add_rules()->add_to();
  to->add_hosts("BACKEND.demo.svc.cluster.local");
  to->add_ports("8080");
  to->add_not_paths("/private*");
  std::vector<const av1::HttpPolicy*> ps{&p};
  EXPECT_TRUE(decide(ps, request("GET", "/public")).allowed);  // host compared case-insensitively
  EXPECT_FALSE(decide(ps, request("GET", "/private/x")).allowed);
  auto other_port = request("GET", "/public");
  other_port.port = 9090;
  EXPECT_FALSE(decide(ps, other_port).allowed);
  // "host:*" (Istio's advice for any port) matches the authority with its port.
  auto deny = policy("admin-host", av1::HttpPolicy::DENY);
  deny.add_rules()->add_to()->add_hosts("admin.demo:*");
  auto r = request("GET", "/");
  r.host = "admin.demo";
  r.authority = "admin.demo:80";
  EXPECT_FALSE(decide({&deny}, r).allowed);
}

// A TCP connection the waypoint passes through has no HTTP attributes: a rule
// naming HTTP-only fields never grants, and a DENY holds on its L4 part alone.
TEST(DecideTest, TcpConnectionsSeeOnlyL4Fields) {
  RequestAttributes tcp = request("", "");
  tcp.host.clear();
  tcp.port = 9090;
  tcp.l4_only = true;

  auto allow_get = policy("allow-get", av1::HttpPolicy::ALLOW);
  allow_get.add_rules()->add_to()->add_methods("GET");
  EXPECT_FALSE(decide({&allow_get}, tcp).allowed);
  auto allow_client = policy("allow-client", av1::HttpPolicy::ALLOW);
  auto* rule = allow_client.add_rules();
  rule->add_from()->add_principals("cluster.local/ns/demo/sa/client");
  rule->add_to()->add_ports("9090");
  EXPECT_TRUE(decide({&allow_get, &allow_client}, tcp).allowed);
  auto other_port = tcp;
  other_port.port = 9091;
  EXPECT_FALSE(decide({&allow_client}, other_port).allowed);
  // A rule naming an HTTP field anywhere never grants, though another of its
  // operations (or sources) is pure L4 (Istio skips the whole rule on TCP).
  auto mixed = policy("mixed", av1::HttpPolicy::ALLOW);
  auto* mr = mixed.add_rules();
  mr->add_to()->add_methods("GET");
  mr->add_to()->add_ports("9090");
  EXPECT_FALSE(decide({&mixed}, tcp).allowed);
  auto mixed_from = policy("mixed-from", av1::HttpPolicy::ALLOW);
  auto* mf = mixed_from.add_rules();
  mf->add_from()->add_request_principals("*");
  mf->add_from()->add_principals("cluster.local/ns/demo/sa/client");
  EXPECT_FALSE(decide({&mixed_from}, tcp).allowed);
  EXPECT_TRUE(decide({&mixed_from}, request("GET", "/")).allowed);  // HTTP: the principal alone grants

  struct Case {
    const char* name;
    std::function<void(av1::Rule&)> rule;
    bool denied;
  } cases[] = {
      {"paths", [](av1::Rule& r) { r.add_to()->add_paths("/admin*"); }, true},
      {"methods+ports", [](av1::Rule& r) { auto* o = r.add_to(); o->add_methods("POST"); o->add_ports("9090"); }, true},
      {"methods+other port",
       [](av1::Rule& r) { auto* o = r.add_to(); o->add_methods("POST"); o->add_ports("8080"); }, false},
      {"header condition",
       [](av1::Rule& r) {
         auto* c = r.add_when();
         c->set_key("request.headers[x-user]");
         c->add_values("mallory");
       },
       true},
      {"principal", [](av1::Rule& r) { r.add_from()->add_principals("cluster.local/ns/demo/sa/client"); }, true},
      {"other principal", [](av1::Rule& r) { r.add_from()->add_principals("cluster.local/ns/demo/sa/other"); }, false},
  };
  for (const auto& c : cases) {
    auto deny = policy("deny", av1::HttpPolicy::DENY);
    c.rule(*deny.add_rules());
    EXPECT_EQ(!decide({&deny}, tcp).allowed, c.denied) << c.name;
    auto allow = policy("allow", av1::HttpPolicy::ALLOW);
    c.rule(*allow.add_rules());
    // ALLOW with an HTTP field never grants a TCP connection.
    bool http_field = std::string(c.name).find("principal") == std::string::npos;
    if (http_field) {
      EXPECT_FALSE(decide({&allow}, tcp).allowed) << c.name;
    }
  }
}

TEST(DecideTest, RepeatedHeadersCannotSlipPastARule) {
  auto deny = policy("no-admin-user", av1::HttpPolicy::DENY);
  auto* c = deny.add_rules()->add_when();
  c->set_key("request.headers[X-User]");
  c->add_values("admin");
  auto allow = policy("only-guest", av1::HttpPolicy::ALLOW);
  auto* a = allow.add_rules()->add_when();
  a->set_key("request.headers[x-user]");
  a->add_values("guest");
  std::vector<route::Header> admin_second{{"x-user", "guest"}, {"x-user", "admin"}};
  std::vector<route::Header> guest_twice{{"x-user", "guest"}, {"x-user", "guest"}};
  std::vector<route::Header> joined{{"x-user", "guest,admin"}};
  std::vector<route::Header> joined_spaced{{"x-user", "guest , admin"}};
  std::vector<route::Header> none;
  EXPECT_FALSE(decide({&deny}, request("GET", "/", &admin_second)).allowed);  // any value matches DENY
  // A backend may split a comma-joined value: each element counts for DENY.
  EXPECT_FALSE(decide({&deny}, request("GET", "/", &joined)).allowed);
  EXPECT_FALSE(decide({&deny}, request("GET", "/", &joined_spaced)).allowed);
  EXPECT_FALSE(decide({&allow}, request("GET", "/", &joined)).allowed);        // not every value is "guest"
  EXPECT_FALSE(decide({&allow}, request("GET", "/", &admin_second)).allowed);  // ALLOW needs every value
  EXPECT_TRUE(decide({&allow}, request("GET", "/", &guest_twice)).allowed);
  EXPECT_FALSE(decide({&allow}, request("GET", "/", &none)).allowed);
}

TEST(DecideTest, ConditionsOnSourceAndDestination) {
  auto p = policy("cond", av1::HttpPolicy::ALLOW);
  auto* rule = p.add_rules();
  auto* ip = rule->add_when();
  ip->set_key("source.ip");
  ip->add_values("198.18.1.0/24");
  auto* ns = rule->add_when();
  ns->set_key("source.namespace");
  ns->add_not_values("legacy");
  EXPECT_TRUE(decide({&p}, request("GET", "/")).allowed);
  auto far = request("GET", "/");
  far.source_ip = "198.18.3.10";
  EXPECT_FALSE(decide({&p}, far).allowed);
  // A notValues condition on the source holds for a plaintext request (as a
  // negated principal matcher does in Istio).
  auto deny = policy("outside-prod", av1::HttpPolicy::DENY);
  auto* w = deny.add_rules()->add_when();
  w->set_key("source.namespace");
  w->add_not_values("prod");
  auto plaintext = request("GET", "/");
  plaintext.principal.reset();
  EXPECT_FALSE(decide({&deny}, plaintext).allowed);
}

TEST(DecideTest, FieldsThatCannotBeCheckedNeverGrantAndStillDeny) {
  auto jwt_allow = policy("jwt", av1::HttpPolicy::ALLOW);
  jwt_allow.add_rules()->add_from()->add_request_principals("issuer/subject");
  EXPECT_FALSE(decide({&jwt_allow}, request("GET", "/")).allowed);
  auto jwt_deny = policy("jwt-deny", av1::HttpPolicy::DENY);
  auto* r = jwt_deny.add_rules();
  r->add_from()->add_request_principals("issuer/subject");
  r->add_to()->add_paths("/admin");
  EXPECT_FALSE(decide({&jwt_deny}, request("GET", "/admin")).allowed);  // enforced without the JWT part
  EXPECT_TRUE(decide({&jwt_deny}, request("GET", "/other")).allowed);
  auto unknown = policy("claims", av1::HttpPolicy::ALLOW);
  auto* w = unknown.add_rules()->add_when();
  w->set_key("request.auth.claims[group]");
  w->add_values("admins");
  EXPECT_FALSE(decide({&unknown}, request("GET", "/")).allowed);
}

TEST(DecideTest, DryRunIsReportedNotEnforcedAndAuditMarks) {
  auto dry = policy("would-deny", av1::HttpPolicy::DENY);
  dry.set_dry_run(true);
  dry.add_rules();
  auto audit = policy("audit-all", av1::HttpPolicy::AUDIT);
  audit.add_rules();
  auto d = decide({&dry, &audit}, request("GET", "/"));
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.audit);
  ASSERT_EQ(d.dry_run.size(), 1u);
  EXPECT_EQ(d.dry_run[0], "demo/would-deny would match");
}

}  // namespace
}  // namespace ambit::waypoint::authz
