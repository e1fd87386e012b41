// Per-request decision tables: weighted choice (and its measured split),
// retry-on conditions, backoff bounds, faults, header operations, rewrites and
// redirects.
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "waypoint/route/decide.h"

namespace ambit::waypoint::route {
namespace {

TEST(PickWeightedTest, DrawsFallOnTheirShare) {
  std::vector<uint32_t> w{90, 10};
  EXPECT_EQ(pickWeighted(w, 0.0), 0u);
  EXPECT_EQ(pickWeighted(w, 0.8999), 0u);
  EXPECT_EQ(pickWeighted(w, 0.9), 1u);
  EXPECT_EQ(pickWeighted(w, 0.99999), 1u);
  EXPECT_EQ(pickWeighted(w, 1.0), 1u);  // clamped into [0, 1)
  EXPECT_EQ(pickWeighted({0, 5, 0}, 0.5), 1u);
  EXPECT_EQ(pickWeighted({0, 0}, 0.5), std::nullopt);
  EXPECT_EQ(pickWeighted({}, 0.5), std::nullopt);
}

TEST(PickWeightedTest, UniformDrawsGiveTheWeights) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint32_t> w{70, 20, 10};
  std::map<std::size_t, int> n;
  for (int i = 0; i < 100000; ++i) n[*pickWeighted(w, u(rng))]++;
  EXPECT_NEAR(n[0] / 1000.0, 70, 1);
  EXPECT_NEAR(n[1] / 1000.0, 20, 1);
  EXPECT_NEAR(n[2] / 1000.0, 10, 1);
}

TEST(TcpDestinationTest, FirstRouteForThePortPicksByWeight) {
  rv1::HostConfig h;
  auto* on_9000 = h.add_tcp_routes();
  on_9000->set_port(9000);
  auto* d = on_9000->add_destinations();
  d->set_host("only-9000");
  d->set_weight(100);
  auto* any = h.add_tcp_routes();
  for (auto [host, weight] : {std::pair{"v1", 80u}, std::pair{"v2", 20u}}) {
    auto* x = any->add_destinations();
    x->set_host(host);
    x->set_weight(weight);
  }
  EXPECT_EQ(tcpDestination(h, 9000, 0.99)->host(), "only-9000");
  EXPECT_EQ(tcpDestination(h, 9001, 0.5)->host(), "v1");
  EXPECT_EQ(tcpDestination(h, 9001, 0.85)->host(), "v2");
  rv1::HostConfig none;
  EXPECT_EQ(tcpDestination(none, 9000, 0.5), nullptr);
  rv1::HostConfig other_port;
  other_port.add_tcp_routes()->set_port(1);
  EXPECT_EQ(tcpDestination(other_port, 9000, 0.5), nullptr);
}

rv1::Retry retryOn(std::vector<std::string> on, std::vector<uint32_t> codes = {}) {
  rv1::Retry r;
  r.set_attempts(2);
  for (auto& o : on) r.add_retry_on(o);
  for (auto c : codes) r.add_retriable_status_codes(c);
  return r;
}

TEST(RetriableTest, Conditions) {
  using F = AttemptOutcome::Failure;
  struct Case {
    std::vector<std::string> on;
    AttemptOutcome outcome;
    bool want;
  } cases[] = {
      {{"5xx"}, {503, F::kNone, -1}, true},
      {{"5xx"}, {0, F::kReset, -1}, true},
      {{"5xx"}, {0, F::kPerTryTimeout, -1}, true},
      {{"5xx"}, {404, F::kNone, -1}, false},
      // The stream idle timeout ends the request, whatever retry_on says.
      {{"5xx", "reset", "gateway-error"}, {0, F::kStreamIdle, -1}, false},
      {{"gateway-error"}, {502, F::kNone, -1}, true},
      {{"gateway-error"}, {500, F::kNone, -1}, false},
      {{"gateway-error"}, {0, F::kPerTryTimeout, -1}, true},
      {{"gateway-error"}, {0, F::kReset, -1}, true},
      {{"reset"}, {0, F::kReset, -1}, true},
      {{"reset"}, {0, F::kConnectFailure, -1}, true},
      {{"reset"}, {503, F::kNone, -1}, false},
      {{"connect-failure"}, {0, F::kConnectFailure, -1}, true},
      {{"connect-failure"}, {503, F::kNone, -1}, false},
      {{"retriable-4xx"}, {409, F::kNone, -1}, true},
      {{"refused-stream"}, {0, F::kRefusedStream, -1}, true},
      {{"retriable-status-codes"}, {503, F::kNone, -1}, false},  // no codes listed
      {{"unavailable"}, {200, F::kNone, 14}, true},
      {{"cancelled"}, {200, F::kNone, 14}, false},
      {{"418"}, {418, F::kNone, -1}, true},
      {{"99999999999"}, {503, F::kNone, -1}, false},  // not a status code: ignored, never thrown
      {{}, {503, F::kNone, -1}, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(retriable(retryOn(c.on), c.outcome), c.want)
        << (c.on.empty() ? "<none>" : c.on[0]) << " status " << c.outcome.status;
  }
  EXPECT_TRUE(retriable(retryOn({"retriable-status-codes"}, {503}), {503, F::kNone, -1}));
}

TEST(RetryBackoffTest, FullJitterUnderADoublingCap) {
  rv1::Retry r;  // defaults: 25 ms base, 250 ms cap
  EXPECT_EQ(retryBackoff(r, 1, 0.0).count(), 0);
  EXPECT_EQ(retryBackoff(r, 1, 0.99999).count(), 24);
  EXPECT_EQ(retryBackoff(r, 2, 0.99999).count(), 49);
  EXPECT_EQ(retryBackoff(r, 10, 0.99999).count(), 249);
  r.set_base_backoff_ms(100);
  r.set_max_backoff_ms(50);  // a cap below the base is the base
  EXPECT_EQ(retryBackoff(r, 3, 0.5).count(), 50);
}

TEST(DecideFaultTest, PercentagesGateDelayAndAbort) {
  rv1::Fault f;
  f.set_delay_ms(200);
  f.set_delay_percent(50);
  f.set_abort_status(503);
  f.set_abort_percent(10);
  auto d = decideFault(f, 0.49, 0.09);
  EXPECT_EQ(d.delay.count(), 200);
  EXPECT_EQ(d.abort_status, 503);
  d = decideFault(f, 0.5, 0.1);
  EXPECT_EQ(d.delay.count(), 0);
  EXPECT_EQ(d.abort_status, 0);
  EXPECT_EQ(decideFault(rv1::Fault(), 0, 0).abort_status, 0);
}

TEST(HeaderOpsTest, RemoveThenSetThenAdd) {
  std::vector<Header> h{{"x-a", "1"}, {"x-a", "2"}, {"x-b", "keep"}, {"x-gone", "z"}};
  rv1::HeaderOps ops;
  ops.add_remove("X-Gone");
  (*ops.mutable_set())["X-A"] = "only";
  (*ops.mutable_add())["x-b"] = "more";
  applyHeaderOps(ops, h);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& x : h) got.emplace_back(x.name, x.value);
  std::vector<std::pair<std::string, std::string>> want{{"x-b", "keep"}, {"x-a", "only"}, {"x-b", "more"}};
  EXPECT_EQ(got, want);
}

rv1::RouteMatch pathMatch(rv1::StringMatch::Kind k, const std::string& v) {
  rv1::RouteMatch m;
  m.mutable_path()->set_kind(k);
  m.mutable_path()->set_value(v);
  return m;
}

TEST(RewritePathTest, PrefixAndFullPath) {
  using K = rv1::StringMatch;
  struct Case {
    K::Kind kind;
    std::string match, with, path, want;
  } cases[] = {
      {K::PATH_PREFIX, "/foo", "/xyz", "/foo/bar", "/xyz/bar"},
      {K::PATH_PREFIX, "/foo", "/xyz/", "/foo/bar", "/xyz/bar"},
      {K::PATH_PREFIX, "/foo/", "/xyz", "/foo/bar", "/xyz/bar"},
      {K::PATH_PREFIX, "/foo", "/", "/foo/bar", "/bar"},
      {K::PATH_PREFIX, "/foo", "/", "/foo", "/"},
      {K::PATH_PREFIX, "/", "/v2", "/bar", "/v2/bar"},
      {K::PREFIX, "/foo", "/xyz", "/foobar", "/xyzbar"},  // Envoy's plain replacement
      {K::EXACT, "/old", "/new", "/old", "/new"},
      {K::REGEX, "/o.*", "/new", "/old", "/old"},
  };
  for (const auto& c : cases) {
    rv1::Rewrite rw;
    rw.set_path_prefix(c.with);
    auto m = pathMatch(c.kind, c.match);
    EXPECT_EQ(rewritePath(rw, &m, c.path), c.want) << c.match << " -> " << c.with << " on " << c.path;
  }
  rv1::Rewrite full;
  full.set_full_path("/health");
  EXPECT_EQ(rewritePath(full, nullptr, "/anything"), "/health");
  EXPECT_EQ(rewritePath(rv1::Rewrite(), nullptr, "/same"), "/same");
}

TEST(RedirectLocationTest, KeepsWhatIsNotReplaced) {
  rv1::Redirect r;
  r.set_scheme("https");
  r.set_port(8443);
  EXPECT_EQ(redirectLocation(r, nullptr, "http", "shop.demo:80", "/cart", "id=1"),
            "https://shop.demo:8443/cart?id=1");
  rv1::Redirect p;
  p.set_path("/v2/cart");
  p.set_authority("new.demo");
  EXPECT_EQ(redirectLocation(p, nullptr, "http", "shop.demo", "/cart", ""), "http://new.demo/v2/cart");
}

TEST(UpstreamHttp2Test, PortProtocolThenThePolicyThenTheClient) {
  using istio::workload::AppProtocol;
  rv1::TrafficPolicy none, upgrade, keep, client;
  upgrade.set_h2_upgrade(rv1::TrafficPolicy::H2_UPGRADE);
  keep.set_h2_upgrade(rv1::TrafficPolicy::H2_DO_NOT_UPGRADE);
  client.set_use_client_protocol(true);
  struct Case {
    AppProtocol port;
    const rv1::TrafficPolicy* policy;
    bool client_h2;
    bool want;
  } cases[] = {
      {AppProtocol::GRPC, &none, false, true},     {AppProtocol::HTTP2, &keep, false, true},
      {AppProtocol::GRPC, &upgrade, false, true},  {AppProtocol::HTTP11, &none, true, false},
      {AppProtocol::HTTP11, &keep, true, false},   {AppProtocol::HTTP11, &upgrade, false, true},
      {AppProtocol::HTTP11, &client, true, true},  {AppProtocol::HTTP11, &client, false, false},
      {AppProtocol::UNKNOWN, &none, true, true},   {AppProtocol::UNKNOWN, &none, false, false},
      // useClientProtocol wins over a declared port; a sniffed port is never upgraded.
      {AppProtocol::GRPC, &client, false, false},  {AppProtocol::GRPC, &client, true, true},
      {AppProtocol::UNKNOWN, &upgrade, false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(upstreamHttp2(c.port, *c.policy, c.client_h2), c.want)
        << "port " << c.port << " h2_upgrade " << c.policy->h2_upgrade() << " client_protocol "
        << c.policy->use_client_protocol() << " client_h2 " << c.client_h2;
  }
}

TEST(GrpcTest, ContentTypesStatusesAndMessages) {
  EXPECT_TRUE(isGrpc("application/grpc"));
  EXPECT_TRUE(isGrpc("application/grpc+proto"));
  EXPECT_TRUE(isGrpc("Application/GRPC;charset=utf-8"));
  EXPECT_FALSE(isGrpc("application/grpc-web"));
  EXPECT_FALSE(isGrpc("application/grpcx"));
  EXPECT_FALSE(isGrpc("application/json"));
  EXPECT_FALSE(isGrpc(""));
  std::pair<int, int> statuses[] = {{400, 13}, {401, 16}, {403, 7}, {404, 12}, {429, 14},
                                    {502, 14}, {503, 14}, {504, 14}, {500, 2},  {418, 2}};
  for (auto [http_status, grpc] : statuses) EXPECT_EQ(grpcStatusForHttp(http_status), grpc) << http_status;
  EXPECT_EQ(grpcStatusValue("0"), 0);
  EXPECT_EQ(grpcStatusValue("14"), 14);
  EXPECT_EQ(grpcStatusValue(""), -1);
  EXPECT_EQ(grpcStatusValue("-1"), -1);
  EXPECT_EQ(grpcStatusValue("1a"), -1);
  EXPECT_EQ(grpcStatusValue("1000"), -1);
  EXPECT_EQ(grpcMessage("RBAC: access denied"), "RBAC: access denied");
  EXPECT_EQ(grpcMessage("100% d\xc3\xa9j\xc3\xa0\n"), "100%25 d%C3%A9j%C3%A0%0A");
}

}  // namespace
}  // namespace ambit::waypoint::route
