// The waypoint with real processes on loopback: ambitd (xDS + CA), a ztunnel
// for the client's node and one for the backends' node (shared mode), the
// waypoint, and real HTTP servers as reviews v1 and v2. Requests go client ->
// SOCKS5 -> ztunnel A -> HBONE -> waypoint -> HBONE -> ztunnel B -> server.
// Addresses are 127.<random>.x.y so parallel runs never collide.
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "istio/security/ca.grpc.pb.h"

#include "tests/support/http_server.h"
#include "tests/support/mesh.h"
#include "tests/support/process.h"
#include "tests/support/socks_forwarder.h"
#include "tests/support/sockets.h"

namespace ambit::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::string meshYaml(const std::string& net, int b) {
  auto ip = [&](int x, int y) { return net + std::to_string(b + x) + "." + std::to_string(y); };
  return R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, nodeName: node-a}
status: {podIP: )" +
         ip(1, 10) + R"(}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: demo, labels: {app: reviews, version: v1}}
spec: {serviceAccountName: reviews, nodeName: node-b}
status: {podIP: )" +
         ip(2, 11) + R"(}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: demo, labels: {app: reviews, version: v2}}
spec: {serviceAccountName: reviews, nodeName: node-b}
status: {podIP: )" +
         ip(2, 12) + R"(}
---
)" + waypointYaml(ip(3, 50), ip(0, 50), ip(0, 20), "reviews", "http") +
         R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: demo}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - name: limited
    labels: {version: v1}
    trafficPolicy:
      connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: demo}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{uri: {prefix: /retry}}]
    route: [{destination: {host: reviews, subset: v1}}]
    retries: {attempts: 2, retryOn: 5xx}
  - match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: reviews, subset: v1}}]
    timeout: 300ms
  - match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{uri: {prefix: /mirror}}]
    route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 100}
  - match: [{uri: {prefix: /flaky}}]
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /limited}}]
    route: [{destination: {host: reviews, subset: limited}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
  - to: [{operation: {hosts: ["evil.example", "evil.example:*"]}}]
  - when: [{key: "request.headers[x-user]", values: ["mallory"]}]
---
# TCP through the waypoint: declared tcp-* ports are passed through, undeclared
# ones sniffed. Its policies see L4 fields only.
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: )" + ip(0, 21) + R"(
  selector: {app: reviews, version: v1}
  ports:
  - {name: tcp-echo, port: 9090, targetPort: 9090}
  - {name: tcp-locked, port: 9091, targetPort: 9090}
  - {name: tcp-denied, port: 9092, targetPort: 9090}
  - {name: echo, port: 9093, targetPort: 9090}
  - {name: web, port: 9094, targetPort: 8080}
  - {name: tcp-routed, port: 9095, targetPort: 9999}
---
# Port 9095's target port has no listener: only its TCP route reaches the echo.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo]
  tcp:
  - match: [{port: 9095}]
    route: [{destination: {host: echo, port: {number: 9090}}}]
---
# The same echo with a short TCP idle timeout (no policy names it: allowed).
apiVersion: v1
kind: Service
metadata: {name: echo-idle, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: )" + ip(0, 22) + R"(
  selector: {app: reviews, version: v1}
  ports:
  - {name: tcp-echo, port: 9090, targetPort: 9090}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo-idle, namespace: demo}
spec:
  host: echo-idle
  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 400ms}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-allow, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: ALLOW
  rules:
  - to: [{operation: {ports: ["9090", "9092", "9093", "9094", "9095"]}}]
  - to: [{operation: {ports: ["9091"], methods: ["GET"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-deny, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/demo/sa/client"]}}]
    to: [{operation: {ports: ["9092"], paths: ["/x"]}}]
---
# gRPC through the waypoint: a port declared grpc goes upstream as HTTP/2.
apiVersion: v1
kind: Service
metadata: {name: grpc-echo, namespace: demo, labels: {istio.io/use-waypoint: waypoint}}
spec:
  clusterIP: )" + ip(0, 23) + R"(
  selector: {app: reviews, version: v1}
  ports:
  - {name: rpc, port: 9500, targetPort: 9500, appProtocol: grpc}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: grpc-deny, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: grpc-echo}]
  action: DENY
  rules:
  - to: [{operation: {paths: ["/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"]}}]
)";
}

// A real gRPC server (grpc++) as the backend: a unary call (the CA API's
// CreateCertificate: "fail" is answered NOT_FOUND, anything else echoed with
// a trailing x-trailer) and a streaming one (ADS: three answers for each
// request read, once the client is done sending).
class GrpcBackend {
 public:
  explicit GrpcBackend(const std::string& address) {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&ca_);
    b.RegisterService(&ads_);
    server_ = b.BuildAndStart();
    if (!server_ || port == 0) throw std::runtime_error("gRPC server could not bind " + address);
  }
  ~GrpcBackend() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }

 private:
  struct Ca final : istio::v1::auth::IstioCertificateService::Service {
    grpc::Status CreateCertificate(grpc::ServerContext* ctx, const istio::v1::auth::IstioCertificateRequest* req,
                                   istio::v1::auth::IstioCertificateResponse* resp) override {
      if (req->csr() == "fail") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such thing");
      resp->add_cert_chain("echo:" + req->csr());
      ctx->AddTrailingMetadata("x-trailer", "yes");
      return grpc::Status::OK;
    }
  };
  struct Ads final : envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
    grpc::Status StreamAggregatedResources(
        grpc::ServerContext*,
        grpc::ServerReaderWriter<envoy::service::discovery::v3::DiscoveryResponse,
                                 envoy::service::discovery::v3::DiscoveryRequest>* stream) override {
      // Three answers to each request as it comes (a bidirectional call).
      envoy::service::discovery::v3::DiscoveryRequest req;
      for (int i = 0; i < 100 && stream->Read(&req); ++i) {
        for (int v = 1; v <= 3; ++v) {
          envoy::service::discovery::v3::DiscoveryResponse resp;
          resp.set_type_url(req.type_url());
          resp.set_version_info(std::to_string(v));
          if (!stream->Write(resp)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
        }
      }
      return grpc::Status::OK;
    }
  };
  Ca ca_;
  Ads ads_;
  std::unique_ptr<grpc::Server> server_;
};

class WaypointIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    for (int attempt = 0; attempt < 10 && !v2_; ++attempt) {
      net_ = "127." + std::to_string(100 + rd() % 150) + ".";
      block_ = static_cast<int>(rd() % 25) * 10;
      try {
        v1_ = std::make_unique<HttpTestServer>(ip(2, 11), 8080, "v1");
        v2_ = std::make_unique<HttpTestServer>(ip(2, 12), 8080, "v2");
        echo_ = std::make_unique<EchoServer>(ip(2, 11), 9090);
        zipkin_ = std::make_unique<HttpTestServer>(ip(3, 60), 9411, "zipkin");
      } catch (const std::exception&) {
        v1_.reset();
        v2_.reset();
        echo_.reset();
        zipkin_.reset();
      }
    }
    ASSERT_TRUE(v1_ && v2_) << "no free 127.x address block after 10 draws";
    char tmpl[] = "/tmp/ambit-test-waypoint-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/config");
    std::ofstream(dir_ + "/config/mesh.yaml") << meshYaml(net_, block_);
    std::ofstream(dir_ + "/tokens.yaml") << "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n"
                                            "- {name: node-b, token: node-b-token-0123456789}\n"
                                            "workloads:\n- {namespace: demo, serviceAccount: waypoint, "
                                            "token: waypoint-token-0123456789}\n";
    std::ofstream(dir_ + "/a.token") << "node-a-token-0123456789\n";
    std::ofstream(dir_ + "/b.token") << "node-b-token-0123456789\n";
    std::ofstream(dir_ + "/w.token") << "waypoint-token-0123456789\n";
    ambitd_ = startAmbitd(dir_, &tls_port_);
    ASSERT_TRUE(ambitd_);
    a_ = startZtunnel(dir_, tls_port_, "node-a", "a.token");
    b_ = startZtunnel(dir_, tls_port_, "node-b", "b.token");
    // Spans go to the fake collector: only for requests whose caller sampled them (0 % otherwise).
    w_ = startWaypoint(dir_, tls_port_, ip(3, 50), "w.token",
                       {"--tracing.zipkin_address", ip(3, 60) + ":9411", "--tracing.sampling", "0",
                        "--tracing.flush_interval", "100ms"});
    ASSERT_TRUE(a_.proc && b_.proc && w_.proc);
    ASSERT_TRUE(
        a_.proc->waitForLine("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/client", 20s))
        << a_.proc->output();
    ASSERT_TRUE(
        b_.proc->waitForLine("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/reviews", 20s))
        << b_.proc->output();
    waitWaypointReady();
  }

  // The waypoint has its certificate and its configuration (either may come first).
  void waitWaypointReady() {
    ASSERT_TRUE(
        w_.proc->waitForOutput("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/waypoint", 20s))
        << w_.proc->output();
    for (const char* type :
         {"istio.workload.Address", "ambit.route.v1.HostConfig", "ambit.authz.v1.HttpPolicy"}) {
      ASSERT_TRUE(
          w_.proc->waitForOutput(std::string("msg=xds_applied type=type.googleapis.com/") + type, 20s))
          << w_.proc->output();
    }
  }

  void TearDown() override {
    for (auto* p : {&w_.proc, &a_.proc, &b_.proc, &ambitd_}) {
      if (*p) {
        EXPECT_EQ((*p)->stop(), 0) << (*p)->output();
      }
    }
    v1_.reset();
    v2_.reset();
    echo_.reset();
    zipkin_.reset();
    fs::remove_all(dir_);
  }

  std::string ip(int x, int y) const { return net_ + std::to_string(block_ + x) + "." + std::to_string(y); }
  std::string vip() const { return ip(0, 20); }

  // A keep-alive connection from the client pod to reviews:9080 through the mesh.
  Fd connectReviews() {
    auto c = socksConnect(ip(1, 10), a_.socks, vip(), 9080);
    EXPECT_EQ(c.reply, 0) << a_.proc->output();
    return std::move(c.fd);
  }

  HttpMessage get(int fd, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.insert(extra.begin(), {"host", "reviews:9080"});
    return httpExchange(fd, "GET", path, extra);
  }

  std::string output() { return w_.proc->output(); }

  // A TCP round trip from the client pod to echo:`port` through the mesh:
  // what came back, or "" when the connection was refused or closed.
  std::string echoThrough(uint16_t port, const std::string& payload) {
    auto c = socksConnect(ip(1, 10), a_.socks, ip(0, 21), port);
    if (c.reply != 0 || !c.fd.valid()) return "";
    timeval tv{5, 0};
    ::setsockopt(c.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::send(c.fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(payload.size())) {
      return "";
    }
    std::string got;
    char buf[4096];
    while (got.size() < payload.size()) {
      ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

  std::string net_;
  int block_ = 0;
  std::string dir_, tls_port_;
  std::unique_ptr<HttpTestServer> v1_, v2_;
  std::unique_ptr<EchoServer> echo_;
  std::unique_ptr<HttpTestServer> zipkin_;
  std::unique_ptr<ChildProcess> ambitd_;
  ZtunnelProcess a_, b_;
  WaypointProcess w_;
};

TEST_F(WaypointIntegrationTest, SplitsNinetyTenOverAThousandRequests) {
  auto fd = connectReviews();
  ASSERT_TRUE(fd.valid());
  int v1 = 0, v2 = 0, other = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = get(fd.get(), "/split");
    ASSERT_EQ(r.status, 200) << "request " << i << "\n" << output();
    if (r.body == "v1") {
      ++v1;
    } else if (r.body == "v2") {
      ++v2;
    } else {
      ++other;
    }
  }
  EXPECT_EQ(other, 0);
  // 10 % +- 3 % of 1000.
  EXPECT_GE(v2, 70) << "v1=" << v1 << " v2=" << v2;
  EXPECT_LE(v2, 130) << "v1=" << v1 << " v2=" << v2;
  // One client connection, kept alive end to end: the backends saw few connections.
  auto metrics = httpGet(w_.stats, "/stats/prometheus");
  EXPECT_THAT(metrics, HasSubstr("istio_requests_total{reporter=\"waypoint\""));
  EXPECT_THAT(metrics, HasSubstr("destination_workload=\"reviews\""));
  EXPECT_THAT(metrics, HasSubstr("response_code=\"200\""));
}

TEST_F(WaypointIntegrationTest, RoutesOnAHeader) {
  auto fd = connectReviews();
  for (int i = 0; i < 20; ++i) {
    auto r = get(fd.get(), "/split", {{"x-canary", "yes"}});
    ASSERT_EQ(r.status, 200) << output();
    EXPECT_EQ(r.body, "v2");
  }
}

TEST_F(WaypointIntegrationTest, ARetryTurnsTheFirst503IntoA200) {
  std::atomic<int> calls{0};
  v1_->setHandler([&](const HttpMessage& req) {
    HttpMessage m;
    m.status = req.target == "/retry" && calls.fetch_add(1) == 0 ? 503 : 200;
    m.body = "v1";
    return m;
  });
  auto fd = connectReviews();
  auto r = get(fd.get(), "/retry");
  EXPECT_EQ(r.status, 200) << output();
  EXPECT_EQ(r.body, "v1");
  EXPECT_EQ(v1_->count("/retry"), 2) << "the first attempt's 503 was retried once";
}

TEST_F(WaypointIntegrationTest, ARouteTimeoutFires) {
  v1_->setHandler([](const HttpMessage&) {
    HttpMessage m;
    m.status = 200;
    m.body = "late";
    m.delay = 1500ms;
    return m;
  });
  auto fd = connectReviews();
  auto t0 = std::chrono::steady_clock::now();
  auto r = get(fd.get(), "/slow");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 504) << output();
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_LT(took, 1200ms) << "the 300ms route timeout answered long before the backend's 1.5s";
  // The access line is written after the response: wait for it.
  EXPECT_TRUE(w_.proc->waitForOutput("flags=UT", 5s)) << output();
}

// On a route without a timeout, a request whose upstream goes quiet ends
// after the idle timeout (Envoy's stream idle timeout): 408, flag SI, not
// retried. One that keeps moving is not cut, however long it takes.
TEST_F(WaypointIntegrationTest, AQuietStreamEndsAfterTheIdleTimeout) {
  w_.proc.reset();
  w_ = startWaypoint(dir_, tls_port_, ip(3, 50), "w.token", {"--timeouts.idle", "600ms"});
  ASSERT_TRUE(w_.proc);
  waitWaypointReady();
  auto slow = [](const HttpMessage& req) {
    HttpMessage m;
    m.status = 200;
    m.body = "late";
    if (req.target == "/stall") m.delay = 3000ms;
    return m;
  };
  v1_->setHandler(slow);
  v2_->setHandler(slow);
  auto fd = connectReviews();
  auto t0 = std::chrono::steady_clock::now();
  auto r = get(fd.get(), "/stall");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 408) << output();
  EXPECT_EQ(r.body, "stream timeout");
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 2500ms) << "answered before the backend's 3 s";
  EXPECT_TRUE(w_.proc->waitForOutput("flags=SI", 5s)) << output();
  // A 1 MiB upload that takes longer than the idle timeout in all but
  // moves all along goes through.
  auto up = connectReviews();
  std::string head = "POST /upload HTTP/1.1\r\nhost: reviews\r\ncontent-length: 1048576\r\n\r\n";
  ASSERT_EQ(::send(up.get(), head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string piece(65536, 'p');
  for (int i = 0; i < 16; ++i) {  // 16 x 64 KiB, 100 ms apart: 1.6 s in all
    std::this_thread::sleep_for(100ms);
    ASSERT_EQ(::send(up.get(), piece.data(), piece.size(), MSG_NOSIGNAL), static_cast<ssize_t>(piece.size()));
  }
  auto done = httpRaw(up.get(), "");
  EXPECT_EQ(done.status, 200) << output();
}

TEST_F(WaypointIntegrationTest, AnInjectedAbortReturnsItsStatusAtItsRate) {
  auto fd = connectReviews();
  int aborted = 0;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    auto r = get(fd.get(), "/fault");
    ASSERT_TRUE(r.status == 418 || r.status == 200) << r.status << "\n" << output();
    if (r.status == 418) ++aborted;
  }
  // 50 % of 400: 200 +- 40 (more than 4 standard deviations).
  EXPECT_GE(aborted, 160);
  EXPECT_LE(aborted, 240);
  EXPECT_EQ(v1_->count("/fault"), n - aborted) << "aborted requests never reach the backend";
}

TEST_F(WaypointIntegrationTest, MirroringDeliversCopies) {
  auto fd = connectReviews();
  for (int i = 0; i < 20; ++i) {
    auto r = get(fd.get(), "/mirror/" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << output();
    EXPECT_EQ(r.body, "v1") << "the client gets the primary's answer";
  }
  // The copies are fire-and-forget: wait (bounded) until all arrived.
  for (int i = 0; i < 100 && v2_->count("/mirror/") < 20; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(v2_->count("/mirror/"), 20);
  auto reqs = v2_->requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs.front().header("host"), "reviews-shadow:9080") << "Envoy marks the host of a copy, before the port";
}

TEST_F(WaypointIntegrationTest, OutlierDetectionEjectsAFailingEndpointAndBringsItBack) {
  std::atomic<bool> v1_broken{true};
  v1_->setHandler([&](const HttpMessage&) {
    HttpMessage m;
    m.status = v1_broken ? 500 : 200;
    m.body = "v1";
    return m;
  });
  auto fd = connectReviews();
  int errors = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = get(fd.get(), "/flaky");
    if (r.status == 500) ++errors;
  }
  // Round robin over v1 and v2: v1's second consecutive 500 ejects it.
  EXPECT_EQ(errors, 2) << output();
  EXPECT_EQ(v1_->count("/flaky"), 2);
  // Back after baseEjectionTime (2s): it gets requests again.
  v1_broken = false;
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {  // bounded: 100 x 50 ms
    auto r = get(fd.get(), "/flaky");
    back = r.body == "v1" && r.status == 200;
    if (!back) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(back) << output();
}

// hardening.md 6: an L7 DENY holds against each normalization trick, a
// mixed-case Host and repeated or comma-joined header values.
TEST_F(WaypointIntegrationTest, AnL7DenyHoldsAgainstNormalizationTricks) {
  auto fd = connectReviews();
  auto ok = get(fd.get(), "/open");
  ASSERT_EQ(ok.status, 200) << output();
  for (const std::string path : {"/admin", "//admin", "/%2Fadmin", "/%5Cadmin", "/a/../admin", "/admin#x",
                                 "/./admin/", "/admin/../admin/x", "/%61dmin"}) {
    auto r = get(fd.get(), path);
    EXPECT_EQ(r.status, 403) << path << "\n" << output();
  }
  auto host = httpExchange(fd.get(), "GET", "/open", {{"host", "EVIL.Example"}});
  EXPECT_EQ(host.status, 403);
  auto host_port = httpExchange(fd.get(), "GET", "/open", {{"host", "evil.example.:9080"}});
  EXPECT_EQ(host_port.status, 403);
  auto repeated = get(fd.get(), "/open", {{"x-user", "alice"}, {"x-user", "mallory"}});
  EXPECT_EQ(repeated.status, 403);
  auto joined = get(fd.get(), "/open", {{"x-user", "alice, mallory"}});
  EXPECT_EQ(joined.status, 403);
  EXPECT_EQ(v1_->count("/admin") + v2_->count("/admin") + v1_->count("//") + v2_->count("//"), 0)
      << "no denied request reached a backend";
  // The access line is written after the response: wait for it.
  EXPECT_TRUE(w_.proc->waitForOutput("flags=RBAC", 5s)) << output();
}

TEST_F(WaypointIntegrationTest, SmugglingAttemptsAreRefused) {
  const std::vector<std::string> attacks = {
      "POST /x HTTP/1.1\r\nhost: reviews\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /x HTTP/1.1\r\nhost: reviews\r\ntransfer-encoding: xchunked\r\n\r\n0\r\n\r\n",
      "POST /x HTTP/1.1\r\nhost: reviews\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
      "GET /x HTTP/1.1\nhost: reviews\n\n",
      "GET /x HTTP/1.1\r\nhost : reviews\r\n\r\n",
  };
  for (const auto& a : attacks) {
    auto fd = connectReviews();
    auto r = httpRaw(fd.get(), a);
    EXPECT_EQ(r.status, 400) << a << "\n" << output();
  }
  EXPECT_EQ(v1_->count("/x") + v2_->count("/x"), 0) << "no smuggled request reached a backend";
}

// ---- Interop: real HTTP/1.1 and HTTP/2 clients through the mesh -------------

struct ToolRun {
  int status = -1;  // exit status; -1: missing, killed or timed out
  std::string output;
};

// Runs an installed client (scripts/install-deps.sh installs curl and
// nghttp2-client) to completion, bounded in time.
ToolRun runTool(const std::string& name, const std::vector<std::string>& args,
                std::chrono::seconds timeout = 60s) {
  ToolRun r;
  std::string path;
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    if (fs::exists(std::string(dir) + "/" + name)) {
      path = std::string(dir) + "/" + name;
      break;
    }
  }
  if (path.empty()) {
    r.output = name + " is not installed (scripts/install-deps.sh installs it)";
    return r;
  }
  ChildProcess p(path, args);
  auto st = p.wait(timeout);
  if (!st) p.kill();
  r.status = st ? *st : -1;
  r.output = p.output();
  return r;
}

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

TEST_F(WaypointIntegrationTest, CurlOverHttp11AndHttp2) {
  SocksForwarder entry(ip(1, 10), a_.socks, vip(), 9080);
  auto connect_to = "reviews:9080:127.0.0.1:" + std::to_string(entry.port());
  for (std::string mode : {"--http1.1", "--http2-prior-knowledge"}) {
    auto r = runTool("curl", {"-sS", mode, "--max-time", "20", "--connect-to", connect_to, "-H", "x-canary: yes",
                              "-w", "\n%{http_code} %{http_version}", "http://reviews:9080/split"});
    EXPECT_EQ(r.status, 0) << mode << ": " << r.output << "\n" << output();
    EXPECT_THAT(r.output, HasSubstr(mode == "--http1.1" ? "v2\n200 1.1" : "v2\n200 2")) << r.output;
  }
}

// HTTP/1.1 uploads past the retry buffer stream through as they come
// (curl asks "Expect: 100-continue" for them: the waypoint says go on once
// the request goes upstream), with a declared length or chunked; the
// connection carries the next request after. One refused before it goes
// upstream never has its body sent.
TEST_F(WaypointIntegrationTest, CurlUploadsStreamOverHttp11) {
  SocksForwarder entry(ip(1, 10), a_.socks, vip(), 9080);
  auto connect_to = "reviews:9080:127.0.0.1:" + std::to_string(entry.port());
  auto big = dir_ + "/big3.bin";
  std::ofstream(big) << std::string(3u << 20, 'u');
  auto uploadedTo = [&](const std::string& target) {
    std::vector<std::size_t> sizes;
    for (auto* backend : {v1_.get(), v2_.get()}) {
      for (const auto& m : backend->requests()) {
        if (m.target == target) sizes.push_back(m.body.size());
      }
    }
    return sizes;
  };
  // Two uploads with a Content-Length, one connection.
  auto two = runTool("curl", {"-sS", "-v", "--http1.1", "--max-time", "30", "--connect-to", connect_to, "-w",
                              "\n%{http_code}\n", "-T", big, "http://reviews:9080/up/1", "-T", big,
                              "http://reviews:9080/up/2"});
  EXPECT_EQ(two.status, 0) << two.output << "\n" << output();
  EXPECT_EQ(occurrences(two.output, "\n200\n"), 2) << two.output;
  EXPECT_EQ(occurrences(two.output, "< HTTP/1.1 100 Continue"), 2) << two.output;
  EXPECT_EQ(uploadedTo("/up/1"), std::vector<std::size_t>{3u << 20});
  EXPECT_EQ(uploadedTo("/up/2"), std::vector<std::size_t>{3u << 20});
  EXPECT_EQ(entry.accepted(), 1) << "the connection carried the second upload";
  // Chunked.
  auto chunked = runTool("curl", {"-sS", "--http1.1", "--max-time", "30", "--connect-to", connect_to, "-w",
                                  "\n%{http_code}\n", "-H", "Transfer-Encoding: chunked", "--data-binary",
                                  "@" + big, "http://reviews:9080/up/chunked"});
  EXPECT_EQ(chunked.status, 0) << chunked.output << "\n" << output();
  EXPECT_THAT(chunked.output, HasSubstr("\n200\n"));
  EXPECT_EQ(uploadedTo("/up/chunked"), std::vector<std::size_t>{3u << 20});
  // Denied by the L7 policy before it goes anywhere: 403 at once, no 100,
  // and the connection closes after it.
  auto started = std::chrono::steady_clock::now();
  auto denied = runTool("curl", {"-sS", "-v", "--http1.1", "--max-time", "30", "--connect-to", connect_to,
                                 "-w", "\n%{http_code}\n", "-T", big, "http://reviews:9080/admin"});
  EXPECT_THAT(denied.output, HasSubstr("\n403\n")) << denied.output;
  EXPECT_THAT(denied.output, Not(HasSubstr("100 Continue"))) << denied.output;
  EXPECT_THAT(denied.output, HasSubstr("onnection: close")) << denied.output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "curl waited for a 100 that never came";
  // Denied while its body is still coming (no Expect): the 403 says close.
  for (int i = 0; i < 2; ++i) {
    auto fd = connectReviews();
    auto r = httpRaw(fd.get(), "POST /admin HTTP/1.1\r\nhost: reviews\r\ncontent-length: 262144\r\n\r\n" +
                                   std::string(262144, 'b'));
    EXPECT_EQ(r.status, 403) << output();
    EXPECT_EQ(r.header("connection"), "close");
  }
  EXPECT_EQ(v1_->count("/admin") + v2_->count("/admin"), 0);
}

TEST_F(WaypointIntegrationTest, NghttpStreamsArePolicedAndBounded) {
  SocksForwarder entry(ip(1, 10), a_.socks, vip(), 9080);
  auto base = "http://127.0.0.1:" + std::to_string(entry.port());
  // 20 concurrent streams on one HTTP/2 connection, routed on a header.
  auto routed = runTool("nghttp", {"-m", "20", "-H", ":authority: reviews:9080", "-H", "x-canary: yes", base + "/split"});
  EXPECT_EQ(routed.status, 0) << routed.output << "\n" << output();
  EXPECT_EQ(occurrences(routed.output, "v2"), 20) << routed.output;
  EXPECT_EQ(occurrences(routed.output, "v1"), 0) << routed.output;
  EXPECT_EQ(entry.accepted(), 1) << "one connection carried every stream";

  // The L7 DENY holds for HTTP/2 requests too, normalization included.
  for (std::string path : {"/admin", "//admin", "/%2Fadmin", "/a/../admin"}) {
    auto denied = runTool("nghttp", {"-v", "-H", ":authority: reviews:9080", base + path});
    EXPECT_THAT(denied.output, HasSubstr(":status: 403")) << path << "\n" << denied.output;
  }
  EXPECT_EQ(v1_->count("/admin") + v2_->count("/admin") + v1_->count("//") + v2_->count("//"), 0);

  // Limits: more header fields than allowed (431).
  std::vector<std::string> many = {"-v", "-H", ":authority: reviews:9080"};
  for (int i = 0; i < 120; ++i) {
    many.push_back("-H");
    many.push_back("x-filler-" + std::to_string(i) + ": y");
  }
  many.push_back(base + "/split");
  auto too_many = runTool("nghttp", many);
  EXPECT_THAT(too_many.output, HasSubstr(":status: 431")) << too_many.output;
  // A body twice the stream window and past the retry buffer streams
  // through to the HTTP/1.1 backend as it comes.
  auto big = dir_ + "/big.bin";
  std::ofstream(big) << std::string(2u << 20, 'x');
  auto upload = runTool("nghttp", {"-v", "-d", big, "-H", ":authority: reviews:9080", base + "/upload"});
  EXPECT_THAT(upload.output, HasSubstr(":status: 200")) << upload.output << "\n" << output();
  std::size_t uploaded = 0;
  for (auto* backend : {v1_.get(), v2_.get()}) {
    for (const auto& m : backend->requests()) {
      if (m.target == "/upload") uploaded = m.body.size();
    }
  }
  EXPECT_EQ(uploaded, 2u << 20);

  auto metrics = httpGet(w_.stats, "/stats/prometheus");
  EXPECT_THAT(metrics, HasSubstr("response_code=\"431\""));
}

TEST_F(WaypointIntegrationTest, H2loadSplitsNinetyTen) {
  SocksForwarder entry(ip(1, 10), a_.socks, vip(), 9080);
  auto url = "http://127.0.0.1:" + std::to_string(entry.port()) + "/split";
  auto r = runTool("h2load", {"-n", "2000", "-c", "4", "-m", "10", "-H", ":authority: reviews:9080", url}, 120s);
  ASSERT_EQ(r.status, 0) << r.output << "\n" << output();
  EXPECT_THAT(r.output, HasSubstr("2000 succeeded, 0 failed")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("status codes: 2000 2xx")) << r.output;
  int v1 = v1_->count("/split"), v2 = v2_->count("/split");
  EXPECT_EQ(v1 + v2, 2000);
  // 10 % +- 3 % of 2000.
  EXPECT_GE(v2, 140) << "v1=" << v1 << " v2=" << v2;
  EXPECT_LE(v2, 260) << "v1=" << v1 << " v2=" << v2;
}

// Ports declared TCP are passed through (bytes both ways, no HTTP parsing);
// the service's policies hold on their L4 part: an ALLOW rule that needs an
// HTTP method never grants a TCP connection, and a DENY that names a path is
// enforced without it. Undeclared ports: TCP bytes pass, HTTP is routed.
TEST_F(WaypointIntegrationTest, TcpPortsArePassedThroughWithL4Policy) {
  const std::string payload = "not http at all\r\n\x01\x02";
  EXPECT_EQ(echoThrough(9090, payload), payload) << output();
  EXPECT_EQ(echoThrough(9091, payload), "");
  ASSERT_TRUE(w_.proc->waitForOutput("no ALLOW policy matched", 10s)) << output();
  EXPECT_EQ(echoThrough(9092, payload), "");
  ASSERT_TRUE(w_.proc->waitForOutput("denied by DENY policy demo/echo-deny", 10s)) << output();
  EXPECT_EQ(echoThrough(9093, payload), payload) << output();  // undeclared: sniffed as TCP
  EXPECT_EQ(echo_->accepted(), 2);  // refused ones never reached the backend

  auto c = socksConnect(ip(1, 10), a_.socks, ip(0, 21), 9094);  // undeclared: sniffed as HTTP
  ASSERT_EQ(c.reply, 0);
  auto r = httpExchange(c.fd.get(), "GET", "/web", {{"host", "echo:9094"}});
  EXPECT_EQ(r.status, 200) << output();
  EXPECT_EQ(r.body, "v1");

  ASSERT_TRUE(w_.proc->waitForOutput("scope=waypoint.tcp msg=access", 10s));
  auto metrics = httpGet(w_.stats, "/stats/prometheus");
  EXPECT_THAT(metrics, HasSubstr("istio_tcp_connections_opened_total{reporter=\"waypoint\",source_workload=\"client\""));
  EXPECT_THAT(metrics, HasSubstr("response_flags=\"RBAC\""));
  EXPECT_THAT(metrics, HasSubstr("istio_tcp_received_bytes_total{reporter=\"waypoint\""));
}

// DestinationRule circuit breaking (maxConnections 1, http1MaxPendingRequests
// 1): the first request holds the one connection, the second waits in line
// and is served after it, the third overflows at once with 503 UO.
TEST_F(WaypointIntegrationTest, CircuitBreakingQueuesThenOverflows) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> inside{0}, most{0};
  v1_->setHandler([&](const HttpMessage& req) {
    HttpMessage m;
    m.status = 200;
    m.body = "v1";
    if (req.target.rfind("/limited", 0) == 0) {
      int now = ++inside;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      std::unique_lock lock(mu);
      cv.wait_for(lock, 10s, [&] { return open; });
      --inside;
    }
    return m;
  });
  auto release = [&] {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  };
  auto c1 = connectReviews(), c2 = connectReviews(), c3 = connectReviews();
  ASSERT_TRUE(c1.valid() && c2.valid() && c3.valid());
  HttpMessage r1, r2;
  std::thread t1([&] { r1 = get(c1.get(), "/limited/1"); });
  for (int i = 0; i < 500 && v1_->count("/limited") == 0; ++i) std::this_thread::sleep_for(10ms);
  std::thread t2([&] { r2 = get(c2.get(), "/limited/2"); });
  auto pending = [&] {
    auto dump = nlohmann::json::parse(httpGet(w_.admin, "/config_dump"), nullptr, false);
    auto p = dump["waypoint"]["circuit_breakers"]["reviews.demo.svc.cluster.local|limited|9080"]["pending"];
    return p.is_number() ? p.get<int>() : -1;
  };
  for (int i = 0; i < 500 && pending() != 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pending(), 1) << output();

  auto r3 = get(c3.get(), "/limited/3");
  release();
  t1.join();
  t2.join();
  EXPECT_EQ(r3.status, 503) << output();
  EXPECT_EQ(r3.header("x-envoy-overloaded"), "true");
  EXPECT_THAT(r3.body, HasSubstr("overflow"));
  EXPECT_EQ(r1.status, 200) << output();
  EXPECT_EQ(r2.status, 200) << output();
  EXPECT_EQ(v1_->count("/limited"), 2) << "the overflow never reached the backend";
  EXPECT_EQ(most.load(), 1) << "one connection at a time";
  ASSERT_TRUE(w_.proc->waitForOutput("flags=UO", 5s)) << output();
  auto metrics = httpGet(w_.stats, "/stats/prometheus");
  EXPECT_THAT(metrics, HasSubstr("response_flags=\"UO\""));
}

// A VirtualService tcp: route sends port 9095 (whose target port nothing
// listens on) to the echo's port; a connection idle for the
// DestinationRule's tcp.idleTimeout (400ms, on echo-idle) is closed.
TEST_F(WaypointIntegrationTest, TcpRoutesAndTheTcpIdleTimeout) {
  const std::string payload = "routed\n";
  EXPECT_EQ(echoThrough(9095, payload), payload) << output();

  auto c = socksConnect(ip(1, 10), a_.socks, ip(0, 22), 9090);  // echo-idle
  ASSERT_EQ(c.reply, 0);
  timeval tv{10, 0};
  ::setsockopt(c.fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::send(c.fd.get(), "x", 1, MSG_NOSIGNAL), 1);
  char buf[64];
  ASSERT_EQ(::recv(c.fd.get(), buf, sizeof buf, 0), 1);
  auto t0 = std::chrono::steady_clock::now();
  ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);  // the close
  auto idle = std::chrono::steady_clock::now() - t0;
  EXPECT_LE(n, 0) << "closed, not more bytes";
  EXPECT_GE(idle, 300ms);
  EXPECT_LT(idle, 5s) << "closed by the idle timeout, not the socket's 10s timeout";
  EXPECT_TRUE(w_.proc->waitForOutput("detail=\"idle timeout\"", 5s)) << output();
}

// Tracing: a caller's W3C context is continued (same trace, the waypoint's
// span as the backend's parent, in W3C and B3 form) and the waypoint's span
// reaches the Zipkin collector; a request nobody sampled (0 %) still carries
// a context onward but makes no span.
TEST_F(WaypointIntegrationTest, TracesAreContinuedAndSpansExported) {
  const std::string caller_trace = "0af7651916cd43dd8448eb211c80319c", caller_span = "b7ad6b7169203331";
  auto fd = connectReviews();
  auto r0 = get(fd.get(), "/split", {{"x-canary", "yes"}});
  ASSERT_EQ(r0.status, 200) << output();
  auto unsampled = v2_->requests().back();
  auto tp0 = unsampled.header("traceparent");
  ASSERT_EQ(tp0.size(), 55u) << tp0;
  EXPECT_EQ(tp0.substr(53), "00") << "not sampled";
  EXPECT_EQ(unsampled.header("x-b3-sampled"), "0");
  const std::string unsampled_trace = tp0.substr(3, 32);

  auto r = get(fd.get(), "/split",
               {{"x-canary", "yes"}, {"traceparent", "00-" + caller_trace + "-" + caller_span + "-01"}});
  ASSERT_EQ(r.status, 200) << output();
  auto seen = v2_->requests().back();
  auto tp = seen.header("traceparent");
  ASSERT_EQ(tp.size(), 55u) << tp;
  EXPECT_EQ(tp.substr(0, 36), "00-" + caller_trace + "-");
  EXPECT_EQ(tp.substr(53), "01");
  const std::string waypoint_span = tp.substr(36, 16);
  EXPECT_NE(waypoint_span, caller_span);
  EXPECT_EQ(seen.header("x-b3-traceid"), caller_trace);
  EXPECT_EQ(seen.header("x-b3-spanid"), waypoint_span);
  EXPECT_EQ(seen.header("x-b3-parentspanid"), caller_span);
  EXPECT_EQ(seen.header("x-b3-sampled"), "1");

  // The span is sent within a flush interval or two (bounded wait).
  nlohmann::json span;
  std::vector<std::string> trace_ids;
  for (int i = 0; i < 500 && span.is_null(); ++i) {
    trace_ids.clear();
    for (const auto& post : zipkin_->requests()) {
      EXPECT_EQ(post.method, "POST");
      EXPECT_EQ(post.target, "/api/v2/spans");
      auto batch = nlohmann::json::parse(post.body, nullptr, false);
      ASSERT_TRUE(batch.is_array()) << post.body;
      for (const auto& s : batch) {
        trace_ids.push_back(s.value("traceId", ""));
        if (s.value("traceId", "") == caller_trace) span = s;
      }
    }
    if (span.is_null()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(span.is_null()) << output();
  EXPECT_EQ(span["id"], waypoint_span);
  EXPECT_EQ(span["parentId"], caller_span);
  EXPECT_EQ(span["name"], "reviews.demo.svc.cluster.local:9080/*");
  EXPECT_EQ(span["kind"], "SERVER");
  EXPECT_EQ(span["localEndpoint"]["serviceName"], "waypoint.demo");
  EXPECT_EQ(span["tags"]["http.status_code"], "200");
  EXPECT_EQ(span["tags"]["http.method"], "GET");
  EXPECT_EQ(span["tags"]["upstream_workload"], "demo/reviews-v2");
  EXPECT_GT(span["duration"].get<uint64_t>(), 0u);
  // The unsampled request came first: had it made a span, it would be here by now.
  EXPECT_EQ(std::count(trace_ids.begin(), trace_ids.end(), unsampled_trace), 0);
}

TEST_F(WaypointIntegrationTest, GrpcCallsCrossTheWaypointOverHttp2) {
  GrpcBackend backend(ip(2, 11) + ":9500");
  auto c = socksConnect(ip(1, 10), a_.socks, ip(0, 23), 9500);
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  // gRPC takes a descriptor of its own (and closes it); the test's closes at the end.
  auto channel = grpc::CreateInsecureChannelFromFd("grpc-echo.demo.svc.cluster.local:9500", ::dup(c.fd.get()));
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };

  // A unary call; the backend's trailing metadata comes back in the trailers.
  auto ca = istio::v1::auth::IstioCertificateService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    istio::v1::auth::IstioCertificateRequest req;
    req.set_csr("hello");
    istio::v1::auth::IstioCertificateResponse resp;
    auto st = ca->CreateCertificate(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message() << "\n" << output();
    ASSERT_EQ(resp.cert_chain_size(), 1);
    EXPECT_EQ(resp.cert_chain(0), "echo:hello");
    auto trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find("x-trailer");
    ASSERT_NE(it, trailers.end());
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), "yes");
  }
  // The backend's error, trailers-only.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    istio::v1::auth::IstioCertificateRequest req;
    req.set_csr("fail");
    istio::v1::auth::IstioCertificateResponse resp;
    auto st = ca->CreateCertificate(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
    EXPECT_EQ(st.error_message(), "no such thing");
  }
  // A streaming answer: three messages per request, then the status.
  auto ads = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    auto stream = ads->StreamAggregatedResources(&ctx);
    for (const char* type : {"type.a", "type.b"}) {
      envoy::service::discovery::v3::DiscoveryRequest req;
      req.set_type_url(type);
      ASSERT_TRUE(stream->Write(req));
    }
    ASSERT_TRUE(stream->WritesDone());
    std::vector<std::string> got;
    envoy::service::discovery::v3::DiscoveryResponse resp;
    for (int i = 0; i < 20 && stream->Read(&resp); ++i) got.push_back(resp.type_url() + "@" + resp.version_info());
    auto st = stream->Finish();
    EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message() << "\n" << output();
    EXPECT_EQ(got, (std::vector<std::string>{"type.a@1", "type.a@2", "type.a@3", "type.b@1", "type.b@2",
                                             "type.b@3"}));
  }
  // Bidirectional: each request waits for its answers before the next goes
  // (the request body streams through the waypoint as it is written).
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    auto stream = ads->StreamAggregatedResources(&ctx);
    std::vector<std::string> got;
    for (const char* type : {"type.x", "type.y", "type.z"}) {
      envoy::service::discovery::v3::DiscoveryRequest req;
      req.set_type_url(type);
      ASSERT_TRUE(stream->Write(req)) << type;
      envoy::service::discovery::v3::DiscoveryResponse resp;
      for (int v = 0; v < 3 && stream->Read(&resp); ++v) got.push_back(resp.type_url() + "@" + resp.version_info());
    }
    ASSERT_TRUE(stream->WritesDone());
    auto st = stream->Finish();
    EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message() << "\n" << output();
    EXPECT_EQ(got, (std::vector<std::string>{"type.x@1", "type.x@2", "type.x@3", "type.y@1", "type.y@2", "type.y@3",
                                             "type.z@1", "type.z@2", "type.z@3"}));
  }
  // Denied by the waypoint's own policy: a gRPC caller gets PERMISSION_DENIED.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    auto stream = ads->DeltaAggregatedResources(&ctx);
    stream->WritesDone();
    envoy::service::discovery::v3::DeltaDiscoveryResponse resp;
    EXPECT_FALSE(stream->Read(&resp));
    auto st = stream->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
    EXPECT_EQ(st.error_message(), "RBAC: access denied");
  }
  // An HTTP/1.1 client to the same port: its request goes upstream as
  // HTTP/2 all the same (the port is declared grpc), and the answer comes
  // back chunked (trailers are not passed to HTTP/1.1 clients).
  {
    auto h1 = socksConnect(ip(1, 10), a_.socks, ip(0, 23), 9500);
    ASSERT_EQ(h1.reply, 0);
    // A gRPC frame: not compressed, 4 bytes of length, IstioCertificateRequest{csr: "hi"}.
    const std::string message("\x0a\x02hi", 4);
    std::string frame("\0\0\0\0", 4);
    frame += static_cast<char>(message.size());
    frame += message;
    auto r = httpExchange(h1.fd.get(), "POST", "/istio.v1.auth.IstioCertificateService/CreateCertificate",
                          {{"host", "grpc-echo:9500"}, {"content-type", "application/grpc"}, {"te", "trailers"}},
                          frame);
    EXPECT_EQ(r.status, 200) << output();
    EXPECT_EQ(r.header("content-type"), "application/grpc");
    EXPECT_THAT(r.body, HasSubstr("echo:hi"));
  }
  // Istio's gRPC labels on the request metrics.
  auto metrics = httpGet(w_.stats, "/stats/prometheus");
  EXPECT_THAT(metrics, HasSubstr("request_protocol=\"grpc\""));
  for (const char* status : {"0", "5", "7"}) {
    EXPECT_THAT(metrics, HasSubstr(std::string("grpc_response_status=\"") + status + "\""));
  }
}

}  // namespace
}  // namespace ambit::test
