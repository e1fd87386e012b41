// Worker threads, one io_context each. A connection is placed on a worker when
// it is accepted and never changes threads after (architecture.md §7), so
// per-connection state needs no locks. The pool counts live connections per
// worker so that the listeners can place each new one on the least loaded.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace ambit::runtime {

namespace asio = boost::asio;

class WorkerPool {
 public:
  // `workers` = 0 picks the number of CPUs.
  explicit WorkerPool(std::size_t workers, std::string name = "worker");
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts the threads. Worker i runs context(i) and writes metrics shard i + 1.
  void start();
  // Lets each io_context return once its queued work is done (no new work is
  // refused; callers stop their listeners and drain first), then joins the threads.
  void stop();
  // Stops the io_contexts at once, abandoning queued work, then joins.
  void abort();

  std::size_t size() const { return contexts_.size(); }
  asio::io_context& context(std::size_t i) { return *contexts_.at(i); }
  // Round-robin pick, for work that is not tied to a connection.
  asio::io_context& next();
  // True on one of this pool's worker threads.
  bool onWorkerThread() const;

  // One live connection counted against a worker until destroyed (move-only).
  class Load {
   public:
    Load() = default;
    Load(Load&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
    Load& operator=(Load&& o) noexcept {
      if (this != &o) {
        release();
        count_ = std::exchange(o.count_, nullptr);
      }
      return *this;
    }
    ~Load() { release(); }

   private:
    friend class WorkerPool;
    explicit Load(std::atomic<std::size_t>* count) : count_(count) {}
    void release() {
      if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
      count_ = nullptr;
    }
    std::atomic<std::size_t>* count_ = nullptr;
  };
  // Picks the worker with the fewest live connections (`accepting` on a tie,
  // see leastLoaded) and counts one against it. Thread-safe; two racing
  // placements may both pick the same worker, which the next ones even out.
  std::pair<std::size_t, Load> place(std::size_t accepting);
  // Live connections counted against worker i.
  std::size_t load(std::size_t i) const { return live_[i].load(std::memory_order_relaxed); }

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::string name_;
  // Declared before the contexts: a connection's Load may be destroyed with
  // the handlers the contexts still hold when they are torn down.
  std::unique_ptr<std::atomic<std::size_t>[]> live_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::optional<Guard>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  bool started_ = false;
};

}  // namespace ambit::runtime
