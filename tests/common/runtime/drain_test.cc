// Drain over real sockets: a listener per worker, live connections, a deadline.
#include "common/runtime/drain.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <future>
#include <set>

#include "common/runtime/listener.h"

namespace ambit::runtime {
namespace {

using asio::ip::tcp;

// Echoes lines; on drain, says "draining" so the client knows it should leave.
asio::awaitable<void> echo(tcp::socket& s, ConnectionContext& ctx) {
  auto msg = std::make_shared<std::string>("draining\n");
  ctx.drain.onDrain([&s, msg] { asio::async_write(s, asio::buffer(*msg), [msg](auto, auto) {}); });
  char buf[1024];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf, n), asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec) break;
  }
}

class DrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.start();
    auto l = Listener::start(pool_, drain_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), echo,
                             {.name = "drain-test"});
    ASSERT_TRUE(l.ok()) << l.error().message;
    listener_ = std::move(*l);
  }
  void TearDown() override {
    listener_.reset();
    pool_.stop();
  }

  tcp::socket connect() {
    tcp::socket s(client_ctx_);
    s.connect(listener_->localEndpoint());
    return s;
  }

  static std::string roundTrip(tcp::socket& s, const std::string& line) {
    asio::write(s, asio::buffer(line));
    asio::streambuf buf;
    asio::read_until(s, buf, '\n');
    return std::string(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  }

  WorkerPool pool_{2, "drain"};
  Drain drain_;
  std::unique_ptr<Listener> listener_;
  asio::io_context client_ctx_;
};

TEST_F(DrainTest, ListenerServesManyClientsAndTracksThem) {
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connect());
    EXPECT_EQ(roundTrip(clients.back(), "hello " + std::to_string(i) + "\n"), "hello " + std::to_string(i) + "\n");
  }
  EXPECT_EQ(drain_.active(), 8u);
}

TEST_F(DrainTest, FinishesLiveConnectionsAndCutsTheRestAtTheDeadline) {
  tcp::socket polite = connect();
  tcp::socket stubborn = connect();
  ASSERT_EQ(roundTrip(polite, "a\n"), "a\n");
  ASSERT_EQ(roundTrip(stubborn, "b\n"), "b\n");
  ASSERT_EQ(drain_.active(), 2u);

  auto outcome = std::async(std::launch::async, [&] { return drain_.drainAndWait(std::chrono::milliseconds(1500)); });

  // The polite client hears about the drain and leaves before the deadline.
  asio::streambuf buf;
  asio::read_until(polite, buf, '\n');
  EXPECT_EQ(std::string(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data())), "draining\n");
  polite.close();

  // New connections are refused once the drain has started.
  tcp::socket late(client_ctx_);
  boost::system::error_code ec;
  late.connect(listener_->localEndpoint(), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);

  Drain::Outcome o = outcome.get();
  EXPECT_EQ(o.finished, 1u);
  EXPECT_EQ(o.cut, 1u);
  EXPECT_TRUE(o.all_closed);
  EXPECT_EQ(drain_.active(), 0u);

  // The stubborn client was cut: after its drain notice it reads EOF.
  asio::streambuf rest;
  boost::system::error_code rec;
  asio::read(stubborn, rest, rec);
  EXPECT_TRUE(rec == asio::error::eof || rec == asio::error::connection_reset) << rec.message();
}

TEST_F(DrainTest, NothingLiveReturnsAtOnce) {
  auto start = std::chrono::steady_clock::now();
  auto o = drain_.drainAndWait(std::chrono::seconds(30));
  EXPECT_EQ(o.finished + o.cut, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(DrainUnitTest, HandleReportsDrainingAndRunsLateCallbacksAtOnce) {
  asio::io_context ctx;
  Drain d;
  auto h = d.track(ctx.get_executor(), [] {});
  EXPECT_FALSE(h.draining());
  std::thread t([&] { d.drainAndWait(std::chrono::milliseconds(0), std::chrono::milliseconds(0)); });
  t.join();
  EXPECT_TRUE(h.draining());
  bool called = false;
  h.onDrain([&] { called = true; });
  EXPECT_TRUE(called);
  h = Drain::Handle();
  EXPECT_EQ(d.active(), 0u);
}

}  // namespace
}  // namespace ambit::runtime
