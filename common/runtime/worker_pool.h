// Worker threads, one io_context each. A connection is accepted on a worker and
// never changes threads (architecture.md §7), so per-connection state needs no locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
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

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::string name_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::optional<Guard>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  bool started_ = false;
};

}  // namespace ambit::runtime
