// Runs a real Ambit binary for integration tests: captures its stderr (the log),
// waits for a log line with a timeout, and always stops it (SIGTERM, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ambit::test {

class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running() const { return pid_ > 0; }
  // The first log line (since the last call) containing `needle`, or nullopt at the timeout.
  std::optional<std::string> waitForLine(const std::string& needle, std::chrono::milliseconds timeout);
  // Whether `needle` appears anywhere in the output (from the start, in any
  // order with other waits), waiting up to `timeout` for it.
  bool waitForOutput(const std::string& needle, std::chrono::milliseconds timeout);
  // The value of `key=` in a line, e.g. port from "... port=15010 ...".
  static std::string field(const std::string& line, const std::string& key);
  // Everything the process logged so far.
  std::string output() const;
  // SIGTERM and wait (bounded); returns the exit status or -1.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // SIGKILL (a crash: no drain, no goodbye) and wait.
  void kill();
  // Waits (bounded) for the process to exit on its own; its exit status, or
  // nullopt if it is still running at the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  // A thread drains the pipe all the time: a child that logs a lot (an
  // access line per request) must never block on a full pipe.
  void readLoop();
  // After the child exited: lets the reader take what is left (bounded), then joins it.
  void finishReading();
  pid_t pid_ = -1;
  int fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;  // guarded by mu_
  bool eof_ = false;    // guarded by mu_
  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
  std::size_t scanned_ = 0;
};

}  // namespace ambit::test
