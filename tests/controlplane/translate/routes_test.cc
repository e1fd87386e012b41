// Model -> waypoint route configuration (ambit.route.v1.HostConfig).
#include <gtest/gtest.h>

#include <algorithm>

#include "controlplane/translate/translate.h"
#include "snapshot_util.h"

namespace ambit::controlplane {
namespace {

namespace rt = ambit::route::v1;
using testutil::snapshotOf;

const char* kServices = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 198.19.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {clusterIP: 198.19.0.11, selector: {app: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
spec: {clusterIP: 198.19.0.12, selector: {app: api}, ports: [{name: http, port: 80}]}
---
)";

const std::string kReviews = "reviews.shop.svc.cluster.local";
const std::string kRatings = "ratings.shop.svc.cluster.local";

struct Result {
  std::map<std::string, rt::HostConfig> routes;
  std::vector<std::string> warnings;
  bool warned(const std::string& needle) const {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const std::string& w) { return w.find(needle) != std::string::npos; });
  }
};

Result run(const std::string& yaml) {
  Snapshot snap = snapshotOf(std::string(kServices) + yaml);
  Result r;
  r.routes = translateRoutes(snap, MeshSettings{}, r.warnings);
  return r;
}

TEST(RoutesTest, HostNames) {
  MeshSettings mesh;
  struct Case {
    const char* host;
    const char* ns;
    const char* want;
  } cases[] = {
      {"reviews", "shop", "reviews.shop.svc.cluster.local"},
      {"reviews.shop.svc.cluster.local", "other", "reviews.shop.svc.cluster.local"},
      {"reviews.shop", "other", "reviews.shop"},  // dotted names are taken as written, as Istio does
      {"*.shop.svc.cluster.local", "x", "*.shop.svc.cluster.local"},
      {"*", "x", "*"},
  };
  for (const auto& c : cases) EXPECT_EQ(resolveHost(mesh, c.host, c.ns), c.want) << c.host;

  struct Match {
    const char* pattern;
    const char* host;
    bool want;
  } matches[] = {
      {"*", "anything.example", true},
      {"*.shop.svc.cluster.local", kReviews.c_str(), true},
      {"*.svc.cluster.local", kReviews.c_str(), true},
      {"*.shop.svc.cluster.local", "shop.svc.cluster.local", false},
      {"*.other.svc.cluster.local", kReviews.c_str(), false},
      {kReviews.c_str(), kReviews.c_str(), true},
      {kReviews.c_str(), kRatings.c_str(), false},
  };
  for (const auto& m : matches) EXPECT_EQ(hostMatches(m.pattern, m.host), m.want) << m.pattern << " vs " << m.host;
}

TEST(RoutesTest, VirtualServiceCanaryWithSubsetsFaultsAndRetries) {
  auto r = run(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {End-User: {exact: jason}}, uri: {prefix: /api}, ignoreUriCase: true}]
    route: [{destination: {host: reviews, subset: v2}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 25}}}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,gateway-error,503"}
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v3}, weight: 10}
    timeout: 1500ms
    mirror: {host: ratings}
    mirrorPercentage: {value: 5}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 5s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: X-User}}}
)");
  ASSERT_EQ(r.routes.count(kReviews), 1u);
  const rt::HostConfig& cfg = r.routes.at(kReviews);
  EXPECT_EQ(cfg.namespace_(), "shop");
  ASSERT_EQ(cfg.http_routes_size(), 2);

  const rt::HttpRoute& jason = cfg.http_routes(0);
  EXPECT_EQ(jason.name(), "VirtualService/shop/reviews/jason#0");
  ASSERT_EQ(jason.matches_size(), 1);
  EXPECT_EQ(jason.matches(0).path().kind(), rt::StringMatch::PREFIX);
  EXPECT_TRUE(jason.matches(0).path().ignore_case());
  ASSERT_EQ(jason.matches(0).headers_size(), 1);
  EXPECT_EQ(jason.matches(0).headers(0).name(), "end-user");  // header names compare lower-case
  ASSERT_EQ(jason.destinations_size(), 1);
  EXPECT_EQ(jason.destinations(0).weight(), 100u);  // a lone destination takes everything
  EXPECT_EQ(jason.destinations(0).subset_labels().at("version"), "v2");
  EXPECT_EQ(jason.fault().abort_status(), 418u);
  EXPECT_DOUBLE_EQ(jason.fault().abort_percent(), 25);
  EXPECT_EQ(jason.retry().attempts(), 3u);
  EXPECT_EQ(jason.retry().per_try_timeout_ms(), 2000u);
  EXPECT_EQ(std::vector<std::string>(jason.retry().retry_on().begin(), jason.retry().retry_on().end()),
            (std::vector<std::string>{"5xx", "gateway-error", "retriable-status-codes"}));
  EXPECT_EQ(std::vector<uint32_t>(jason.retry().retriable_status_codes().begin(),
                                  jason.retry().retriable_status_codes().end()),
            std::vector<uint32_t>{503});

  const rt::HttpRoute& canary = cfg.http_routes(1);
  EXPECT_EQ(canary.matches_size(), 0);  // every request
  ASSERT_EQ(canary.destinations_size(), 2);
  EXPECT_EQ(canary.destinations(0).weight(), 90u);
  EXPECT_EQ(canary.destinations(0).subset_labels().at("version"), "v1");
  EXPECT_EQ(canary.destinations(1).weight(), 10u);
  EXPECT_NE(canary.destinations(1).unresolved().find("subset v3"), std::string::npos);  // no such subset
  EXPECT_TRUE(r.warned("subset v3 of host reviews.shop.svc.cluster.local is not defined"));
  EXPECT_EQ(canary.timeout_ms(), 1500u);
  // Istio's default retry policy applies when the route says nothing.
  EXPECT_EQ(canary.retry().attempts(), 2u);
  EXPECT_EQ(canary.retry().retriable_status_codes(0), 503u);
  ASSERT_EQ(canary.mirrors_size(), 1);
  EXPECT_EQ(canary.mirrors(0).destination().host(), kRatings);
  EXPECT_DOUBLE_EQ(canary.mirrors(0).percent(), 5);

  // DestinationRule: host policy, and the subset's policy merged over it.
  EXPECT_EQ(cfg.policy().load_balancer(), rt::TrafficPolicy::ROUND_ROBIN);
  EXPECT_EQ(cfg.policy().consecutive_5xx_errors(), 3u);
  ASSERT_EQ(cfg.subsets_size(), 2);
  EXPECT_EQ(cfg.subsets(0).policy().load_balancer(), rt::TrafficPolicy::ROUND_ROBIN);
  EXPECT_EQ(cfg.subsets(1).policy().load_balancer(), rt::TrafficPolicy::CONSISTENT_HASH);
  EXPECT_EQ(cfg.subsets(1).policy().consistent_hash().header(), "x-user");
  EXPECT_EQ(cfg.subsets(1).policy().consecutive_5xx_errors(), 3u);  // inherited
  EXPECT_EQ(cfg.subsets(1).policy().base_ejection_time_ms(), 30000u);
  EXPECT_EQ(std::vector<std::string>(cfg.sources().begin(), cfg.sources().end()),
            (std::vector<std::string>{"DestinationRule/shop/reviews", "VirtualService/shop/reviews"}));
}

TEST(RoutesTest, WhichVirtualServicesApply) {
  auto r = run(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a-first, namespace: shop}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b-second, namespace: shop}
spec: {hosts: [reviews.shop.svc.cluster.local], http: [{route: [{destination: {host: ratings}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ingress-only, namespace: shop}
spec: {hosts: [ratings], gateways: [shop/ingress], http: [{route: [{destination: {host: ratings}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-and-ingress, namespace: other}
spec: {hosts: [api], gateways: [mesh, other/ingress], tcp: [{route: [{destination: {host: api}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external, namespace: shop}
spec: {hosts: [nowhere.example.com], http: [{route: [{destination: {host: nowhere.example.com}}]}]}
)");
  // Two for one host: the first by namespace/name wins, the other is reported.
  ASSERT_EQ(r.routes.at(kReviews).http_routes_size(), 1);
  EXPECT_EQ(r.routes.at(kReviews).http_routes(0).destinations(0).host(), kReviews);
  EXPECT_TRUE(r.warned("VirtualService/shop/b-second is ignored for host reviews.shop.svc.cluster.local"));
  // Bound only to an ingress gateway: not the mesh's business.
  EXPECT_EQ(r.routes.count(kRatings), 0u);
  // "mesh" among the gateways: applies; TCP routes too.
  ASSERT_EQ(r.routes.count("api.other.svc.cluster.local"), 1u);
  EXPECT_EQ(r.routes.at("api.other.svc.cluster.local").tcp_routes_size(), 1);
  EXPECT_TRUE(r.warned("host 'nowhere.example.com' names no service in the mesh"));
}

TEST(RoutesTest, HttpRoutePrecedenceFollowsGatewayApi) {
  auto r = run(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: b-route, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs: [{name: reviews, port: 9080}]                        # no match = PathPrefix /
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: reviews, port: 9080, weight: 90}, {name: ratings, port: 9080, weight: 10}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
    backendRefs: [{name: ratings, port: 9080}]
  - matches: [{path: {type: Exact, value: /}}]
    backendRefs: [{name: ratings, port: 9080, weight: 0}]             # no weight left: 500
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: a-route, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: X-Canary, value: "yes"}]}]
    backendRefs: [{name: reviews}]                                    # no port: unresolved
    timeouts: {request: 3s, backendRequest: 1s}
  - matches: [{path: {type: PathPrefix, value: /api/v2/items}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: new.example, statusCode: 301}}]
)");
  ASSERT_EQ(r.routes.count(kReviews), 1u);
  const auto& routes = r.routes.at(kReviews).http_routes();
  std::vector<std::string> order;
  for (const auto& route : routes) order.push_back(route.name());
  EXPECT_EQ(order, (std::vector<std::string>{
                       "HTTPRoute/shop/b-route#3.0",  // Exact first
                       "HTTPRoute/shop/a-route#1.0",  // then the longest prefix
                       "HTTPRoute/shop/b-route#2.0",  // same prefix: a method match wins
                       "HTTPRoute/shop/a-route#0.0",  // ... then more header matches
                       "HTTPRoute/shop/b-route#1.0",
                       "HTTPRoute/shop/b-route#0.0",  // PathPrefix "/" last
                   }));
  EXPECT_EQ(routes[0].direct_status(), 500u);
  EXPECT_EQ(routes[1].redirect().authority(), "new.example");
  EXPECT_EQ(routes[1].redirect().status(), 301u);
  EXPECT_EQ(routes[1].matches(0).path().kind(), rt::StringMatch::PATH_PREFIX);
  EXPECT_EQ(routes[2].matches(0).method().value(), "POST");
  EXPECT_EQ(routes[2].matches(0).port(), 9080u);  // parentRef port
  EXPECT_NE(routes[3].destinations(0).unresolved().find("needs a port"), std::string::npos);
  EXPECT_EQ(routes[3].matches(0).headers(0).name(), "x-canary");
  EXPECT_EQ(routes[3].matches(0).port(), 0u);
  EXPECT_EQ(routes[3].timeout_ms(), 3000u);
  EXPECT_EQ(routes[3].retry().per_try_timeout_ms(), 1000u);
  EXPECT_EQ(routes[4].destinations_size(), 2);
  EXPECT_EQ(routes[4].destinations(1).host(), kRatings);
  EXPECT_EQ(routes[4].destinations(1).weight(), 10u);
  EXPECT_TRUE(routes[4].destinations(1).unresolved().empty());
  EXPECT_EQ(routes[5].matches(0).path().value(), "/");
}

TEST(RoutesTest, HttpRouteParentsAndConflicts) {
  auto r = run(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec: {hosts: [reviews], http: [{route: [{destination: {host: ratings}}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{backendRefs: [{name: reviews, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-gateway, namespace: shop}
spec:
  parentRefs: [{name: ingress}]
  rules: [{backendRefs: [{name: ratings, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: consumer, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: api, namespace: other}]
  rules: [{backendRefs: [{name: ratings, port: 9080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ghost, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: "", name: ghost}]
  rules: [{backendRefs: [{name: ratings, port: 9080}]}]
)");
  // An HTTPRoute and a VirtualService for one host: the HTTPRoute routes it.
  const auto& cfg = r.routes.at(kReviews);
  ASSERT_EQ(cfg.http_routes_size(), 1);
  EXPECT_EQ(cfg.http_routes(0).destinations(0).host(), kReviews);
  EXPECT_EQ(std::vector<std::string>(cfg.sources().begin(), cfg.sources().end()),
            std::vector<std::string>{"HTTPRoute/shop/reviews"});
  EXPECT_TRUE(r.warned("VirtualService/shop/reviews is ignored for host reviews.shop.svc.cluster.local"));
  EXPECT_TRUE(r.warned("HTTPRoute/shop/to-gateway: parentRef Gateway shop/ingress is not routed by the mesh"));
  EXPECT_TRUE(r.warned("HTTPRoute/shop/consumer: consumer routes"));
  EXPECT_TRUE(r.warned("HTTPRoute/shop/ghost: parentRef Service shop/ghost does not exist"));
  EXPECT_EQ(r.routes.count("api.other.svc.cluster.local"), 0u);
}

TEST(RoutesTest, DestinationRuleChoice) {
  auto r = run(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wide, namespace: istio-system}
spec: {host: "*.shop.svc.cluster.local", trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings-elsewhere, namespace: other}
spec: {host: ratings.shop.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 10}, http: {http1MaxPendingRequests: 5}}
    loadBalancer: {simple: LEAST_REQUEST}
    outlierDetection: {consecutiveGatewayErrors: 2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: missing, namespace: shop}
spec: {host: missing}
)");
  // Exact beats wildcard; the host's own namespace beats another namespace.
  const auto& ratings = r.routes.at(kRatings);
  EXPECT_EQ(ratings.policy().load_balancer(), rt::TrafficPolicy::LEAST_REQUEST);
  EXPECT_EQ(ratings.policy().max_connections(), 10u);
  EXPECT_EQ(ratings.policy().max_pending_requests(), 5u);
  EXPECT_EQ(ratings.policy().consecutive_gateway_errors(), 2u);
  EXPECT_EQ(ratings.policy().consecutive_5xx_errors(), 0u);
  EXPECT_TRUE(r.warned("DestinationRule/other/ratings-elsewhere does not apply to host ratings.shop.svc.cluster.local"));
  // The wildcard still covers the host nobody names exactly.
  EXPECT_EQ(r.routes.at(kReviews).policy().load_balancer(), rt::TrafficPolicy::RANDOM);
  EXPECT_EQ(r.routes.count("api.other.svc.cluster.local"), 0u);
  EXPECT_TRUE(r.warned("DestinationRule/shop/missing: host 'missing' names no service"));
}

TEST(RoutesTest, DestinationRuleNamespaceBeforeSpecificityAndSectionMerge) {
  auto r = run(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: exact-in-root, namespace: istio-system}
spec: {host: reviews.shop.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all-of-shop, namespace: shop}
spec:
  host: "*.shop.svc.cluster.local"
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool: {tcp: {maxConnections: 10, idleTimeout: 0s}, http: {h2UpgradePolicy: UPGRADE}}
    retryBudget: {minRetryConcurrency: 5}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy: {connectionPool: {http: {http2MaxRequests: 50, useClientProtocol: true}}}
  - name: v3
    labels: {version: v3}
    trafficPolicy: {retryBudget: {percent: 50}}
)");
  // The host's own namespace first, even against an exact host in the root namespace.
  const auto& cfg = r.routes.at(kReviews);
  EXPECT_EQ(cfg.policy().load_balancer(), rt::TrafficPolicy::RANDOM);
  EXPECT_TRUE(r.warned("DestinationRule/istio-system/exact-in-root is ignored for host reviews.shop.svc.cluster.local"));
  // A subset's connectionPool replaces the host's whole connectionPool; other sections are inherited.
  ASSERT_EQ(cfg.subsets_size(), 2);
  EXPECT_EQ(cfg.subsets(0).policy().max_requests(), 50u);
  EXPECT_EQ(cfg.subsets(0).policy().max_connections(), 0u);
  EXPECT_EQ(cfg.subsets(0).policy().load_balancer(), rt::TrafficPolicy::RANDOM);
  // A retry budget takes Istio's defaults for what it leaves out (20 %, 3); a subset's replaces the host's.
  EXPECT_DOUBLE_EQ(cfg.policy().retry_budget().percent(), 20.0);
  EXPECT_EQ(cfg.policy().retry_budget().min_retry_concurrency(), 5u);
  EXPECT_DOUBLE_EQ(cfg.subsets(1).policy().retry_budget().percent(), 50.0);
  EXPECT_EQ(cfg.subsets(1).policy().retry_budget().min_retry_concurrency(), 3u);
  EXPECT_EQ(cfg.subsets(0).policy().retry_budget().min_retry_concurrency(), 5u);  // inherited
  EXPECT_EQ(cfg.policy().tcp_idle_timeout_ms(), UINT32_MAX) << "Istio's idleTimeout: 0s turns it off";
  // The upstream HTTP version settings go with the connection pool section.
  EXPECT_EQ(cfg.policy().h2_upgrade(), rt::TrafficPolicy::H2_UPGRADE);
  EXPECT_FALSE(cfg.policy().use_client_protocol());
  EXPECT_EQ(cfg.subsets(0).policy().h2_upgrade(), rt::TrafficPolicy::H2_DEFAULT);
  EXPECT_TRUE(cfg.subsets(0).policy().use_client_protocol());
  EXPECT_EQ(cfg.subsets(1).policy().h2_upgrade(), rt::TrafficPolicy::H2_UPGRADE);  // inherited
}

TEST(RoutesTest, CrossNamespaceBackendNeedsReferenceGrant) {
  auto r = run(R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-other, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules: [{backendRefs: [{name: api, namespace: other, port: 80}]}]
)");
  const auto& d = r.routes.at(kReviews).http_routes(0).destinations(0);
  EXPECT_NE(d.unresolved().find("needs a ReferenceGrant"), std::string::npos);
}

TEST(RoutesTest, NoRoutingMeansNoResource) {
  auto r = run("");
  EXPECT_TRUE(r.routes.empty());
  EXPECT_TRUE(r.warnings.empty());
}

}  // namespace
}  // namespace ambit::controlplane
