// WorkerPool: threads, io_contexts, and a metrics shard per worker.
#include "common/runtime/worker_pool.h"

#include <pthread.h>

#include "common/log/log.h"
#include "common/runtime/balance.h"
#include "common/metrics/registry.h"

namespace ambit::runtime {
namespace {
thread_local const WorkerPool* t_pool = nullptr;
}

WorkerPool::WorkerPool(std::size_t workers, std::string name) : name_(std::move(name)) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  live_ = std::make_unique<std::atomic<std::size_t>[]>(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    // A concurrency hint of 1 lets Asio skip locking inside each io_context.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(std::in_place, asio::make_work_guard(*contexts_.back()));
  }
}

WorkerPool::~WorkerPool() { abort(); }

void WorkerPool::start() {
  if (started_) return;
  started_ = true;
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, i] {
      t_pool = this;
      metrics::setThreadShard(i + 1);
      std::string thread_name = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      try {
        contexts_[i]->run();
      } catch (const std::exception& e) {
        // A handler that throws is a bug; log it loudly rather than lose the thread silently.
        log::error(*log::scope("runtime"), "worker_exception", "worker", i, "what", e.what());
        throw;
      }
    });
  }
}

void WorkerPool::stop() {
  for (auto& g : guards_) g.reset();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::abort() {
  for (auto& g : guards_) g.reset();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

asio::io_context& WorkerPool::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

bool WorkerPool::onWorkerThread() const { return t_pool == this; }

std::pair<std::size_t, WorkerPool::Load> WorkerPool::place(std::size_t accepting) {
  std::vector<std::size_t> live(contexts_.size());
  for (std::size_t i = 0; i < live.size(); ++i) live[i] = load(i);
  std::size_t i = leastLoaded(live, accepting);
  live_[i].fetch_add(1, std::memory_order_relaxed);
  return {i, Load(&live_[i])};
}

}  // namespace ambit::runtime
