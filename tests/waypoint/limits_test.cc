// Circuit breaking: the admission tables (requests, connections and the line
// for them, retries and the retry budget) and the cluster's counters and
// waiting line on a real io_context.
#include <chrono>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "waypoint/upstream/limits.h"

namespace ambit::waypoint::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(PoolLimitsTest, FromTheTrafficPolicy) {
  ambit::route::v1::TrafficPolicy p;
  EXPECT_FALSE(poolLimits(p).counted()) << "no limits: nothing is counted";
  p.set_max_connections(1);
  p.set_max_pending_requests(2);
  p.set_max_requests(3);
  p.set_max_retries(4);
  p.set_max_requests_per_connection(5);
  p.set_idle_timeout_ms(600);
  p.set_connect_timeout_ms(700);
  p.set_tcp_idle_timeout_ms(800);
  auto l = poolLimits(p);
  EXPECT_TRUE(l.counted());
  EXPECT_EQ(l.max_connections, 1u);
  EXPECT_EQ(l.max_pending, 2u);
  EXPECT_EQ(l.max_requests, 3u);
  EXPECT_EQ(l.max_retries, 4u);
  EXPECT_EQ(l.max_requests_per_connection, 5u);
  EXPECT_EQ(l.idle_timeout, 600ms);
  EXPECT_EQ(l.connect_timeout, 700ms);
  EXPECT_EQ(l.tcp_idle_timeout, 800ms);
  p.set_tcp_idle_timeout_ms(UINT32_MAX);
  EXPECT_EQ(poolLimits(p).tcp_idle_timeout, std::chrono::milliseconds::max()) << "Istio's 0s: never";
  EXPECT_FALSE(l.retry_budget);

  ambit::route::v1::TrafficPolicy only_per_connection;
  only_per_connection.set_max_requests_per_connection(5);
  EXPECT_FALSE(poolLimits(only_per_connection).counted()) << "per-connection limits need no shared counters";

  ambit::route::v1::TrafficPolicy budget;
  budget.mutable_retry_budget()->set_percent(250);
  budget.mutable_retry_budget()->set_min_retry_concurrency(2);
  auto b = poolLimits(budget);
  EXPECT_TRUE(b.counted());
  ASSERT_TRUE(b.retry_budget);
  EXPECT_DOUBLE_EQ(b.retry_budget->percent, 100.0) << "clamped";
  EXPECT_EQ(b.retry_budget->min_concurrency, 2u);
}

TEST(PoolLimitsTest, Admission) {
  struct Case {
    const char* name;
    PoolLimits limits;
    PoolCounts counts;
    bool request;
    ConnectionGrant queued;  // may_queue = true
    ConnectionGrant direct;  // may_queue = false (TCP)
  };
  auto limits = [](uint32_t req, uint32_t pend, uint32_t conn) {
    PoolLimits l;
    l.max_requests = req;
    l.max_pending = pend;
    l.max_connections = conn;
    return l;
  };
  using G = ConnectionGrant;
  const Case cases[] = {
      {"no limits", limits(0, 0, 0), {1000, 1000, 1000, 0}, true, G::kNow, G::kNow},
      {"under every limit", limits(3, 2, 1), {2, 0, 0, 0}, true, G::kNow, G::kNow},
      {"requests at the limit", limits(3, 2, 1), {3, 0, 0, 0}, false, G::kNow, G::kNow},
      {"connections full: wait in line", limits(0, 2, 1), {1, 1, 1, 0}, true, G::kQueue, G::kOverflow},
      {"connections and line full", limits(0, 2, 1), {3, 2, 1, 0}, true, G::kOverflow, G::kOverflow},
      {"connections full, line unbounded", limits(0, 0, 1), {500, 499, 1, 0}, true, G::kQueue, G::kOverflow},
      {"pending limit alone never refuses a free connection", limits(0, 1, 0), {9, 5, 9, 0}, true, G::kNow,
       G::kNow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(requestAdmitted(c.limits, c.counts), c.request);
    EXPECT_EQ(connectionGrant(c.limits, c.counts, true), c.queued);
    EXPECT_EQ(connectionGrant(c.limits, c.counts, false), c.direct);
  }
}

TEST(PoolLimitsTest, RetriesAndTheBudget) {
  struct Case {
    const char* name;
    uint32_t max_retries;
    std::optional<RetryBudget> budget;
    PoolCounts counts;
    uint32_t limit;
  };
  const Case cases[] = {
      {"no limit", 0, std::nullopt, {10, 0, 0, 0}, UINT32_MAX},
      {"maxRetries", 2, std::nullopt, {10, 0, 0, 0}, 2},
      {"budget floor (min concurrency)", 2, RetryBudget{20, 3}, {10, 0, 0, 0}, 3},
      {"budget: 20 % of active and pending", 2, RetryBudget{20, 3}, {40, 10, 0, 0}, 10},
      {"budget rounds down", 0, RetryBudget{20, 0}, {24, 0, 0, 0}, 4},
      {"budget of none", 0, RetryBudget{0, 0}, {100, 0, 0, 0}, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    PoolLimits l;
    l.max_retries = c.max_retries;
    l.retry_budget = c.budget;
    EXPECT_EQ(retryLimit(l, c.counts), c.limit);
    PoolCounts at = c.counts;
    at.retries = c.limit == UINT32_MAX ? 1000000 : c.limit;
    EXPECT_EQ(retryAdmitted(l, at), c.limit == UINT32_MAX);
    if (c.limit > 0) {
      at.retries = c.limit - 1;
      EXPECT_TRUE(retryAdmitted(l, at));
    }
  }
}

TEST(ClusterTest, SlotsCountAndGiveBack) {
  auto c = std::make_shared<Cluster>();
  PoolLimits l;
  l.max_requests = 2;
  l.max_retries = 1;
  {
    auto a = c->tryRequest(l);
    auto b = c->tryRequest(l);
    EXPECT_TRUE(a && b);
    EXPECT_FALSE(c->tryRequest(l)) << "a third request overflows";
    EXPECT_EQ(c->counts().requests, 2u);
    auto r = c->tryRetry(l);
    EXPECT_TRUE(r);
    EXPECT_FALSE(c->tryRetry(l));
    Slot moved = std::move(a);
    EXPECT_EQ(c->counts().requests, 2u) << "a move gives nothing back";
    moved.release();
    EXPECT_EQ(c->counts().requests, 1u);
  }
  auto n = c->counts();
  EXPECT_EQ(n.requests, 0u);
  EXPECT_EQ(n.retries, 0u);
  EXPECT_EQ(c->dump()["overflow"]["requests"], 1);
  EXPECT_EQ(c->dump()["overflow"]["retries"], 1);
}

// Two workers (threads with their own io_context): a request waiting in line
// on one gets the connection another releases; a third overflows; one whose
// deadline passes leaves the line.
TEST(ClusterTest, TheLineGetsReleasedConnections) {
  auto c = std::make_shared<Cluster>();
  PoolLimits l;
  l.max_connections = 1;
  l.max_pending = 1;
  asio::io_context first, second;
  Slot held;
  Cluster::Wait why{};
  asio::co_spawn(
      first,
      [&]() -> asio::awaitable<void> {
        held = co_await c->connection(l, Cluster::Clock::now() + 5s, true, why);
      },
      asio::detached);
  first.run();
  ASSERT_TRUE(held);
  EXPECT_EQ(why, Cluster::Wait::kGranted);

  Cluster::Wait waited_why{};
  bool waited = false;
  auto waited_at = Cluster::Clock::now();
  asio::co_spawn(
      second,
      [&]() -> asio::awaitable<void> {
        auto s = co_await c->connection(l, Cluster::Clock::now() + 5s, true, waited_why);
        waited = static_cast<bool>(s);
        waited_at = Cluster::Clock::now();
      },
      asio::detached);
  std::thread worker([&] { second.run(); });
  // Wait (bounded) until the second request is in line.
  for (int i = 0; i < 500 && c->counts().pending == 0; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(c->counts().pending, 1u);

  // The line is full: a third overflows at once; TCP never waits.
  Cluster::Wait third_why{};
  bool third = true;
  asio::io_context third_ctx;
  asio::co_spawn(
      third_ctx,
      [&]() -> asio::awaitable<void> {
        auto s = co_await c->connection(l, Cluster::Clock::now() + 5s, true, third_why);
        third = static_cast<bool>(s);
        auto t = co_await c->connection(l, Cluster::Clock::now() + 5s, false, third_why);
        third = third || static_cast<bool>(t);
      },
      asio::detached);
  third_ctx.run();
  EXPECT_FALSE(third);
  EXPECT_EQ(third_why, Cluster::Wait::kOverflow);

  auto released_at = Cluster::Clock::now();
  held.release();
  worker.join();
  EXPECT_TRUE(waited);
  EXPECT_EQ(waited_why, Cluster::Wait::kGranted);
  EXPECT_LT(waited_at - released_at, 2s) << "woken by the release, not by its deadline";
  auto n = c->counts();
  EXPECT_EQ(n.connections, 0u) << "the waiter's slot went when its coroutine ended";
  EXPECT_EQ(n.pending, 0u);

  // A deadline that passes in line: timeout, and the line is empty again.
  auto again = c->tryRequest(l);
  Slot busy;
  Cluster::Wait late_why{};
  bool late = true;
  asio::io_context ctx;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        busy = co_await c->connection(l, Cluster::Clock::now() + 5s, true, late_why);
        auto s = co_await c->connection(l, Cluster::Clock::now() + 30ms, true, late_why);
        late = static_cast<bool>(s);
      },
      asio::detached);
  ctx.run();
  EXPECT_FALSE(late);
  EXPECT_EQ(late_why, Cluster::Wait::kTimeout);
  EXPECT_EQ(c->counts().pending, 0u);
  EXPECT_EQ(c->counts().connections, 1u);
  busy.release();
  EXPECT_EQ(c->counts().connections, 0u);
}

// A request waiting in line whose worker is torn down (its coroutine frame
// destroyed, never resumed) leaves the line: nothing is counted for it.
TEST(ClusterTest, AWaiterWhoseWorkerGoesLeavesTheLine) {
  auto c = std::make_shared<Cluster>();
  PoolLimits l;
  l.max_connections = 1;
  Slot held;
  {
    asio::io_context ctx;
    Cluster::Wait why{};
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> { held = co_await c->connection(l, Cluster::Clock::now() + 5s, true, why); },
        asio::detached);
    ctx.run();
  }
  ASSERT_TRUE(held);
  auto ctx = std::make_unique<asio::io_context>();
  Cluster::Wait why{};
  bool resumed = false;
  asio::co_spawn(
      *ctx,
      [&]() -> asio::awaitable<void> {
        auto s = co_await c->connection(l, Cluster::Clock::now() + 5s, true, why);
        resumed = true;
      },
      asio::detached);
  ctx->poll();  // until it waits in line
  EXPECT_EQ(c->counts().pending, 1u);
  ctx.reset();  // the worker goes, and its frames with it
  EXPECT_FALSE(resumed);
  EXPECT_EQ(c->counts().pending, 0u);
  held.release();
  EXPECT_EQ(c->counts().connections, 0u) << "no waiter was handed the connection";
}

TEST(CircuitBreakersTest, OneClusterPerKey) {
  CircuitBreakers b;
  auto x = b.cluster("reviews|v1|9080");
  EXPECT_EQ(b.cluster("reviews|v1|9080"), x);
  EXPECT_NE(b.cluster("reviews|v2|9080"), x);
  EXPECT_TRUE(b.dump().contains("reviews|v2|9080"));
}

}  // namespace
}  // namespace ambit::waypoint::upstream
