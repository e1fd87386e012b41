// The push loop.
#include "controlplane/pusher.h"

#include "common/log/log.h"

namespace ambit::controlplane {

using Clock = std::chrono::steady_clock;

Pusher::Pusher(ModelStore& store, xds::XdsServer& server, MeshSettings mesh, PushSettings settings,
               metrics::Registry& registry)
    : store_(store),
      server_(server),
      mesh_(std::move(mesh)),
      builder_(mesh_),
      settings_(settings),
      translate_seconds_(registry
                             .histogram("ambitd_translate_seconds", "Time to translate the model into xDS resources",
                                        {}, {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5})
                             .get({})) {
  store_.onChange([this](std::shared_ptr<const Snapshot> snap) { onChange(std::move(snap)); });
}

Pusher::~Pusher() { stop(); }

void Pusher::start() {
  push(store_.current(), Clock::now());  // serve the initial state before any client connects
  thread_ = std::thread([this] { loop(); });
}

void Pusher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Pusher::onChange(std::shared_ptr<const Snapshot> snap) {
  std::lock_guard lock(mu_);
  if (latest_ && snap->version <= latest_->version) return;  // listeners can race; never go back
  auto now = Clock::now();
  // The first change not covered by a push done or under way starts the clock.
  if (!latest_ || latest_->version <= std::max(pushed_, in_flight_)) first_unpushed_ = now;
  last_change_ = now;
  latest_ = std::move(snap);
  cv_.notify_all();
}

void Pusher::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (latest_ && latest_->version > pushed_); });
    if (stopping_) return;
    // Debounce: wait for quiet, but never longer than max_delay since the first change.
    for (;;) {
      auto quiet_at = last_change_ + settings_.debounce;
      auto deadline = std::min(quiet_at, first_unpushed_ + settings_.max_delay);
      if (Clock::now() >= deadline || stopping_) break;
      cv_.wait_until(lock, deadline);
    }
    if (stopping_) return;
    auto snap = latest_;
    auto changed_at = first_unpushed_;
    in_flight_ = snap->version;
    lock.unlock();
    push(snap, changed_at);
    lock.lock();
  }
}

void Pusher::push(std::shared_ptr<const Snapshot> snap, Clock::time_point changed_at) {
  auto t0 = Clock::now();
  std::shared_ptr<const xds::ResourceSet> set;
  xds::SetBuilder::Stats stats;
  // Held until every stream has been notified: freeing a 10k-resource set is
  // not free, and it must not delay the push.
  auto previous = server_.current();
  try {
    set = builder_.build(*snap, changed_at, previous.get(), &stats);
  } catch (const std::exception& e) {
    // A translation bug must not take the control plane down: keep serving the last good set.
    log::error(*log::scope("ambitd.push"), "translate_failed", "version", snap->version, "error", e.what());
    std::lock_guard lock(mu_);
    pushed_ = std::max(pushed_, snap->version);
    cv_.notify_all();
    return;
  }
  translate_seconds_->observe(std::chrono::duration<double>(Clock::now() - t0).count());
  for (const auto& w : set->warnings) log::warn(*log::scope("ambitd.translate"), "translation_warning", "detail", w);
  server_.update(set);
  previous.reset();
  {
    std::lock_guard lock(mu_);
    pushed_ = std::max(pushed_, snap->version);
  }
  cv_.notify_all();
  auto count = [&](const char* type) { return set->find(type) ? set->find(type)->by_name.size() : 0; };
  log::debug(*log::scope("ambitd.push"), "pushed", "version", snap->version, "addresses", count(xds::kAddressType),
             "authorizations", count(xds::kAuthorizationType), "routes", count(xds::kRouteType), "pods_translated",
             stats.pods_translated, "pods_reused", stats.pods_reused, "ms",
             std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
}

uint64_t Pusher::pushedVersion() const {
  std::lock_guard lock(mu_);
  return pushed_;
}

bool Pusher::waitForPushed(uint64_t version, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pushed_ >= version; });
}

}  // namespace ambit::controlplane
