#include "waypoint/upstream/limits.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ambit::waypoint::upstream {

namespace asio = boost::asio;

PoolLimits poolLimits(const ambit::route::v1::TrafficPolicy& p) {
  PoolLimits l;
  l.max_requests = p.max_requests();
  l.max_pending = p.max_pending_requests();
  l.max_connections = p.max_connections();
  l.max_retries = p.max_retries();
  if (p.has_retry_budget()) {
    l.retry_budget = RetryBudget{std::clamp(p.retry_budget().percent(), 0.0, 100.0),
                                 p.retry_budget().min_retry_concurrency()};
  }
  l.max_requests_per_connection = p.max_requests_per_connection();
  l.idle_timeout = std::chrono::milliseconds(p.idle_timeout_ms());
  l.connect_timeout = std::chrono::milliseconds(p.connect_timeout_ms());
  l.tcp_idle_timeout = p.tcp_idle_timeout_ms() == UINT32_MAX ? std::chrono::milliseconds::max()
                                                              : std::chrono::milliseconds(p.tcp_idle_timeout_ms());
  return l;
}

bool requestAdmitted(const PoolLimits& l, const PoolCounts& c) {
  return l.max_requests == 0 || c.requests < l.max_requests;
}

ConnectionGrant connectionGrant(const PoolLimits& l, const PoolCounts& c, bool may_queue) {
  if (l.max_connections == 0 || c.connections < l.max_connections) return ConnectionGrant::kNow;
  if (!may_queue) return ConnectionGrant::kOverflow;
  // Envoy's default pending limit is 1024; Istio raises it to "none" (2^32-1).
  if (l.max_pending != 0 && c.pending >= l.max_pending) return ConnectionGrant::kOverflow;
  return ConnectionGrant::kQueue;
}

uint32_t retryLimit(const PoolLimits& l, const PoolCounts& c) {
  if (l.retry_budget) {
    double budget = l.retry_budget->percent / 100.0 * (static_cast<double>(c.requests) + c.pending);
    return std::max(l.retry_budget->min_concurrency, static_cast<uint32_t>(std::floor(budget)));
  }
  return l.max_retries == 0 ? std::numeric_limits<uint32_t>::max() : l.max_retries;
}

bool retryAdmitted(const PoolLimits& l, const PoolCounts& c) { return c.retries < retryLimit(l, c); }

Slot& Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    release();
    cluster_ = std::move(o.cluster_);
    kind_ = o.kind_;
  }
  return *this;
}

void Slot::release() {
  if (auto c = std::move(cluster_)) c->release(kind_);
  cluster_.reset();
}

bool Cluster::requestRoom(const PoolLimits& l) {
  std::lock_guard lock(mu_);
  if (requestAdmitted(l, counts_)) return true;
  ++overflow_requests_;
  return false;
}

Slot Cluster::tryRequest(const PoolLimits& l) {
  std::lock_guard lock(mu_);
  if (!requestAdmitted(l, counts_)) {
    ++overflow_requests_;
    return {};
  }
  ++counts_.requests;
  return Slot(shared_from_this(), Slot::Kind::kRequest);
}

Slot Cluster::tryRetry(const PoolLimits& l) {
  std::lock_guard lock(mu_);
  if (!retryAdmitted(l, counts_)) {
    ++overflow_retries_;
    return {};
  }
  ++counts_.retries;
  return Slot(shared_from_this(), Slot::Kind::kRetry);
}

asio::awaitable<Slot> Cluster::connection(const PoolLimits& l, Clock::time_point deadline, bool may_queue,
                                          Wait& why) {
  auto waiter = std::make_shared<Waiter>();
  waiter->executor = co_await asio::this_coro::executor;  // (never suspends; taken before the lock all the same)
  {
    std::lock_guard lock(mu_);
    switch (connectionGrant(l, counts_, may_queue)) {
      case ConnectionGrant::kNow:
        ++counts_.connections;
        why = Wait::kGranted;
        co_return Slot(shared_from_this(), Slot::Kind::kConnection);
      case ConnectionGrant::kOverflow:
        if (may_queue) {
          ++overflow_pending_;
        } else {
          ++overflow_connections_;
        }
        why = Wait::kOverflow;
        co_return Slot();
      case ConnectionGrant::kQueue:
        break;
    }
    waiter->timer = std::make_shared<asio::steady_timer>(waiter->executor, deadline);
    ++counts_.pending;
    waiters_.push_back(waiter);
  }
  // Should this frame be destroyed while it waits (its worker torn down), the
  // guard takes it out of line, or passes on a connection it was granted.
  struct InLine {
    Cluster& cluster;
    std::shared_ptr<Waiter> waiter;
    bool resumed = false;
    ~InLine() {
      if (resumed) return;
      std::lock_guard lock(cluster.mu_);
      cluster.leaveLineLocked(waiter);
    }
  } in_line{*this, waiter};
  // Woken by release() (which cancels the timer on this executor) or the deadline.
  co_await waiter->timer->async_wait(asio::as_tuple(asio::use_awaitable));
  in_line.resumed = true;
  std::lock_guard lock(mu_);
  if (waiter->granted) {  // release() moved its connection to us and took us out of line
    why = Wait::kGranted;
    co_return Slot(shared_from_this(), Slot::Kind::kConnection);
  }
  leaveLineLocked(waiter);
  why = Wait::kTimeout;
  co_return Slot();
}

void Cluster::leaveLineLocked(const std::shared_ptr<Waiter>& waiter) {
  if (waiter->granted) {
    handOnLocked();  // granted but never taken: the connection goes on
    return;
  }
  std::erase(waiters_, waiter);
  --counts_.pending;
}

void Cluster::handOnLocked() {
  if (waiters_.empty()) {
    --counts_.connections;
    return;
  }
  // The connection passes to the first in line (the count stays).
  auto next = std::move(waiters_.front());
  waiters_.pop_front();
  next->granted = true;
  --counts_.pending;
  asio::post(next->executor, [timer = next->timer] { timer->cancel(); });
}

void Cluster::release(Slot::Kind kind) {
  std::lock_guard lock(mu_);
  switch (kind) {
    case Slot::Kind::kRequest:
      --counts_.requests;
      return;
    case Slot::Kind::kRetry:
      --counts_.retries;
      return;
    case Slot::Kind::kConnection:
      handOnLocked();
      return;
  }
}

PoolCounts Cluster::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

nlohmann::json Cluster::dump() const {
  std::lock_guard lock(mu_);
  return {{"requests", counts_.requests},
          {"pending", counts_.pending},
          {"connections", counts_.connections},
          {"retries", counts_.retries},
          {"overflow",
           {{"requests", overflow_requests_},
            {"pending", overflow_pending_},
            {"connections", overflow_connections_},
            {"retries", overflow_retries_}}}};
}

std::shared_ptr<Cluster> CircuitBreakers::cluster(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& c = clusters_[key];
  if (!c) {
    // Clusters nobody holds and that are idle go when there are many (hosts come and go).
    if (clusters_.size() > 4096) {
      std::erase_if(clusters_, [&](const auto& kv) {
        if (!kv.second || kv.second.use_count() > 1) return false;
        auto n = kv.second->counts();
        return n.requests == 0 && n.pending == 0 && n.connections == 0 && n.retries == 0;
      });
    }
    auto& fresh = clusters_[key];
    fresh = std::make_shared<Cluster>();
    return fresh;
  }
  return c;
}

nlohmann::json CircuitBreakers::dump() const {
  std::lock_guard lock(mu_);
  auto out = nlohmann::json::object();
  for (const auto& [key, c] : clusters_) out[key] = c->dump();
  return out;
}

}  // namespace ambit::waypoint::upstream
