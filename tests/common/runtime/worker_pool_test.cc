#include "common/runtime/worker_pool.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <future>
#include <set>

#include "common/metrics/registry.h"

namespace ambit::runtime {
namespace {

TEST(WorkerPoolTest, EachWorkerHasItsOwnThreadAndShard) {
  WorkerPool pool(3, "test");
  pool.start();
  std::vector<std::future<std::pair<std::thread::id, std::size_t>>> results;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    auto p = std::make_shared<std::promise<std::pair<std::thread::id, std::size_t>>>();
    results.push_back(p->get_future());
    asio::post(pool.context(i), [p, &pool] {
      EXPECT_TRUE(pool.onWorkerThread());
      p->set_value({std::this_thread::get_id(), metrics::threadShard()});
    });
  }
  std::set<std::thread::id> threads;
  std::set<std::size_t> shards;
  for (auto& f : results) {
    auto [tid, shard] = f.get();
    threads.insert(tid);
    shards.insert(shard);
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(shards, (std::set<std::size_t>{1, 2, 3}));
  EXPECT_FALSE(pool.onWorkerThread());
  pool.stop();
}

TEST(WorkerPoolTest, StopFinishesQueuedWork) {
  WorkerPool pool(2);
  pool.start();
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) asio::post(pool.next(), [&] { done.fetch_add(1); });
  pool.stop();
  EXPECT_EQ(done.load(), 1000);
}

TEST(WorkerPoolTest, ZeroMeansOnePerCpu) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.size(), std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace
}  // namespace ambit::runtime
