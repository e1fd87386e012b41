// Table tests for ztunnel's pure pieces: SOCKS5 request parsing, forwarded
// header, metric labels, xDS resource validation and the all-or-nothing
// state store, reconnect backoff and certificate refresh times.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics/istio_labels.h"
#include "common/xds/delta_client.h"
#include "tests/support/net.h"
#include "ztunnel/identity/manager.h"
#include "ztunnel/proxy/proxy.h"
#include "ztunnel/proxy/socks5.h"
#include "ztunnel/telemetry/labels.h"
#include "ztunnel/xds/state_store.h"

namespace ambit::ztunnel {
namespace {

using namespace std::chrono_literals;
using test::rawIp;

TEST(Socks5Test, ParsesConnectRequests) {
  struct Case {
    std::string bytes;
    bool ok;
    uint8_t reply;  // when refused
    std::string ip;
    uint16_t port;
  };
  const std::string v4 = std::string("\x05\x01\x00\x01", 4) + rawIp("198.18.0.1") + std::string("\x1f\x90", 2);
  const std::string v6 = std::string("\x05\x01\x00\x04", 4) + rawIp("2001:db8::1") + std::string("\x00\x50", 2);
  const Case cases[] = {
      {v4, true, 0, rawIp("198.18.0.1"), 8080},
      {v6, true, 0, rawIp("2001:db8::1"), 80},
      {std::string("\x05\x02\x00\x01", 4) + rawIp("198.18.0.1") + std::string("\x00\x50", 2), false,
       socks5::kCommandNotSupported, "", 0},  // BIND
      {std::string("\x05\x01\x00\x03\x07", 5) + "example" + std::string("\x00\x50", 2), false,
       socks5::kAddressTypeNotSupported, "", 0},  // a domain name
      {std::string("\x04\x01\x00\x01", 4) + rawIp("198.18.0.1") + std::string("\x00\x50", 2), false,
       socks5::kGeneralFailure, "", 0},  // SOCKS4
      {std::string("\x05\x01\x00\x01", 4) + rawIp("198.18.0.1") + std::string("\x00\x00", 2), false,
       socks5::kGeneralFailure, "", 0},  // port 0
  };
  for (const auto& c : cases) {
    uint8_t reply = 0xff;
    std::size_t used = 0;
    auto t = socks5::parseRequest(c.bytes, &reply, &used);
    EXPECT_EQ(t.ok(), c.ok);
    if (c.ok && t) {
      EXPECT_EQ(t->ip, c.ip);
      EXPECT_EQ(t->port, c.port);
      EXPECT_EQ(used, c.bytes.size());
    } else {
      EXPECT_EQ(reply, c.reply);
    }
  }
  uint8_t reply = 0;
  std::size_t used = 0;
  auto partial = socks5::parseRequest(v4.substr(0, 6), &reply, &used);
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.error().code, ErrorCode::kUnavailable);  // needs more bytes
}

TEST(ForwardedTest, TakesTheNearestHopsAddress) {
  EXPECT_EQ(proxy::forwardedFor("for=\"198.18.0.1\"")->to_string(), "198.18.0.1");
  EXPECT_EQ(proxy::forwardedFor("for=198.18.0.1")->to_string(), "198.18.0.1");
  EXPECT_EQ(proxy::forwardedFor("for=\"[2001:db8::7]\"")->to_string(), "2001:db8::7");
  EXPECT_EQ(proxy::forwardedFor("for=198.18.0.9, for=\"198.18.0.1\";proto=https")->to_string(), "198.18.0.1");
  EXPECT_FALSE(proxy::forwardedFor(""));
  EXPECT_FALSE(proxy::forwardedFor("for=unknown"));
  EXPECT_FALSE(proxy::forwardedFor("for=\"_hidden\""));
}

TEST(RawIpTest, RoundTripsAndUnmapsV4MappedV6) {
  auto v4 = boost::asio::ip::make_address("198.18.0.1");
  EXPECT_EQ(proxy::rawIp(v4), rawIp("198.18.0.1"));
  EXPECT_EQ(proxy::rawIp(boost::asio::ip::make_address("::ffff:198.18.0.1")), rawIp("198.18.0.1"));
  EXPECT_EQ(proxy::fromRawIp(rawIp("2001:db8::1")).to_string(), "2001:db8::1");
  EXPECT_EQ(proxy::fromRawIp(rawIp("198.18.0.1")), v4);
}

TEST(TelemetryLabelsTest, FillsIstiosTcpLabels) {
  istio::workload::Workload src;
  src.set_workload_name("client");
  src.set_canonical_name("client");
  src.set_canonical_revision("v1");
  src.set_namespace_("demo");
  src.set_cluster_id("Kubernetes");
  istio::workload::Workload dst = src;
  dst.set_workload_name("backend");
  dst.set_canonical_name("backend");
  istio::workload::Service svc;
  svc.set_name("backend");
  svc.set_namespace_("demo");
  svc.set_hostname("backend.demo.svc.cluster.local");
  telemetry::ConnectionFacts f;
  f.reporter = telemetry::Reporter::kDestination;
  f.source = &src;
  f.source_principal = tls::Identity{"cluster.local", "demo", "client"};
  f.destination = &dst;
  f.service = &svc;
  f.mutual_tls = true;
  f.flag = telemetry::ResponseFlag::kDeny;
  auto values = telemetry::tcpLabelValues(f);
  const auto& names = metrics::istio::tcpLabels();
  ASSERT_EQ(values.size(), names.size());
  std::map<std::string, std::string> l;
  for (std::size_t i = 0; i < names.size(); ++i) l[names[i]] = values[i];
  EXPECT_EQ(l["reporter"], "destination");
  EXPECT_EQ(l["source_workload"], "client");
  EXPECT_EQ(l["source_version"], "v1");
  EXPECT_EQ(l["source_principal"], "spiffe://cluster.local/ns/demo/sa/client");
  EXPECT_EQ(l["destination_workload"], "backend");
  EXPECT_EQ(l["destination_principal"], "unknown");
  EXPECT_EQ(l["destination_service"], "backend.demo.svc.cluster.local");
  EXPECT_EQ(l["destination_service_name"], "backend");
  EXPECT_EQ(l["connection_security_policy"], "mutual_tls");
  EXPECT_EQ(l["response_flags"], "DENY");
  EXPECT_EQ(l["request_protocol"], "tcp");

  telemetry::ConnectionFacts outside;  // passthrough to an address outside the mesh
  outside.destination_service_fallback = "198.18.9.9:443";
  auto v = telemetry::tcpLabelValues(outside);
  EXPECT_EQ(v[0], "source");
  EXPECT_EQ(v[9], "198.18.9.9:443");
  EXPECT_EQ(v.back(), "unknown");
}

istio::workload::Address workload(const std::string& uid, const std::string& ip) {
  istio::workload::Address a;
  auto* w = a.mutable_workload();
  w->set_uid(uid);
  w->set_name(uid);
  w->set_namespace_("demo");
  if (!ip.empty()) w->add_addresses(rawIp(ip.c_str()));
  return a;
}

TEST(StateValidationTest, RefusesMalformedResources) {
  EXPECT_TRUE(validateAddress("a", workload("u1", "198.18.0.1")).ok());
  EXPECT_FALSE(validateAddress("a", workload("", "198.18.0.1")).ok());  // no uid
  auto bad_ip = workload("u1", "");
  bad_ip.mutable_workload()->add_addresses("12345");
  EXPECT_FALSE(validateAddress("a", bad_ip).ok());
  EXPECT_FALSE(validateAddress("a", istio::workload::Address{}).ok());  // neither kind
  istio::workload::Address svc;
  svc.mutable_service()->set_hostname("backend.demo.svc.cluster.local");
  svc.mutable_service()->set_namespace_("demo");
  svc.mutable_service()->add_ports()->set_service_port(80);
  EXPECT_TRUE(validateAddress("s", svc).ok());
  svc.mutable_service()->mutable_ports(0)->set_service_port(70000);
  EXPECT_FALSE(validateAddress("s", svc).ok());

  istio::security::Authorization p;
  p.set_name("allow");
  p.set_namespace_("demo");
  EXPECT_TRUE(validateAuthorization("demo/allow", p).ok());
  auto* ip = p.add_groups()->add_rules()->add_matches()->add_source_ips();
  ip->set_address(rawIp("198.18.0.0"));
  ip->set_length(33);  // longer than IPv4
  EXPECT_FALSE(validateAuthorization("demo/allow", p).ok());
}

xds::Resource resource(const std::string& name, const google::protobuf::Message& m) {
  xds::Resource r;
  r.set_name(name);
  r.set_version("1");
  r.mutable_resource()->PackFrom(m);
  return r;
}

TEST(StateStoreTest, AppliesAllOrNothing) {
  StateStore store;
  int published = 0;
  store.onUpdate([&](const auto&) { ++published; });
  auto a = resource("Kubernetes//Pod/demo/a", workload("Kubernetes//Pod/demo/a", "198.18.0.1"));
  auto b = resource("Kubernetes//Pod/demo/b", workload("Kubernetes//Pod/demo/b", "198.18.0.2"));
  ASSERT_TRUE(store.addressHandler().apply({&a, &b}, {}).ok());
  EXPECT_EQ(store.current()->workloadCount(), 2u);
  EXPECT_EQ(published, 1);

  // One bad resource refuses the whole response: nothing changes.
  auto c = resource("Kubernetes//Pod/demo/c", workload("Kubernetes//Pod/demo/c", "198.18.0.3"));
  auto bad = resource("bad", workload("", "198.18.0.4"));
  auto st = store.addressHandler().apply({&c, &bad}, {"Kubernetes//Pod/demo/a"});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, ::testing::HasSubstr("Address bad"));
  EXPECT_EQ(store.current()->workloadCount(), 2u);
  EXPECT_TRUE(store.current()->workloadByUid("Kubernetes//Pod/demo/a"));
  EXPECT_EQ(published, 1);

  // A resource of the wrong type is refused too.
  istio::security::Authorization p;
  auto wrong = resource("x", p);
  EXPECT_FALSE(store.addressHandler().apply({&wrong}, {}).ok());

  ASSERT_TRUE(store.addressHandler().apply({}, {"Kubernetes//Pod/demo/a"}).ok());
  EXPECT_EQ(store.current()->workloadCount(), 1u);
  EXPECT_EQ(store.current()->workloadByAddress("", rawIp("198.18.0.2"))->uid(), "Kubernetes//Pod/demo/b");
}

TEST(BackoffTest, FullJitterCappedExponential) {
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 0, 1.0), 500ms);
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 3, 1.0), 4000ms);
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 10, 1.0), 30s);   // capped
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 500, 0.5), 15s);  // no overflow on long outages
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 3, 0.25), 1000ms);
  EXPECT_EQ(xds::backoffDelay(500ms, 30s, 0, 0.0), 10ms);   // never a busy loop
}

TEST(IdentityTest, RefreshesAtHalfLife) {
  auto nb = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  EXPECT_EQ(identity::refreshTime(nb, nb + 24h), nb + 12h);
  EXPECT_EQ(identity::refreshTime(nb, nb), nb);
}

}  // namespace
}  // namespace ambit::ztunnel
