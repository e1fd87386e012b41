// Hot-path cost of a counter increment: Ambit's per-thread-shard counter against a
// single shared atomic (what a naive registry does), with 1 and 2 threads.
#include <benchmark/benchmark.h>

#include <atomic>

#include "common/metrics/registry.h"

namespace {

ambit::metrics::Registry g_registry(3);
auto g_counter = g_registry.counter("bench_total", "bench", {"k"}).get({"v"});
std::atomic<uint64_t> g_shared{0};

void BM_ShardedCounter(benchmark::State& state) {
  ambit::metrics::setThreadShard(static_cast<std::size_t>(state.thread_index()) + 1);
  for (auto _ : state) g_counter->inc();
}
BENCHMARK(BM_ShardedCounter)->Threads(1)->Threads(2);

void BM_SharedAtomic(benchmark::State& state) {
  for (auto _ : state) g_shared.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(BM_SharedAtomic)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
