// The xDS server: envoy.service.discovery.v3.AggregatedDiscoveryService over gRPC,
// delta (DeltaAggregatedResources) and state of the world (StreamAggregatedResources).
// It serves the latest ResourceSet; update() makes every stream send what changed.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/metrics/registry.h"
#include "controlplane/xds/resource_set.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace ambit::controlplane::xds {

struct XdsLimits {
  std::size_t max_response_bytes = 1 << 20;  // bigger pushes go out in several responses
};

// A live client stream (delta or SotW). The server holds it by shared_ptr from
// creation until gRPC's OnDone, so update() can notify streams outside its lock
// while a stream finishes; notify() after OnDone is a no-op.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void notify(std::shared_ptr<const ResourceSet> set) = 0;
  virtual nlohmann::json dump() const = 0;
};

struct XdsMetrics {
  explicit XdsMetrics(metrics::Registry& r);
  metrics::CounterFamily& pushes;
  metrics::CounterFamily& rejects;
  std::shared_ptr<metrics::Histogram> convergence;
};

class XdsServer final : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  XdsServer(metrics::Registry& registry, XdsLimits limits = {});

  // Serves `set` from now on and tells every stream.
  void update(std::shared_ptr<const ResourceSet> set);
  std::shared_ptr<const ResourceSet> current() const;
  std::size_t clients() const;
  nlohmann::json dump() const;

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* ctx) override;

  // Used by the streams. remove() drops the server's reference: call it last.
  void add(std::shared_ptr<Stream> s);
  void remove(Stream* s);
  XdsMetrics& metrics() { return metrics_; }
  const XdsLimits& limits() const { return limits_; }

 private:
  XdsLimits limits_;
  XdsMetrics metrics_;
  mutable std::mutex mu_;  // guards streams_ and current_; never held while calling into a stream
  std::map<Stream*, std::shared_ptr<Stream>> streams_;
  std::shared_ptr<const ResourceSet> current_;
};

// "address" / "authorization" for metric labels; "other" for any type we do not serve.
std::string shortTypeName(const std::string& type_url);

}  // namespace ambit::controlplane::xds
