// ShutdownSignal: the main thread waits here until SIGTERM/SIGINT arrives or
// something (the admin /quitquitquit) asks for shutdown; then it drains.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace ambit::runtime {

class ShutdownSignal {
 public:
  // watch_signals = false: only request() ends wait() (tests).
  explicit ShutdownSignal(bool watch_signals = true);
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Thread-safe; the first reason wins. A second SIGTERM/SIGINT exits at once.
  void request(const std::string& reason);
  // Blocks until a request or signal; returns its reason ("SIGTERM", "admin /quitquitquit").
  std::string wait();
  bool requested() const;

 private:
  struct SignalThread;
  void armSignals();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string reason_;
  bool requested_ = false;
  std::unique_ptr<SignalThread> signals_;
};

}  // namespace ambit::runtime
