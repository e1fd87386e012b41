// A delta ADS client (envoy.service.discovery.v3.AggregatedDiscoveryService /
// DeltaAggregatedResources): subscribes to every resource of the given types
// (wildcard), hands each response to that type's handler, ACKs what the
// handler applied and NACKs, with the handler's reason, what it refused — a
// refused response changes nothing, so the last good config stays.
//
// On a broken stream it reconnects with capped, fully jittered exponential
// backoff and tells the server which versions it holds
// (initial_resource_versions), so only changes are sent again. Handlers keep
// their state across reconnects: the proxy runs on its last config while the
// control plane is away.
//
// Runs on its own thread (xDS work stays off the data path).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/base/result.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace ambit::xds {

using envoy::service::discovery::v3::Resource;

// Applies one type's changes. Called on the client thread only.
class TypeHandler {
 public:
  virtual ~TypeHandler() = default;
  virtual std::string typeUrl() const = 0;
  // All or nothing: validate everything first; an error NACKs the response
  // and must leave the handler's state as it was.
  virtual Status apply(const std::vector<const Resource*>& updated, const std::vector<std::string>& removed) = 0;
};

struct ClientOptions {
  std::string target;  // "host:port"
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string tls_server_name;  // name the server certificate must carry ("" = the target's host)
  envoy::config::core::v3::Node node;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
};

// Delay before reconnect attempt `attempt` (0-based): uniform in
// [0, min(max, initial * 2^attempt)] ("full jitter"), at least 10 ms. `unit`
// in [0, 1) is the random draw, passed in so the schedule is table-testable.
std::chrono::milliseconds backoffDelay(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                       unsigned attempt, double unit);

class DeltaClient {
 public:
  DeltaClient(ClientOptions options, std::vector<TypeHandler*> handlers);
  ~DeltaClient();
  DeltaClient(const DeltaClient&) = delete;
  DeltaClient& operator=(const DeltaClient&) = delete;

  void start();
  void stop();

  // Every type has had a response applied at least once (since start).
  bool synced() const { return synced_.load(); }
  bool connected() const { return connected_.load(); }
  nlohmann::json dump() const;

 private:
  struct TypeState {
    TypeHandler* handler = nullptr;
    std::map<std::string, std::string> versions;  // what we hold: name -> version
    bool got_first = false;
    std::string last_nonce;
    std::string last_nack;
    uint64_t acks = 0;
    uint64_t nacks = 0;
  };

  void run();
  // One stream, until it breaks or stop(). True if it received any response.
  bool runStream();
  void handle(const envoy::service::discovery::v3::DeltaDiscoveryResponse& resp,
              envoy::service::discovery::v3::DeltaDiscoveryRequest& reply);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::map<std::string, TypeState> types_;  // by type URL; touched on the client thread (dump() locks)
  mutable std::mutex mu_;                   // guards types_ for dump(), ctx_, stopping_, last_error_
  std::condition_variable cv_;
  grpc::ClientContext* ctx_ = nullptr;
  bool stopping_ = false;
  std::string last_error_;
  uint64_t reconnects_ = 0;
  std::atomic<bool> synced_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace ambit::xds
