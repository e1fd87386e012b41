// HBONE end to end on loopback: our client pool against our server, real mTLS
// with test certificates, on one io_context (no sleeps; a guard bounds a hang).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/hbone/connection.h"
#include "common/hbone/pool.h"
#include "common/hbone/tls_io.h"
#include "common/hbone/tunnel.h"
#include "common/tls/tls_context.h"
#include "tests/support/hbone_echo.h"
#include "tests/support/test_certs.h"

namespace ambit::hbone {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr auto kGuard = 30s;  // a bound on a hang, not a wait

class HboneTest : public ::testing::Test {
 protected:
  HboneTest()
      : client_id_(pki_.identity("demo", "client")),
        server_id_(pki_.identity("demo", "server")),
        client_ctx_(tls::adoptContext(test::unwrap(tls::makeClientContext(
            std::make_shared<tls::CertificateStore>(pki_.bundleFor(client_id_)), {}, pki_.trustDomain())))),
        server_ctx_(tls::adoptContext(test::unwrap(tls::makeServerContext(
            std::make_shared<tls::CertificateStore>(pki_.bundleFor(server_id_)), {}, pki_.trustDomain())))),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, acceptLoop(), asio::detached);
  }

  asio::awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serveOne(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> serveOne(tcp::socket sock) {
    TlsStream tls(std::move(sock), server_ctx_);
    auto st = co_await acceptTls(tls, 5s);
    if (!st) {
      server_errors_.push_back(st.error().message);
      co_return;
    }
    auto c = Connection::create(std::move(tls), Connection::Role::kServer, server_limits_, handler_);
    server_conns_.push_back(c);
    co_await c->run();
  }

  ClientPool::Dialer dialer(tls::Identity expected) {
    return [this, expected]() { return dialTls(tcp::socket(io_), client_ctx_, acceptor_.local_endpoint(), expected, 5s); };
  }


  // Runs `body` to completion on the io_context (with everything else it needs).
  void run(std::function<asio::awaitable<void>()> body) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      error = e;
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + kGuard;
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_for(100ms);
    ASSERT_TRUE(done) << "test coroutine did not finish within the guard";
    if (error) std::rethrow_exception(error);
  }

  static asio::awaitable<std::string> readAll(Stream& s) {
    std::string out;
    std::vector<char> buf(65536);
    for (;;) {
      auto n = co_await s.read(asio::buffer(buf));
      if (n == 0) co_return out;
      out.append(buf.data(), n);
    }
  }

  asio::io_context io_;
  test::TestPki pki_;
  tls::Identity client_id_;
  tls::Identity server_id_;
  asio::ssl::context client_ctx_;
  asio::ssl::context server_ctx_;
  tcp::acceptor acceptor_;
  H2Limits server_limits_;
  Connection::RequestHandler handler_ = test::echoTunnel;
  std::vector<std::shared_ptr<Connection>> server_conns_;
  std::vector<std::string> server_errors_;
  // co_await arguments are named objects, never temporaries (GCC 12 mishandles
  // braced temporaries in co_await expressions: destroyed twice).
  PoolKey key_{client_id_.toString(), server_id_.toString(), "server", ""};
  ClientPool::Dialer dialer_ = dialer(server_id_);
  std::string authority_ = "198.18.0.2:8080";
  std::vector<Header> no_headers_;
};

TEST_F(HboneTest, EchoThroughTunnelWithHalfClose) {
  std::vector<Header> seen;
  handler_ = [&](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
    seen = s->headers();
    co_await test::echoTunnel(s);
  };
  std::vector<Header> extra;
  extra.push_back(Header{"forwarded", "for=\"198.18.0.1\""});
  extra.push_back(Header{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"});
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto s = co_await pool.open(key_, dialer_, authority_, extra);
    EXPECT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(co_await (*s)->response(), 200);
    co_await (*s)->write(asio::buffer(std::string("hello through HBONE")));
    (*s)->closeWrite();
    EXPECT_EQ(co_await readAll(**s), "hello through HBONE");
  });
  std::map<std::string, std::string> h;
  for (const auto& x : seen) h[x.name] = x.value;
  EXPECT_EQ(h[":method"], "CONNECT");
  EXPECT_EQ(h[":authority"], "198.18.0.2:8080");
  EXPECT_EQ(h["forwarded"], "for=\"198.18.0.1\"");
  EXPECT_THAT(h["traceparent"], HasSubstr("0af7651916cd43dd8448eb211c80319c"));
  EXPECT_EQ(h.count(":path"), 0u);
}

TEST_F(HboneTest, LargeTransferRespectsFlowControl) {
  // 24 MiB each way: more than the stream (4 MiB) and connection (16 MiB)
  // windows, so it only completes if windows reopen as the reader consumes.
  constexpr std::size_t kSize = 24u << 20;
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto s = co_await pool.open(key_, dialer_, authority_, no_headers_);
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(co_await (*s)->response(), 200);
    auto stream = *s;
    asio::co_spawn(
        io_,
        [stream]() -> asio::awaitable<void> {
          std::string chunk(65536, 'x');
          for (std::size_t sent = 0; sent < kSize; sent += chunk.size()) {
            for (std::size_t i = 0; i < chunk.size(); i += 4096) chunk[i] = static_cast<char>('a' + (sent / 65536) % 26);
            co_await stream->write(asio::buffer(chunk));
          }
          stream->closeWrite();
        },
        asio::detached);
    auto got = co_await readAll(*stream);
    EXPECT_EQ(got.size(), kSize);
    EXPECT_EQ(got[65536 * 3], 'd');
  });
}

TEST_F(HboneTest, WrongPeerIdentityFailsTheDial) {
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto wrong = dialer(pki_.identity("demo", "someone-else"));
    auto s = co_await pool.open(key_, wrong, authority_, no_headers_);
    EXPECT_FALSE(s.ok());
    if (!s) {
      EXPECT_THAT(s.error().message, HasSubstr("TLS"));
    }
    EXPECT_EQ(pool.connections(), 0u);
  });
}

TEST_F(HboneTest, ErrorStatusEndsTheTunnelAndBlocksWrites) {
  handler_ = [](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
    s->respond(401);
    co_return;
  };
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto s = co_await pool.open(key_, dialer_, authority_, no_headers_);
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(co_await (*s)->response(), 401);
    bool threw = false;
    try {
      co_await (*s)->write(asio::buffer(std::string("must not be sent")));
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw) << "the client must never send application bytes without a 200";
  });
}

TEST_F(HboneTest, PoolSharesConnectionsUpToTheStreamLimit) {
  handler_ = [](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
    s->respond(200);
    std::vector<char> buf(64);
    while (co_await s->read(asio::buffer(buf)) > 0) {
    }
    s->closeWrite();
  };
  run([&]() -> asio::awaitable<void> {
    PoolOptions opts;
    opts.max_streams_per_connection = 10;
    ClientPool pool(io_.get_executor(), opts);
    std::vector<std::shared_ptr<Stream>> streams;
    for (int i = 0; i < 25; ++i) {
      auto s = co_await pool.open(key_, dialer_, authority_, no_headers_);
      EXPECT_TRUE(s.ok());
      if (s) streams.push_back(*s);
    }
    for (auto& s : streams) EXPECT_EQ(co_await s->response(), 200);
    EXPECT_EQ(pool.connections(), 3u);
    for (auto& s : streams) s->closeWrite();
    for (auto& s : streams) EXPECT_EQ(co_await readAll(*s), "");
  });
}

TEST_F(HboneTest, IdleConnectionsAreReleased) {
  run([&]() -> asio::awaitable<void> {
    PoolOptions opts;
    opts.idle_timeout = 50ms;
    ClientPool pool(io_.get_executor(), opts);
    auto s = co_await pool.open(key_, dialer_, authority_, no_headers_);
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(co_await (*s)->response(), 200);
    (*s)->closeWrite();
    EXPECT_EQ(co_await readAll(**s), "");
    EXPECT_EQ(pool.connections(), 1u);
    asio::steady_timer t(io_);
    for (int i = 0; i < 100 && pool.connections() > 0; ++i) {
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(pool.connections(), 0u);
  });
}

TEST_F(HboneTest, StreamRefusedByADrainingServerIsRetriedOnANewConnection) {
  // A draining server's GOAWAY crosses our next CONNECT (hardening.md 13): the
  // server drops it unprocessed, the client sees REFUSED_STREAM and retries on
  // a new connection; the stream already open on the old one carries on.
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto first = co_await pool.connect(key_, dialer_, authority_, no_headers_, 5s);
    EXPECT_EQ(first.status, 200) << first.error;
    EXPECT_EQ(server_conns_.size(), 1u);
    if (server_conns_.size() != 1u || first.status != 200) co_return;
    // No I/O runs between these two lines: the client sends HEADERS before it
    // can have read the GOAWAY.
    server_conns_[0]->goAway();
    auto second = co_await pool.connect(key_, dialer_, authority_, no_headers_, 5s);
    EXPECT_EQ(second.status, 200) << second.error;
    EXPECT_EQ(server_conns_.size(), 2u);
    if (second.stream) {
      EXPECT_NE(&second.stream->connection(), &first.stream->connection());
    }
    co_await first.stream->write(asio::buffer(std::string("still open")));
    first.stream->closeWrite();
    EXPECT_EQ(co_await readAll(*first.stream), "still open");
  });
}

TEST_F(HboneTest, AStreamRefusedEveryTimeGivesUpWithTheReason) {
  // A server that refuses every stream: three attempts, then the reason.
  handler_ = [](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
    s->reset(7 /* REFUSED_STREAM */);
    co_return;
  };
  run([&]() -> asio::awaitable<void> {
    ClientPool pool(io_.get_executor(), {});
    auto t = co_await pool.connect(key_, dialer_, authority_, no_headers_, 5s);
    EXPECT_EQ(t.status, 0);
    EXPECT_THAT(t.error, HasSubstr("REFUSED_STREAM"));
    EXPECT_TRUE(t.stream && t.stream->refused());
  });
}

}  // namespace
}  // namespace ambit::hbone
