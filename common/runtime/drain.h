// Drain: the one shutdown primitive every proxy uses on SIGTERM. Stop accepting,
// tell live connections to wind down, wait for them up to a deadline, then cut
// whatever is left.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <set>

#include <boost/asio/any_io_executor.hpp>

namespace ambit::runtime {

namespace asio = boost::asio;

class Drain {
  struct Entry;

 public:
  // Held by a live connection; dropping it tells the drain the connection ended.
  // Not thread-safe: create, use and destroy it on the connection's executor.
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&&) noexcept;
    ~Handle();
    // Called (on the connection's executor) when the drain starts, e.g. to send
    // GOAWAY or stop reading new requests. Runs at once if draining already.
    void onDrain(std::function<void()> fn);
    bool draining() const;

   private:
    friend class Drain;
    Handle(Drain* d, std::shared_ptr<Entry> e) : drain_(d), entry_(std::move(e)) {}
    void release();
    Drain* drain_ = nullptr;
    std::shared_ptr<Entry> entry_;
  };

  struct Outcome {
    std::size_t finished = 0;  // connections that ended on their own before the deadline
    std::size_t cut = 0;       // connections closed at the deadline
    bool all_closed = true;    // false if some connection ignored its cut within the grace period
  };

  // Registers a connection living on `executor`; `on_deadline` must close it
  // (it runs on that executor). Thread-safe.
  Handle track(asio::any_io_executor executor, std::function<void()> on_deadline);

  // Registers a listener's stop-accepting callback (runs on the draining thread;
  // it must be thread-safe, e.g. post to the listener's executor). Returns an id
  // for removeOnStart; 0 when draining already (then it ran at once).
  uint64_t onStart(std::function<void()> stop_accepting);
  // Forgets a callback (a listener that closed before the drain).
  void removeOnStart(uint64_t id);

  // Drains and blocks until every connection is gone or `deadline` passes; then
  // cuts the rest and waits up to `grace` for them to go. Call it from a thread
  // that is not a worker (main, or the admin thread).
  Outcome drainAndWait(std::chrono::milliseconds deadline,
                       std::chrono::milliseconds grace = std::chrono::seconds(1));

  bool draining() const;
  std::size_t active() const;

 private:
  void remove(const std::shared_ptr<Entry>& e);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool draining_ = false;
  std::size_t ended_while_draining_ = 0;
  std::set<std::shared_ptr<Entry>> live_;
  std::map<uint64_t, std::function<void()>> stop_accepting_;
  uint64_t next_id_ = 1;
};

}  // namespace ambit::runtime
