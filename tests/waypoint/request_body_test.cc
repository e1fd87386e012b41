// RequestBody: a body that is whole, one that streams from a source (read
// only when a sender waits, one read at a time however many wait), the keep
// limit past which sent bytes are let go and the body is no longer
// replayable, a keep budget shared by a connection's bodies, and a source
// that fails.
#include "waypoint/http/request_body.h"

#include <deque>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

// Gives its pieces one per read, each once `release` is notified (or at
// once when `blocking` is off); fails after them unless `ends`.
struct FakeSource final : BodySource {
  FakeSource(asio::any_io_executor ex, std::deque<std::string> p, bool e) : pieces(std::move(p)), ends(e), release(ex) {}
  asio::awaitable<bool> read(std::string& out, bool& end) override {
    ++reads;
    if (blocking) co_await release.wait();
    if (pieces.empty()) co_return false;
    out += pieces.front();
    pieces.pop_front();
    end = pieces.empty() && ends;
    co_return true;
  }
  std::deque<std::string> pieces;
  bool ends;
  bool blocking = false;
  int reads = 0;
  runtime::Event release;
};

template <typename Fn>
void run(asio::io_context& io, Fn fn) {
  bool done = false;
  io.restart();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await fn();
        done = true;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(done);
}

TEST(RequestBodyTest, AWholeBodyIsEndedAndReplayable) {
  RequestBody b(std::string("hello"));
  EXPECT_TRUE(b.ended());
  EXPECT_FALSE(b.failed());
  EXPECT_TRUE(b.replayable());
  EXPECT_EQ(b.from(0), "hello");
  EXPECT_EQ(b.from(3), "lo");
  EXPECT_EQ(b.from(5), "");
  EXPECT_EQ(b.length(), 5u);
  EXPECT_EQ(b.whole(), "hello");
}

TEST(RequestBodyTest, AStreamedBodyIsReadAsSendersWaitAndKeptWithinTheLimit) {
  asio::io_context io;
  auto src = std::make_unique<FakeSource>(io.get_executor(), std::deque<std::string>{"bb", "ccc"}, true);
  auto* fake = src.get();
  RequestBody b(io.get_executor(), "a", std::move(src), 100, 6);
  EXPECT_FALSE(b.ended());
  EXPECT_EQ(b.length(), 6u) << "the declared length until it ends";
  EXPECT_EQ(fake->reads, 0) << "nothing is read before a sender waits";
  run(io, [&]() -> asio::awaitable<void> {
    co_await b.wait(0);  // a byte beyond 0 is here already
    EXPECT_EQ(fake->reads, 0);
    co_await b.wait(1);
    EXPECT_EQ(b.from(1), "bb");
    co_await b.wait(3);
  });
  EXPECT_TRUE(b.ended());
  EXPECT_EQ(b.received(), 6u);
  EXPECT_EQ(b.from(0), "abbccc");
  b.sent(6);  // within the keep limit: nothing is let go
  EXPECT_TRUE(b.replayable());
  EXPECT_EQ(b.whole(), "abbccc");
  EXPECT_EQ(fake->reads, 2);
}

TEST(RequestBodyTest, BeyondTheKeepLimitSentBytesAreLetGo) {
  asio::io_context io;
  auto src = std::make_unique<FakeSource>(io.get_executor(), std::deque<std::string>{"45678", "9"}, true);
  RequestBody b(io.get_executor(), "0123", std::move(src), 6, std::nullopt);
  EXPECT_FALSE(b.length());
  b.sent(4);  // 4 bytes here, keep 6: kept
  EXPECT_TRUE(b.replayable());
  run(io, [&]() -> asio::awaitable<void> { co_await b.wait(4); });
  EXPECT_EQ(b.received(), 9u);
  b.sent(9);  // 9 > 6: what was sent goes
  EXPECT_FALSE(b.replayable());
  EXPECT_EQ(b.from(9), "");
  EXPECT_EQ(b.from(2), "") << "let go";
  run(io, [&]() -> asio::awaitable<void> { co_await b.wait(9); });
  EXPECT_TRUE(b.ended());
  EXPECT_EQ(b.from(9), "9");
  EXPECT_EQ(b.length(), 10u);
}

TEST(RequestBodyTest, WaitersShareOneReadAndAFailedSourceEndsThem) {
  asio::io_context io;
  auto src = std::make_unique<FakeSource>(io.get_executor(), std::deque<std::string>{"x"}, false);
  auto* fake = src.get();
  fake->blocking = true;
  RequestBody b(io.get_executor(), "", std::move(src), 100, std::nullopt);
  int woke = 0;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await b.wait(0);
          ++woke;
        },
        asio::detached);
  }
  io.poll();
  EXPECT_EQ(fake->reads, 1) << "the second waiter waits for the first one's read";
  fake->release.notify();
  io.poll();
  EXPECT_EQ(woke, 2);
  EXPECT_EQ(b.from(0), "x");
  run(io, [&]() -> asio::awaitable<void> {
    fake->release.notify();
    co_await b.wait(1);  // the source has nothing more and fails
  });
  EXPECT_TRUE(b.failed());
  EXPECT_FALSE(b.ended());
  EXPECT_FALSE(b.length());
}

TEST(RequestBodyTest, BodiesOfOneConnectionShareAKeepBudget) {
  asio::io_context io;
  auto none = [&] { return std::make_unique<FakeSource>(io.get_executor(), std::deque<std::string>{}, true); };
  auto budget = std::make_shared<KeepBudget>(4);
  RequestBody a(io.get_executor(), "0123", none(), 100, std::nullopt, budget);
  a.sent(4);
  EXPECT_TRUE(a.replayable()) << "within the budget";
  {
    RequestBody b(io.get_executor(), "56", none(), 100, std::nullopt, budget);
    EXPECT_EQ(budget->used, 6u);
    a.sent(4);
    EXPECT_FALSE(a.replayable()) << "over the budget, what was sent goes";
    EXPECT_EQ(budget->used, 2u);
  }
  EXPECT_EQ(budget->used, 0u) << "a body gives its share back when it goes";
}

}  // namespace
}  // namespace ambit::waypoint::http
