// Pusher: model changes -> translation -> the xDS server, debounced. It waits
// until the model has been quiet for `debounce` (or `max_delay` passed since
// the first unpushed change), so a burst of edits becomes one push.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/metrics/registry.h"
#include "controlplane/model/store.h"
#include "controlplane/translate/translate.h"
#include "controlplane/xds/server.h"
#include "controlplane/xds/set_builder.h"

namespace ambit::controlplane {

struct PushSettings {
  std::chrono::milliseconds debounce{10};
  std::chrono::milliseconds max_delay{1000};
};

class Pusher {
 public:
  Pusher(ModelStore& store, xds::XdsServer& server, MeshSettings mesh, PushSettings settings,
         metrics::Registry& registry);
  ~Pusher();

  void start();
  void stop();
  // Model version last pushed to the xDS server.
  uint64_t pushedVersion() const;
  bool waitForPushed(uint64_t version, std::chrono::milliseconds timeout) const;

 private:
  void onChange(std::shared_ptr<const Snapshot> snap);
  void loop();
  void push(std::shared_ptr<const Snapshot> snap, std::chrono::steady_clock::time_point changed_at);

  ModelStore& store_;
  xds::XdsServer& server_;
  MeshSettings mesh_;
  xds::SetBuilder builder_;  // used by the push thread only
  PushSettings settings_;
  std::shared_ptr<metrics::Histogram> translate_seconds_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<const Snapshot> latest_;
  std::chrono::steady_clock::time_point first_unpushed_;
  std::chrono::steady_clock::time_point last_change_;
  uint64_t pushed_ = 0;
  uint64_t in_flight_ = 0;  // version being translated/pushed right now
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ambit::controlplane
