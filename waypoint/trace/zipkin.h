// Sends finished spans to a Zipkin-compatible collector (POST
// /api/v2/spans, JSON v2) from a thread of its own: spans are queued
// (bounded; over the bound they are dropped and counted) and sent in batches
// every flush interval over one keep-alive HTTP/1.1 connection. A failed
// batch is dropped (counted, last error kept): tracing never holds requests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "waypoint/trace/context.h"

namespace ambit::waypoint::trace {

struct ZipkinOptions {
  std::string address;  // host:port ("[v6]:port")
  std::string path = "/api/v2/spans";
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // connect + one exchange
  std::size_t max_queue = 8192;
  std::size_t max_batch = 1024;
};

struct Connection;

class ZipkinExporter {
 public:
  explicit ZipkinExporter(ZipkinOptions options);
  // Sends what is queued (one attempt, bounded by the timeout), then stops.
  ~ZipkinExporter();
  ZipkinExporter(const ZipkinExporter&) = delete;
  ZipkinExporter& operator=(const ZipkinExporter&) = delete;

  void submit(Span span);
  nlohmann::json dump() const;

 private:
  void run();
  // One batch to the collector; "" on success, else why not.
  std::string post(const std::string& body);

  ZipkinOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Span> queue_;
  bool stopping_ = false;
  std::string last_error_;
  std::atomic<uint64_t> sent_{0}, dropped_{0}, failed_{0};
  Connection* conn_ = nullptr;  // to the collector (the exporter thread only)
  std::thread thread_;
};

}  // namespace ambit::waypoint::trace
