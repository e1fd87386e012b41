// Trace context tables: what each header form yields (and what is ignored as
// malformed), the sampling decision, what the next hop gets, and Zipkin JSON.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_server.h"
#include "waypoint/trace/context.h"
#include "waypoint/trace/zipkin.h"

namespace ambit::waypoint::trace {
namespace {

const std::string kTrace = "0af7651916cd43dd8448eb211c80319c";
const std::string kSpan = "b7ad6b7169203331";

TEST(TraceContextTest, Extract) {
  struct Case {
    const char* name;
    std::vector<route::Header> headers;
    std::string trace, parent;
    std::optional<bool> sampled;
  };
  const Case cases[] = {
      {"none", {}, "", "", std::nullopt},
      {"traceparent sampled", {{"traceparent", "00-" + kTrace + "-" + kSpan + "-01"}}, kTrace, kSpan, true},
      {"traceparent not sampled", {{"traceparent", "00-" + kTrace + "-" + kSpan + "-00"}}, kTrace, kSpan, false},
      {"traceparent upper case", {{"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-" + kSpan + "-01"}}, kTrace,
       kSpan, true},
      {"traceparent all-zero trace", {{"traceparent", "00-" + std::string(32, '0') + "-" + kSpan + "-01"}}, "", "",
       std::nullopt},
      {"traceparent version ff", {{"traceparent", "ff-" + kTrace + "-" + kSpan + "-01"}}, "", "", std::nullopt},
      {"traceparent 00 with extra", {{"traceparent", "00-" + kTrace + "-" + kSpan + "-01-x"}}, "", "", std::nullopt},
      {"traceparent future version with extra", {{"traceparent", "01-" + kTrace + "-" + kSpan + "-01-abc"}}, kTrace,
       kSpan, true},
      {"traceparent short", {{"traceparent", "00-abc-def-01"}}, "", "", std::nullopt},
      {"traceparent wins over b3",
       {{"x-b3-traceid", "11111111111111111111111111111111"},
        {"x-b3-spanid", "2222222222222222"},
        {"traceparent", "00-" + kTrace + "-" + kSpan + "-01"}},
       kTrace,
       kSpan,
       true},
      {"malformed traceparent falls back to b3",
       {{"traceparent", "junk"}, {"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}, {"x-b3-sampled", "1"}},
       kTrace,
       kSpan,
       true},
      {"b3 single", {{"b3", kTrace + "-" + kSpan + "-1-05e3ac9a4f6e3b90"}}, kTrace, kSpan, true},
      {"b3 single without a decision", {{"b3", kTrace + "-" + kSpan}}, kTrace, kSpan, std::nullopt},
      {"b3 single deny", {{"b3", "0"}}, "", "", false},
      {"b3 single bad sampled", {{"b3", kTrace + "-" + kSpan + "-x"}}, "", "", std::nullopt},
      {"b3 multi 64-bit trace", {{"x-b3-traceid", "8448eb211c80319c"}, {"x-b3-spanid", kSpan}},
       "00000000000000008448eb211c80319c", kSpan, std::nullopt},
      {"b3 multi debug flag", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}, {"x-b3-flags", "1"}}, kTrace, kSpan,
       true},
      {"b3 multi sampled true", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan}, {"x-b3-sampled", "true"}}, kTrace,
       kSpan, true},
      {"b3 multi decision only", {{"x-b3-sampled", "0"}}, "", "", false},
      {"b3 multi trace without span", {{"x-b3-traceid", kTrace}}, "", "", std::nullopt},
      {"b3 multi bad span", {{"x-b3-traceid", kTrace}, {"x-b3-spanid", "zz"}}, "", "", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = extract(c.headers);
    EXPECT_EQ(got.trace_id, c.trace);
    EXPECT_EQ(got.parent_span_id, c.parent);
    EXPECT_EQ(got.sampled, c.sampled);
  }
}

TEST(TraceContextTest, SamplingFollowsTheCallerElseTheRate) {
  TraceContext none;
  EXPECT_FALSE(sample(none, 0, 0.0));
  EXPECT_TRUE(sample(none, 100, 0.999));
  EXPECT_TRUE(sample(none, 1, 0.0099));
  EXPECT_FALSE(sample(none, 1, 0.01));
  TraceContext yes{kTrace, kSpan, true}, no{kTrace, kSpan, false};
  EXPECT_TRUE(sample(yes, 0, 0.5));
  EXPECT_FALSE(sample(no, 100, 0.0));
}

TEST(TraceContextTest, InjectSetsBothFormsForTheNextHop) {
  std::vector<route::Header> h{{"host", "x"},
                               {"traceparent", "00-" + kTrace + "-" + kSpan + "-01"},
                               {"tracestate", "vendor=1"},
                               {"b3", kTrace + "-" + kSpan + "-1"},
                               {"x-b3-flags", "1"},
                               {"traceparent", "00-" + kTrace + "-2222222222222222-01"}};
  inject(h, kTrace, "1111111111111111", kSpan, true);
  auto value = [&](const std::string& n) {
    int count = 0;
    std::string v;
    for (const auto& x : h) {
      if (x.name == n) {
        ++count;
        v = x.value;
      }
    }
    EXPECT_LE(count, 1) << n << " appears once at most";
    return v;
  };
  EXPECT_EQ(value("traceparent"), "00-" + kTrace + "-1111111111111111-01");
  EXPECT_EQ(value("tracestate"), "vendor=1") << "passed on as it came";
  EXPECT_EQ(value("x-b3-traceid"), kTrace);
  EXPECT_EQ(value("x-b3-spanid"), "1111111111111111");
  EXPECT_EQ(value("x-b3-parentspanid"), kSpan);
  EXPECT_EQ(value("x-b3-sampled"), "1");
  EXPECT_EQ(value("b3"), "");
  EXPECT_EQ(value("x-b3-flags"), "");

  std::vector<route::Header> root{{"x-b3-parentspanid", "stale"}};
  inject(root, kTrace, "1111111111111111", "", false);
  EXPECT_EQ(extract(root).trace_id, kTrace);
  EXPECT_EQ(extract(root).sampled, false);
  for (const auto& x : root) EXPECT_NE(x.name, "x-b3-parentspanid") << "a root span has no parent";
}

uint64_t zeros() { return 0; }
uint64_t counter() {
  static uint64_t n = 0x0102030405060708ull;
  return n++;
}

TEST(TraceContextTest, RandomHexIsNeverAllZeros) {
  auto a = randomHex(16, counter);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.substr(0, 16), "0807060504030201");
  auto z = randomHex(8, zeros);
  EXPECT_EQ(z, "0000000000000001");
}

TEST(TraceContextTest, ZipkinJson) {
  Span s;
  s.trace_id = kTrace;
  s.id = "1111111111111111";
  s.parent_id = kSpan;
  s.name = "reviews.demo.svc.cluster.local:9080/*";
  s.timestamp_us = 1700000000000000;
  s.duration_us = 0;
  s.service = "waypoint.demo";
  s.tags = {{"http.status_code", "200"}, {"bad", std::string("\xff", 1)}};
  Span root = s;
  root.parent_id.clear();
  auto j = nlohmann::json::parse(zipkinJson({s, root}));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["traceId"], kTrace);
  EXPECT_EQ(j[0]["parentId"], kSpan);
  EXPECT_EQ(j[0]["kind"], "SERVER");
  EXPECT_EQ(j[0]["timestamp"], 1700000000000000ull);
  EXPECT_EQ(j[0]["duration"], 1) << "Zipkin wants at least 1 us";
  EXPECT_EQ(j[0]["localEndpoint"]["serviceName"], "waypoint.demo");
  EXPECT_EQ(j[0]["tags"]["http.status_code"], "200");
  EXPECT_FALSE(j[1].contains("parentId"));
}

// The exporter against a real HTTP server: what is queued is sent when it
// stops (no span lost to shutdown); a collector that is not there costs the
// batch (counted, the error kept), never the caller.
TEST(ZipkinExporterTest, SendsOnStopAndCountsFailures) {
  test::HttpTestServer collector("127.0.0.1", 0, "ok");
  Span s;
  s.trace_id = kTrace;
  s.id = kSpan;
  s.name = "x";
  s.service = "waypoint.demo";
  {
    ZipkinOptions o;
    o.address = "127.0.0.1:" + std::to_string(collector.port());
    o.flush_interval = std::chrono::hours(1);  // only the stop sends
    ZipkinExporter e(o);
    e.submit(s);
    e.submit(s);
  }
  auto posts = collector.requests();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].target, "/api/v2/spans");
  EXPECT_EQ(posts[0].header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(posts[0].body).size(), 2u);

  {
    ZipkinOptions o;
    o.address = "127.0.0.1:" + std::to_string(collector.port());
    o.flush_interval = std::chrono::hours(1);  // nothing leaves the queue before the stop
    o.max_queue = 1;
    ZipkinExporter e(o);
    e.submit(s);
    e.submit(s);  // over the queue bound: dropped
    EXPECT_EQ(e.dump()["dropped"], 1);
    EXPECT_EQ(e.dump()["queued"], 1);
  }
  EXPECT_EQ(collector.requests().size(), 2u) << "the one queued was sent at the stop";

  ZipkinOptions o;
  o.address = "127.0.0.1:1";  // nothing listens on port 1
  o.flush_interval = std::chrono::milliseconds(10);
  ZipkinExporter e(o);
  e.submit(s);
  nlohmann::json d;
  for (int i = 0; i < 500; ++i) {
    d = e.dump();
    if (d["failed"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(d["failed"], 1) << d.dump();
  EXPECT_EQ(d["sent"], 0);
  EXPECT_NE(d["last_error"].get<std::string>().find("connect"), std::string::npos) << d.dump();
}

}  // namespace
}  // namespace ambit::waypoint::trace
