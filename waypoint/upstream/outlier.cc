#include "waypoint/upstream/outlier.h"

namespace ambit::waypoint::upstream {

OutlierPolicy outlierPolicy(const ambit::route::v1::TrafficPolicy& p) {
  OutlierPolicy o;
  o.consecutive_5xx = p.consecutive_5xx_errors();
  o.consecutive_gateway = p.consecutive_gateway_errors();
  if (p.base_ejection_time_ms() > 0) o.base_ejection = std::chrono::milliseconds(p.base_ejection_time_ms());
  if (p.outlier_interval_ms() > 0) o.interval = std::chrono::milliseconds(p.outlier_interval_ms());
  if (p.max_ejection_percent() > 0)
    o.max_ejection_percent = std::min<uint32_t>(100, p.max_ejection_percent());
  return o;
}

bool OutlierTracker::record(const std::string& host, const std::string& endpoint, int status,
                            const OutlierPolicy& policy, std::size_t host_endpoints, Clock::time_point now) {
  if (!policy.enabled()) return false;
  std::lock_guard lock(mu_);
  bool five_any = status == 0 || status >= 500;
  auto found = endpoints_.find(endpoint);
  if (found == endpoints_.end() && !five_any) return false;  // healthy and never failed: nothing to keep
  State& s = found != endpoints_.end() ? found->second : endpoints_[endpoint];
  s.host = host;
  bool gateway = status == 0 || status == 502 || status == 503 || status == 504;
  bool five = status == 0 || status >= 500;
  if (!five) {
    s.consecutive_5xx = s.consecutive_gateway = 0;
    // Each interval spent healthy since it came back takes one off the multiplier.
    if (s.multiplier > 0 && now >= s.ejected_until) {
      auto healthy = now - std::max(s.healthy_since, s.ejected_until);
      auto steps = static_cast<uint32_t>(healthy / policy.interval);
      if (steps > 0) {
        s.multiplier = steps >= s.multiplier ? 0 : s.multiplier - steps;
        s.healthy_since = now;
      }
    }
    if (s.multiplier == 0 && now >= s.ejected_until) endpoints_.erase(endpoint);  // back to no state
    return false;
  }
  if (now < s.ejected_until) return false;  // already out
  ++s.consecutive_5xx;
  s.consecutive_gateway = gateway ? s.consecutive_gateway + 1 : 0;
  bool trip = (policy.consecutive_5xx > 0 && s.consecutive_5xx >= policy.consecutive_5xx) ||
              (policy.consecutive_gateway > 0 && s.consecutive_gateway >= policy.consecutive_gateway);
  if (!trip) return false;
  std::size_t out = 0;
  for (const auto& [key, other] : endpoints_) {
    if (other.host == host && now < other.ejected_until) ++out;
  }
  if (out > 0 && (out + 1) * 100 > static_cast<std::size_t>(policy.max_ejection_percent) * host_endpoints) {
    return false;  // over the cap (one may always go)
  }
  ++s.multiplier;
  s.ejected_until = now + policy.base_ejection * s.multiplier;
  s.healthy_since = s.ejected_until;
  s.consecutive_5xx = s.consecutive_gateway = 0;
  return true;
}

bool OutlierTracker::ejected(const std::string& endpoint, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = endpoints_.find(endpoint);
  return it != endpoints_.end() && now < it->second.ejected_until;
}

nlohmann::json OutlierTracker::dump(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, s] : endpoints_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.ejected_until - now).count();
    out[key] = {{"host", s.host},
                {"ejected", now < s.ejected_until},
                {"ejected_for_ms", left > 0 ? left : 0},
                {"ejections_multiplier", s.multiplier},
                {"consecutive_5xx", s.consecutive_5xx},
                {"consecutive_gateway_errors", s.consecutive_gateway}};
  }
  return out;
}

}  // namespace ambit::waypoint::upstream
