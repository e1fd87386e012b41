// A mesh on loopback with real processes: ambitd (xDS + CA over TLS) and two
// ztunnels in shared mode, each posing as a node, with real TCP servers and
// clients. Workload addresses are 127.<random>.x.y so parallel runs never collide.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "common/hbone/connection.h"
#include "common/hbone/tls_io.h"
#include "common/tls/cert_builder.h"
#include "common/tls/tls_context.h"
#include "ztunnel/identity/manager.h"
#include "common/tls/openssl_ptr.h"
#include "tests/support/hbone_echo.h"
#include "tests/support/mesh.h"
#include "tests/support/process.h"
#include "tests/support/sockets.h"
#include "tests/support/test_certs.h"

namespace ambit::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ZtunnelIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Random 127.A.B.x addresses so tests running in parallel stay apart; on
    // the rare draw another test holds, draw again (bounded).
    std::random_device rd;
    for (int attempt = 0; attempt < 10 && !backend_; ++attempt) {
      net_ = "127." + std::to_string(100 + rd() % 150) + ".";
      int b = block_ = static_cast<int>(rd() % 25) * 10;
      client_ip_ = net_ + std::to_string(b + 1) + ".10";
      backend_ip_ = net_ + std::to_string(b + 2) + ".10";
      vip_ = net_ + std::to_string(b) + ".10";
      outside_ip_ = net_ + std::to_string(b + 9) + ".9";
      try {
        backend_ = std::make_unique<EchoServer>(backend_ip_, 8080);
        outside_ = std::make_unique<EchoServer>(outside_ip_, 0);
      } catch (const std::exception&) {
        backend_.reset();
      }
    }
    ASSERT_TRUE(backend_ && outside_) << "no free 127.x address block after 10 draws";
    char tmpl[] = "/tmp/ambit-test-ztunnel-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/config");
    writeConfig("mesh.yaml", meshYaml());
    std::ofstream(dir_ + "/tokens.yaml") << "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n"
                                            "- {name: node-b, token: node-b-token-0123456789}\n"
                                            "workloads:\n- {namespace: demo, serviceAccount: waypoint, "
                                            "token: waypoint-token-0123456789}\n";
    std::ofstream(dir_ + "/a.token") << "node-a-token-0123456789\n";
    std::ofstream(dir_ + "/b.token") << "node-b-token-0123456789\n";
    ambitd_ = startAmbitd(dir_, &tls_port_);
    ASSERT_TRUE(ambitd_);
    a_ = startZtunnel("node-a", "a.token");
    b_ = startZtunnel("node-b", "b.token");
    ASSERT_TRUE(a_.proc && b_.proc);
    ASSERT_TRUE(a_.proc->waitForLine("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/client", 20s))
        << a_.proc->output();
    ASSERT_TRUE(b_.proc->waitForLine("certificate_ready identity=spiffe://cluster.local/ns/demo/sa/backend", 20s))
        << b_.proc->output();
  }

  void TearDown() override {
    for (auto* z : {&a_, &b_}) {
      if (z->proc) {
        EXPECT_EQ(z->proc->stop(), 0) << z->proc->output();
      }
    }
    if (ambitd_) {
      EXPECT_EQ(ambitd_->stop(), 0) << ambitd_->output();
    }
    backend_.reset();
    outside_.reset();
    fs::remove_all(dir_);
  }

  using Ztunnel = ZtunnelProcess;

  Ztunnel startZtunnel(const std::string& node, const std::string& token) {
    return test::startZtunnel(dir_, tls_port_, node, token, {"--ca.certificate_ttl", certificate_ttl_});
  }

  std::string meshYaml() const { return twoNodeMeshYaml(client_ip_, backend_ip_, vip_); }

  void writeConfig(const std::string& name, const std::string& content) {
    std::string tmp = dir_ + "/config/." + name + ".tmp";
    std::ofstream(tmp) << content;
    fs::rename(tmp, dir_ + "/config/" + name);
  }

  // An address in this test's block: 127.A.(block + third).fourth.
  std::string ip(int third, int fourth) const { return net_ + std::to_string(block_ + third) + "." + std::to_string(fourth); }

  int block_ = 0;
  std::string certificate_ttl_ = "24h";
  std::string net_, client_ip_, backend_ip_, vip_, outside_ip_;
  std::string dir_;
  std::string tls_port_;
  std::unique_ptr<EchoServer> backend_;
  std::unique_ptr<EchoServer> outside_;
  std::unique_ptr<ChildProcess> ambitd_;
  Ztunnel a_;
  Ztunnel b_;
};

TEST_F(ZtunnelIntegrationTest, ServiceTrafficCrossesNodesOverMutualTls) {
  auto c = socksConnect(client_ip_, a_.socks, vip_, 80);
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  EXPECT_EQ(roundTrip(c.fd.get(), "hello through the mesh"), "hello through the mesh");
  ::shutdown(c.fd.get(), SHUT_WR);
  EXPECT_TRUE(waitClosed(c.fd.get(), 10000));
  EXPECT_EQ(backend_->accepted(), 1);

  // Both proxies report the connection as mutual TLS, with the peers' identities.
  ASSERT_TRUE(b_.proc->waitForLine("msg=access direction=inbound", 10s)) << b_.proc->output();
  auto dst = httpGet(b_.stats, "/stats/prometheus");
  EXPECT_THAT(dst, HasSubstr("istio_tcp_connections_opened_total{reporter=\"destination\",source_workload=\"client\""));
  EXPECT_THAT(dst, HasSubstr("source_principal=\"spiffe://cluster.local/ns/demo/sa/client\""));
  EXPECT_THAT(dst, HasSubstr("connection_security_policy=\"mutual_tls\"} 1"));
  ASSERT_TRUE(a_.proc->waitForLine("msg=access direction=outbound", 10s));
  auto src = httpGet(a_.stats, "/stats/prometheus");
  EXPECT_THAT(src, HasSubstr("istio_tcp_sent_bytes_total{reporter=\"source\""));
  EXPECT_THAT(src, HasSubstr("destination_service=\"backend.demo.svc.cluster.local\""));
  EXPECT_THAT(src, HasSubstr("destination_principal=\"spiffe://cluster.local/ns/demo/sa/backend\""));
}

TEST_F(ZtunnelIntegrationTest, HbonePortSpeaksTls13WithTheWorkloadsSpiffeIdentity) {
  // What is on the wire between the nodes: TLS 1.3 with ALPN h2, the backend's
  // SPIFFE certificate chaining to ambitd's root, and no service without a
  // client certificate.
  auto root_pem = readFile(dir_ + "/state/root-cert.pem");
  auto roots = tls::parsePemCertificates(root_pem);
  ASSERT_TRUE(roots.ok());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), (*roots)[0].get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const unsigned char alpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn));
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(15008);
  inet_pton(AF_INET, backend_ip_.c_str(), &a.sin_addr);
  timeval tv{10, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd.get());
  EXPECT_EQ(SSL_connect(ssl), 1);
  EXPECT_STREQ(SSL_get_version(ssl), "TLSv1.3");
  const unsigned char* proto = nullptr;
  unsigned int proto_len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &proto_len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(proto), proto_len), "h2");
  X509* peer = SSL_get1_peer_certificate(ssl);
  ASSERT_NE(peer, nullptr);
  EXPECT_THAT(tls::certificateUriSans(peer), ::testing::ElementsAre("spiffe://cluster.local/ns/demo/sa/backend"));
  X509_free(peer);
  // TLS 1.3: the server's verdict on our (missing) certificate arrives as an alert.
  char buf[64];
  EXPECT_LE(SSL_read(ssl, buf, sizeof(buf)), 0);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

TEST_F(ZtunnelIntegrationTest, PolicyIsEnforcedAndAChangeCutsADeniedOpenConnection) {
  auto c = socksConnect(client_ip_, a_.socks, vip_, 80);
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  ASSERT_EQ(roundTrip(c.fd.get(), "before"), "before");

  // Only demo/other may reach the backend now: the open connection is cut and
  // new ones are refused at the destination (401 -> SOCKS "not allowed").
  writeConfig("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-only-other, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/other]}}]}]
)");
  auto cut = b_.proc->waitForLine("msg=connection_late_rejected", 20s);
  ASSERT_TRUE(cut) << b_.proc->output();
  EXPECT_THAT(*cut, HasSubstr("identity=spiffe://cluster.local/ns/demo/sa/client"));
  EXPECT_TRUE(waitClosed(c.fd.get(), 1000)) << "a denied connection must close within 1 s of the policy change";

  auto denied = socksConnect(client_ip_, a_.socks, vip_, 80);
  EXPECT_EQ(denied.reply, 2);
  ASSERT_TRUE(b_.proc->waitForLine("outcome=denied", 10s));
  EXPECT_THAT(httpGet(b_.stats, "/stats/prometheus"), HasSubstr("response_flags=\"DENY\""));

  // A DENY for another principal changes nothing for the client; allowing it again works.
  writeConfig("policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-deny-other, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/other]}}]}]
)");
  ASSERT_TRUE(b_.proc->waitForLine("msg=xds_applied type=type.googleapis.com/istio.security.Authorization", 20s));
  auto again = socksConnect(client_ip_, a_.socks, vip_, 80);
  ASSERT_EQ(again.reply, 0) << b_.proc->output();
  EXPECT_EQ(roundTrip(again.fd.get(), "after"), "after");
}

TEST_F(ZtunnelIntegrationTest, DestinationsOutsideTheMeshPassThrough) {
  auto c = socksConnect(client_ip_, a_.socks, outside_ip_, outside_->port());
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  EXPECT_EQ(roundTrip(c.fd.get(), "plain"), "plain");
  ::shutdown(c.fd.get(), SHUT_WR);
  EXPECT_TRUE(waitClosed(c.fd.get(), 10000));
  auto line = a_.proc->waitForLine("msg=access direction=outbound", 10s);
  ASSERT_TRUE(line);
  EXPECT_THAT(*line, HasSubstr("via=passthrough"));
  EXPECT_EQ(outside_->accepted(), 1);
}

TEST_F(ZtunnelIntegrationTest, OnlyLocalWorkloadsMaySendThroughTheProxy) {
  // The backend runs on node-b: node-a's proxy refuses to speak for it.
  auto c = socksConnect(backend_ip_, a_.socks, vip_, 80);
  EXPECT_EQ(c.reply, 2);
  EXPECT_EQ(backend_->accepted(), 0);
}

// hardening.md 12: with the control plane gone, traffic goes on with the last
// config and the certificates held; reconnects back off; once the
// certificates expire, new connections fail closed, never in plaintext.
class ControlPlaneOutageTest : public ZtunnelIntegrationTest {
 protected:
  void SetUp() override {
    certificate_ttl_ = "5s";  // ambitd backdates by 1 min: valid for ~5 s more, refreshed about every second
    ZtunnelIntegrationTest::SetUp();
  }
};

TEST_F(ControlPlaneOutageTest, TrafficContinuesOnLastConfigThenFailsClosedWhenCertificatesExpire) {
  auto before = socksConnect(client_ip_, a_.socks, vip_, 80);
  ASSERT_EQ(before.reply, 0);
  ASSERT_EQ(roundTrip(before.fd.get(), "up"), "up");
  ASSERT_EQ(ambitd_->stop(), 0);
  ambitd_.reset();

  // Last good config and certificates: new connections still work, the open one too.
  auto during = socksConnect(client_ip_, a_.socks, vip_, 80);
  ASSERT_EQ(during.reply, 0) << a_.proc->output();
  EXPECT_EQ(roundTrip(during.fd.get(), "still here"), "still here");
  EXPECT_EQ(roundTrip(before.fd.get(), "open"), "open");
  auto retry = a_.proc->waitForLine("msg=xds_disconnected", 10s);
  ASSERT_TRUE(retry);
  EXPECT_THAT(*retry, HasSubstr("keeping=\"last good config\""));
  ASSERT_TRUE(a_.proc->waitForLine("msg=certificate_failed", 10s));

  // Certificates run out within ~5 s: then new connections fail closed.
  bool failed_closed = false;
  int accepted_before = 0;
  for (int i = 0; i < 40 && !failed_closed; ++i) {  // bounded: 40 x 250 ms
    accepted_before = backend_->accepted();
    auto c = socksConnect(client_ip_, a_.socks, vip_, 80);
    failed_closed = c.reply != 0;
    if (!failed_closed) std::this_thread::sleep_for(250ms);  // no event marks the expiry instant
  }
  EXPECT_TRUE(failed_closed) << a_.proc->output();
  EXPECT_EQ(backend_->accepted(), accepted_before) << "the refused connection must not reach the backend";
  auto dump = httpGet(a_.stats, "/stats/prometheus");
  EXPECT_THAT(dump, ::testing::Not(HasSubstr("connection_security_policy=\"unknown\"")))
      << "no connection to a mesh workload may go out in plaintext";
}

// A plain HBONE server standing in for a waypoint: it holds the waypoint's
// certificate (from ambitd's CA, with the waypoint's own token), records each
// CONNECT's :authority and echoes the tunnel.
class FakeWaypoint {
 public:
  // `silent`: answer 200, then neither read nor write (a peer that froze).
  FakeWaypoint(const std::string& ip, const std::string& ca_target, const std::string& root_pem, bool silent = false)
      : silent_(silent),
        work_(boost::asio::make_work_guard(io_)),
        identities_(ztunnel::identity::makeGrpcCaClient(ca_target, true, root_pem, "ambitd.istio-system.svc",
                                                        "waypoint-token-0123456789"),
                    {}),
        acceptor_(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(ip), 15008)) {
    identities_.start();
    tls::Identity id{"cluster.local", "demo", "waypoint"};
    identities_.setWanted({id.toString()});
    ctx_ = std::make_unique<boost::asio::ssl::context>(
        tls::adoptContext(unwrap(tls::makeServerContext(identities_.store(id), {}, "cluster.local"))));
    boost::asio::co_spawn(io_, accept(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
    ready_ = boost::asio::co_spawn(io_, identities_.ready(id, 10s), boost::asio::use_future).get();
  }
  ~FakeWaypoint() {
    work_.reset();
    io_.stop();
    thread_.join();
    identities_.stop();
  }
  bool ready() const { return ready_; }
  std::vector<std::string> authorities() {
    std::lock_guard lock(mu_);
    return authorities_;
  }

 private:
  boost::asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      boost::asio::co_spawn(io_, serve(std::move(sock)), boost::asio::detached);
    }
  }
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket sock) {
    hbone::TlsStream tls(std::move(sock), *ctx_);
    if (!co_await hbone::acceptTls(tls, 5s)) co_return;
    auto c = hbone::Connection::create(std::move(tls), hbone::Connection::Role::kServer, {},
                                       [this](std::shared_ptr<hbone::Stream> s) -> boost::asio::awaitable<void> {
                                         {
                                           std::lock_guard lock(mu_);
                                           authorities_.push_back(s->authority());
                                         }
                                         if (silent_) {
                                           s->respond(200);
                                           boost::asio::steady_timer t(io_, 120s);
                                           co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                                           co_return;
                                         }
                                         co_await echoTunnel(s);
                                       });
    co_await c->run();
  }

  bool silent_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  ztunnel::identity::Manager identities_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::thread thread_;
  bool ready_ = false;
  std::mutex mu_;
  std::vector<std::string> authorities_;
};

TEST_F(ZtunnelIntegrationTest, ServicesWithAWaypointAreSentToIt) {
  std::string waypoint_ip = ip(3, 50);
  std::string reviews_vip = ip(0, 20);
  FakeWaypoint waypoint(waypoint_ip, "127.0.0.1:" + tls_port_, readFile(dir_ + "/state/root-cert.pem"));
  ASSERT_TRUE(waypoint.ready()) << ambitd_->output();
  writeConfig("waypoint.yaml", waypointYaml(waypoint_ip, net_ + "0.50", reviews_vip, "backend", "tcp"));

  ASSERT_TRUE(a_.proc->waitForLine("msg=xds_applied type=type.googleapis.com/istio.workload.Address", 20s));
  auto c = socksConnect(client_ip_, a_.socks, reviews_vip, 9080);
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  EXPECT_EQ(roundTrip(c.fd.get(), "via the waypoint"), "via the waypoint");
  // The waypoint is asked for what the app dialled (the service VIP:port), and
  // the backend itself was never reached directly.
  EXPECT_THAT(waypoint.authorities(), ::testing::ElementsAre(reviews_vip + ":9080"));
  EXPECT_EQ(backend_->accepted(), 0);
  ::shutdown(c.fd.get(), SHUT_WR);
  EXPECT_TRUE(waitClosed(c.fd.get(), 10000));
  auto line = a_.proc->waitForLine("msg=access direction=outbound", 10s);
  ASSERT_TRUE(line);
  EXPECT_THAT(*line, HasSubstr("(waypoint)"));
}

// hardening.md 13 (part): at the drain deadline a tunnel ends even when its
// HBONE peer has gone silent; the proxy exits cleanly.
TEST_F(ZtunnelIntegrationTest, DrainEndsATunnelToASilentPeer) {
  std::string waypoint_ip = ip(3, 50);
  std::string reviews_vip = ip(0, 20);
  FakeWaypoint waypoint(waypoint_ip, "127.0.0.1:" + tls_port_, readFile(dir_ + "/state/root-cert.pem"), true);
  ASSERT_TRUE(waypoint.ready());
  writeConfig("waypoint.yaml", waypointYaml(waypoint_ip, net_ + "0.50", reviews_vip, "backend", "tcp"));
  ASSERT_TRUE(a_.proc->waitForLine("msg=xds_applied type=type.googleapis.com/istio.workload.Address", 20s));
  auto c = socksConnect(client_ip_, a_.socks, reviews_vip, 9080);
  ASSERT_EQ(c.reply, 0) << a_.proc->output();
  ::shutdown(c.fd.get(), SHUT_WR);  // the app is done sending; the peer never answers
  EXPECT_EQ(a_.proc->stop(std::chrono::seconds(8)), 0) << a_.proc->output();
  EXPECT_THAT(a_.proc->output(), HasSubstr("all_closed=true"));
  a_.proc.reset();
}

}  // namespace
}  // namespace ambit::test
