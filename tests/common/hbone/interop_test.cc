// HBONE against an independent HTTP/2 implementation (python3-h2 over Python's
// ssl), both directions, and the HTTP/2 abuse cases of hardening.md 1-3 sent
// by that client: each must end in a refusal or a closed connection, and the
// server must go on serving.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/hbone/connection.h"
#include "common/hbone/pool.h"
#include "common/hbone/tls_io.h"
#include "common/tls/tls_context.h"
#include "tests/support/hbone_echo.h"
#include "tests/support/test_certs.h"

namespace ambit::hbone {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

const std::string kScripts = std::string(AMBIT_SOURCE_DIR) + "/tests/interop/";

void writeFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Runs a command (bounded by coreutils' timeout) and returns its stdout.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(("timeout 60 " + cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  ::pclose(f);
  return out;
}

class HboneInteropTest : public ::testing::Test {
 protected:
  HboneInteropTest()
      : server_id_(pki_.identity("demo", "server")),
        client_id_(pki_.identity("demo", "client")),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    char tmpl[] = "/tmp/ambit-test-h2interop-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto server_leaf = pki_.issueLeaf(server_id_);
    auto client_leaf = pki_.issueLeaf(client_id_);
    writeFile(dir_ + "/root.pem", pki_.rootPem());
    writeFile(dir_ + "/server.pem", tls::toPem(server_leaf.cert.get()) + tls::toPem(server_leaf.intermediates));
    writeFile(dir_ + "/server.key", tls::privateKeyToPem(server_leaf.key.get()));
    writeFile(dir_ + "/client.pem", tls::toPem(client_leaf.cert.get()) + tls::toPem(client_leaf.intermediates));
    writeFile(dir_ + "/client.key", tls::privateKeyToPem(client_leaf.key.get()));
    server_ctx_ = std::make_unique<asio::ssl::context>(tls::adoptContext(test::unwrap(tls::makeServerContext(
        std::make_shared<tls::CertificateStore>(pki_.bundle(server_leaf)), {}, pki_.trustDomain()))));
    client_ctx_ = std::make_unique<asio::ssl::context>(tls::adoptContext(test::unwrap(tls::makeClientContext(
        std::make_shared<tls::CertificateStore>(pki_.bundle(client_leaf)), {}, pki_.trustDomain()))));
    asio::co_spawn(io_, acceptLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~HboneInteropTest() override {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& c : conns_) c->close("test over");
    });
    work_.reset();
    io_.stop();
    thread_.join();
    fs::remove_all(dir_);
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket sock) {
    TlsStream tls(std::move(sock), *server_ctx_);
    if (!co_await acceptTls(tls, 5s)) co_return;
    auto c = Connection::create(std::move(tls), Connection::Role::kServer, H2Limits{}, test::echoTunnel);
    conns_.push_back(c);
    co_await c->run();
  }

  std::string client(const std::string& scenario) {
    return run("/usr/bin/python3 " + kScripts + "h2_client.py --port " + std::to_string(acceptor_.local_endpoint().port()) +
               " --ca " + dir_ + "/root.pem --cert " + dir_ + "/client.pem --key " + dir_ + "/client.key --scenario " +
               scenario);
  }

  test::TestPki pki_;
  tls::Identity server_id_;
  tls::Identity client_id_;
  std::string dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> server_ctx_;
  std::unique_ptr<asio::ssl::context> client_ctx_;
  std::vector<std::shared_ptr<Connection>> conns_;
  std::thread thread_;
};

TEST_F(HboneInteropTest, PythonClientTunnelsThroughOurServer) {
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

TEST_F(HboneInteropTest, RequestValidation) {
  EXPECT_THAT(client("get"), HasSubstr("RESULT status=400"));            // not CONNECT
  EXPECT_THAT(client("bad_authority"), HasSubstr("RESULT status=400"));  // a host name, not ip:port
}

TEST_F(HboneInteropTest, RapidResetEndsTheConnectionAndTheServerGoesOn) {
  EXPECT_THAT(client("rapid_reset"), HasSubstr("closed=1"));
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

TEST_F(HboneInteropTest, OversizedHeaderBlockIsRefused) {
  auto out = client("header_flood");
  EXPECT_THAT(out, ::testing::Not(HasSubstr("status=200"))) << out;
  EXPECT_THAT(out, ::testing::AnyOf(HasSubstr("reset=1"), HasSubstr("closed=1"))) << out;
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

// Each flood ends its connection at a cap (nghttp2's CONTINUATION limit, its
// queue of unsent PING/SETTINGS acks); the server goes on serving.
TEST_F(HboneInteropTest, ContinuationFloodClosesTheConnection) {
  EXPECT_THAT(client("continuation_flood"), HasSubstr("RESULT closed=1"));
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

TEST_F(HboneInteropTest, PingFloodClosesTheConnection) {
  EXPECT_THAT(client("ping_flood"), HasSubstr("RESULT closed=1"));
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

// No acks pile up for these: our own caps (common/hbone/flood.h) end them.
TEST_F(HboneInteropTest, WindowUpdateAndPriorityFloodsCloseTheConnection) {
  EXPECT_THAT(client("window_update_flood"), HasSubstr("RESULT closed=1"));
  EXPECT_THAT(client("priority_flood"), HasSubstr("RESULT closed=1"));
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

TEST_F(HboneInteropTest, SettingsFloodClosesTheConnection) {
  EXPECT_THAT(client("settings_flood"), HasSubstr("RESULT closed=1"));
  EXPECT_THAT(client("connect"), HasSubstr("RESULT status=200 echoed=1"));
}

TEST_F(HboneInteropTest, OurClientTunnelsThroughPythonServerWithoutEarlyData) {
  std::string cmd = "timeout 60 /usr/bin/python3 " + kScripts + "h2_server.py --ca " + dir_ + "/root.pem --cert " + dir_ +
                    "/server.pem --key " + dir_ + "/server.key --requests 1";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), f), nullptr);
  std::string listening(line);
  ASSERT_THAT(listening, HasSubstr("LISTENING "));
  uint16_t port = static_cast<uint16_t>(std::stoi(listening.substr(10)));

  auto result = asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<std::string> {
        ClientPool pool(io_.get_executor(), {});
        auto dial = [&]() {
          return dialTls(tcp::socket(io_), *client_ctx_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                         server_id_, 5s);
        };
        // Named locals, not temporaries, in co_await arguments: GCC 12 mishandles
        // braced temporaries there (destroyed twice).
        PoolKey key{client_id_.toString(), server_id_.toString(), "py", ""};
        ClientPool::Dialer dialer = dial;
        std::string authority = "198.18.0.2:8080";
        std::vector<Header> headers;
        auto s = co_await pool.open(key, dialer, authority, headers);
        if (!s) co_return "open: " + s.error().message;
        int status = co_await (*s)->response();
        if (status != 200) co_return "status " + std::to_string(status);
        co_await (*s)->write(asio::buffer(std::string("from ambit")));
        (*s)->closeWrite();
        std::string got;
        std::vector<char> buf(1024);
        for (;;) {
          auto n = co_await (*s)->read(asio::buffer(buf));
          if (n == 0) break;
          got.append(buf.data(), n);
        }
        co_return got;
      },
      asio::use_future);
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(result.get(), "from ambit");
  std::string rest;
  while (std::fgets(line, sizeof(line), f) != nullptr) rest += line;
  ::pclose(f);
  EXPECT_THAT(rest, HasSubstr("CONNECT 198.18.0.2:8080 early_data=0"));
}

}  // namespace
}  // namespace ambit::hbone
