// Outlier detection (DestinationRule trafficPolicy.outlierDetection, Envoy's
// semantics): consecutive 5xx responses, or consecutive gateway errors (502,
// 503, 504 and attempts that got no response), eject an endpoint for
// base_ejection_time x the number of times it has been ejected; it returns
// by itself when that time has passed, and its multiplier shrinks again once
// it has stayed healthy for an interval. At most max_ejection_percent of a
// host's endpoints are out at once, but always at least one may be.
// Shared by every worker (a mutex; one short critical section per response).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "ambit/route/v1/route.pb.h"

namespace ambit::waypoint::upstream {

struct OutlierPolicy {
  uint32_t consecutive_5xx = 0;      // 0 = off
  uint32_t consecutive_gateway = 0;  // 0 = off
  std::chrono::milliseconds base_ejection{std::chrono::seconds(30)};
  std::chrono::milliseconds interval{std::chrono::seconds(10)};
  uint32_t max_ejection_percent = 10;
  bool enabled() const { return consecutive_5xx > 0 || consecutive_gateway > 0; }
};

OutlierPolicy outlierPolicy(const ambit::route::v1::TrafficPolicy& p);

class OutlierTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // An attempt at endpoint `endpoint` of host `host` ended with `status` (0 =
  // no response: connect failure, reset, timeout). `host_endpoints`: how many
  // endpoints the host has (for max_ejection_percent). True when this ejected it.
  bool record(const std::string& host, const std::string& endpoint, int status, const OutlierPolicy& policy,
              std::size_t host_endpoints, Clock::time_point now);
  bool ejected(const std::string& endpoint, Clock::time_point now) const;
  nlohmann::json dump(Clock::time_point now) const;

 private:
  struct State {
    std::string host;
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_gateway = 0;
    uint32_t multiplier = 0;            // times ejected, less the healthy intervals since
    Clock::time_point ejected_until{};  // in the past when not ejected
    Clock::time_point healthy_since{};
  };
  mutable std::mutex mu_;
  std::map<std::string, State> endpoints_;
};

}  // namespace ambit::waypoint::upstream
