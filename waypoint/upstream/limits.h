// Circuit breaking: DestinationRule trafficPolicy.connectionPool and
// retryBudget with Envoy's semantics, per destination cluster (host, subset,
// port) and shared by every worker.
//   http2MaxRequests         requests in flight to the cluster, each with its
//                            connection (over, on arrival: 503 UO)
//   tcp.maxConnections       upstream connections in use (an HBONE stream each;
//                            idle keep-alive ones are not counted)
//   http1MaxPendingRequests  requests waiting for a connection (over: 503 UO)
//   maxRetries / retryBudget retries in flight (over: no retry; the last
//                            answer stands)
// Unset (0) means no limit, as Istio's defaults (2^32-1) do.
// The decisions are pure (table-tested); the counters and the queue of
// waiting requests live in Cluster (a mutex; a waiter is woken on its own
// executor).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "ambit/route/v1/route.pb.h"

namespace ambit::waypoint::upstream {

struct RetryBudget {
  double percent = 20;           // of the requests in flight (active and pending)
  uint32_t min_concurrency = 3;  // retries always allowed
};

struct PoolLimits {
  uint32_t max_requests = 0;
  uint32_t max_pending = 0;
  uint32_t max_connections = 0;
  uint32_t max_retries = 0;
  std::optional<RetryBudget> retry_budget;  // when set, max_retries is not used (Envoy)
  uint32_t max_requests_per_connection = 0;
  std::chrono::milliseconds idle_timeout{0};     // 0 = the proxy's default
  std::chrono::milliseconds connect_timeout{0};  // 0 = the proxy's default
  std::chrono::milliseconds tcp_idle_timeout{0};  // 0 = the proxy's default (1 h, as Istio's); max() = never
  // Whether a request must be counted at all (else no shared state is touched).
  bool counted() const {
    return max_requests != 0 || max_pending != 0 || max_connections != 0 || max_retries != 0 || retry_budget;
  }
};

PoolLimits poolLimits(const ambit::route::v1::TrafficPolicy& p);

struct PoolCounts {
  uint32_t requests = 0;     // in flight: from getting a connection to the response's end
  uint32_t pending = 0;      // waiting for a connection
  uint32_t connections = 0;  // in use
  uint32_t retries = 0;      // in flight
};

bool requestAdmitted(const PoolLimits& l, const PoolCounts& c);
enum class ConnectionGrant { kNow, kQueue, kOverflow };
// `may_queue`: HTTP requests wait; passed-through TCP does not (Envoy's TCP proxy).
ConnectionGrant connectionGrant(const PoolLimits& l, const PoolCounts& c, bool may_queue);
// How many retries may be in flight at once (UINT32_MAX: no limit).
uint32_t retryLimit(const PoolLimits& l, const PoolCounts& c);
bool retryAdmitted(const PoolLimits& l, const PoolCounts& c);

class Cluster;

// One unit of a cluster's counters (a request, a connection or a retry),
// given back when destroyed. Empty when it was refused.
class Slot {
 public:
  enum class Kind { kRequest, kConnection, kRetry };
  Slot() = default;
  Slot(std::shared_ptr<Cluster> cluster, Kind kind) : cluster_(std::move(cluster)), kind_(kind) {}
  Slot(Slot&& o) noexcept : cluster_(std::move(o.cluster_)), kind_(o.kind_) {}
  Slot& operator=(Slot&& o) noexcept;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { release(); }
  explicit operator bool() const { return cluster_ != nullptr; }
  void release();

 private:
  std::shared_ptr<Cluster> cluster_;
  Kind kind_ = Kind::kRequest;
};

class Cluster : public std::enable_shared_from_this<Cluster> {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Wait { kGranted, kOverflow, kTimeout };

  // Whether a request may go on (http2MaxRequests); counts an overflow when not.
  bool requestRoom(const PoolLimits& l);
  Slot tryRequest(const PoolLimits& l);
  Slot tryRetry(const PoolLimits& l);
  // A connection now, or after waiting in line until `deadline` (a finished
  // request hands its connection to the first in line).
  boost::asio::awaitable<Slot> connection(const PoolLimits& l, Clock::time_point deadline, bool may_queue,
                                          Wait& why);
  PoolCounts counts() const;
  nlohmann::json dump() const;

 private:
  friend class Slot;
  struct Waiter {
    boost::asio::any_io_executor executor;
    std::shared_ptr<boost::asio::steady_timer> timer;
    bool granted = false;
  };
  void release(Slot::Kind kind);
  // A connection given back: to the first in line, else one fewer in use.
  void handOnLocked();
  // A waiter that will not take its connection: out of line, or its grant passed on.
  void leaveLineLocked(const std::shared_ptr<Waiter>& waiter);

  mutable std::mutex mu_;
  PoolCounts counts_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  uint64_t overflow_requests_ = 0, overflow_pending_ = 0, overflow_connections_ = 0, overflow_retries_ = 0;
};

// The clusters by key ("host|subset|port"), created on first use.
class CircuitBreakers {
 public:
  std::shared_ptr<Cluster> cluster(const std::string& key);
  nlohmann::json dump() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Cluster>> clusters_;
};

}  // namespace ambit::waypoint::upstream
