// ztunnel's connection to the node agent: connects to the agent's unix
// SOCK_SEQPACKET socket, says hello, applies each request to a PodSet and acks
// it; on a lost connection it keeps the pods it has and reconnects with a
// jittered, capped backoff (the agent replays its pods, then SnapshotSent).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/zds/pod_set.h"

namespace ambit::zds {

struct ClientOptions {
  std::string path = "/var/run/ambit/ztunnel.sock";
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
};

class Client {
 public:
  // `on_change` runs on the client's thread with the whole pod set, before the
  // request that changed it is acked: an ack means ztunnel has acted on it. It
  // returns, by uid, the pods it could not serve (listeners that would not
  // open): an AddWorkload for one of them is acked with that error.
  using OnChange = std::function<std::map<std::string, std::string>(const Pods&)>;
  Client(ClientOptions options, OnChange on_change);
  ~Client();

  void start();
  void stop();
  bool synced() const { return synced_.load(); }
  bool connected() const { return connected_.load(); }
  nlohmann::json dump() const;

 private:
  void run();
  void session(int sock);

  ClientOptions options_;
  OnChange on_change_;
  PodSet pods_;  // the client thread's
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> synced_{false};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> connects_{0};
  std::string last_error_;
  nlohmann::json pods_dump_ = nlohmann::json::array();
};

}  // namespace ambit::zds
