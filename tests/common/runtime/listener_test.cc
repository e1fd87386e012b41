// The listener over real sockets: where accepted connections are served.
#include "common/runtime/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <set>

namespace ambit::runtime {
namespace {

using asio::ip::tcp;

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override { pool_.start(); }
  void TearDown() override {
    listener_.reset();
    pool_.stop();
  }

  // Starts a listener whose connections answer each line with "<worker> <on its thread>".
  void listen(ListenerOptions options) {
    auto handler = [this](tcp::socket& s, ConnectionContext& ctx) -> asio::awaitable<void> {
      char buf[256];
      for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        bool on_thread = pool_.context(ctx.worker).get_executor().running_in_this_thread();
        auto reply = fmt::format("{} {}\n", ctx.worker, on_thread ? "yes" : "no");
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
        (void)wn;
        if (wec) break;
      }
    };
    auto l = Listener::start(pool_, drain_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), handler,
                             std::move(options));
    ASSERT_TRUE(l.ok()) << l.error().message;
    listener_ = std::move(*l);
  }

  // Connects and asks where it is served; returns the worker.
  std::size_t connectAndAsk(std::vector<tcp::socket>& keep) {
    keep.emplace_back(client_ctx_);
    keep.back().connect(listener_->localEndpoint());
    asio::write(keep.back(), asio::buffer("where?\n", 7));
    asio::streambuf buf;
    asio::read_until(keep.back(), buf, '\n');
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
    EXPECT_TRUE(line.ends_with(" yes\n")) << "served off its worker's thread: " << line;
    return std::stoul(line);
  }

  WorkerPool pool_{3, "listen"};
  Drain drain_;
  std::unique_ptr<Listener> listener_;
  asio::io_context client_ctx_;
};

// Whatever the kernel's SO_REUSEPORT hash does with a few long connections,
// each worker gets its share, on its own thread.
TEST_F(ListenerTest, LongConnectionsAreSpreadEvenlyOverWorkers) {
  listen({.name = "spread"});
  std::vector<tcp::socket> clients;
  std::vector<std::size_t> per_worker(pool_.size());
  for (int i = 0; i < 9; ++i) ++per_worker[connectAndAsk(clients)];
  EXPECT_EQ(per_worker, (std::vector<std::size_t>{3, 3, 3}));
  for (std::size_t w = 0; w < pool_.size(); ++w) EXPECT_EQ(pool_.load(w), 3u) << "worker " << w;
  EXPECT_EQ(drain_.active(), 9u);
}

// A single acceptor (no SO_REUSEPORT) still places connections on every worker.
TEST_F(ListenerTest, OneAcceptorStillSpreads) {
  listen({.name = "single", .reuse_port = false});
  std::vector<tcp::socket> clients;
  std::set<std::size_t> workers;
  for (int i = 0; i < 3; ++i) workers.insert(connectAndAsk(clients));
  EXPECT_EQ(workers, (std::set<std::size_t>{0, 1, 2}));
}

// A connection that ends gives its worker's slot back, so the next one goes there.
TEST_F(ListenerTest, AClosedConnectionFreesItsWorker) {
  listen({.name = "free"});
  std::vector<tcp::socket> clients;
  std::vector<std::size_t> where;
  for (int i = 0; i < 3; ++i) where.push_back(connectAndAsk(clients));
  std::size_t freed = where[1];
  clients[1].close();
  // The handler sees EOF and returns; bounded wait for its worker's count to drop.
  for (int i = 0; i < 500 && pool_.load(freed) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(pool_.load(freed), 0u);
  EXPECT_EQ(connectAndAsk(clients), freed);
}

}  // namespace
}  // namespace ambit::runtime
