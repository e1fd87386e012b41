#include "common/metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>

namespace ambit::metrics {
namespace {

TEST(RegistryTest, CountersSumAcrossThreadShards) {
  Registry r(3);
  auto c = r.counter("ambit_test_total", "test", {"k"}).get({"v"});
  std::vector<std::thread> threads;
  for (std::size_t shard = 0; shard < 3; ++shard) {
    threads.emplace_back([c, shard] {
      setThreadShard(shard);
      for (int i = 0; i < 10000; ++i) c->inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 30000u);
}

TEST(RegistryTest, SameLabelsGiveTheSameSeries) {
  Registry r;
  auto& fam = r.counter("ambit_same_total", "x", {"a"});
  auto c1 = fam.get({"1"});
  auto c2 = fam.get({"1"});
  auto c3 = fam.get({"2"});
  EXPECT_EQ(c1.get(), c2.get());
  EXPECT_NE(c1.get(), c3.get());
  EXPECT_EQ(&fam, &r.counter("ambit_same_total", "x", {"a"}));
}

TEST(RegistryTest, DeclarationClashesAreRejected) {
  Registry r;
  r.counter("ambit_clash_total", "x", {"a"});
  EXPECT_THROW(r.gauge("ambit_clash_total", "x", {"a"}), std::invalid_argument);
  EXPECT_THROW(r.counter("ambit_clash_total", "x", {"b"}), std::invalid_argument);
  EXPECT_THROW(r.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("ambit_ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("ambit_h", "x", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.counter("ambit_clash_total", "x", {"a"}).get({"1", "2"}), std::invalid_argument);
}

TEST(RegistryTest, HistogramBucketsAreLessOrEqual) {
  Registry r;
  auto h = r.histogram("ambit_h_ms", "x", {}, {1, 5, 10}).get({});
  for (double v : {0.5, 1.0, 1.1, 5.0, 10.0, 11.0}) h->observe(v);
  auto s = h->snapshot();
  EXPECT_EQ(s.bucket_counts, (std::vector<uint64_t>{2, 2, 1, 1}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 28.6);
}

TEST(RegistryTest, RemovedSeriesStaysValidForHolders) {
  Registry r;
  auto& fam = r.gauge("ambit_g", "x", {"w"});
  auto g = fam.get({"pod-a"});
  g->set(7);
  fam.remove({"pod-a"});
  g->add(1);  // still safe to touch
  EXPECT_EQ(g->value(), 8);
  EXPECT_EQ(r.renderPrometheus().find("pod-a"), std::string::npos);
}

}  // namespace
}  // namespace ambit::metrics
