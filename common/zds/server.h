// The node agent's side of the protocol: listens on a unix SOCK_SEQPACKET
// socket for ztunnels. Each ztunnel that connects (and says hello) gets every
// pod replayed (AddWorkload + its netns fd), then SnapshotSent; after that
// every add and remove goes to each connected ztunnel and waits for its ack.
// Two ztunnels may be connected at once (a rolling restart): both are told.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/result.h"
#include "common/zds/pod_set.h"

namespace ambit::zds {

struct ServerOptions {
  std::string path = "/var/run/ambit/ztunnel.sock";
  std::chrono::milliseconds ack_timeout{std::chrono::seconds(5)};
  // Pods held from the start: the first ztunnel to connect gets all of them
  // in its replay (an agent that just restarted has its pods before it listens).
  Pods initial;
};

class Server {
 public:
  // Binds `options.path` (a stale socket file from an earlier run is replaced).
  static Result<std::unique_ptr<Server>> listen(ServerOptions options);
  ~Server();

  // Adds or replaces a pod; tells every connected ztunnel. An error names the
  // ztunnel's refusal or the lost connection (that ztunnel is dropped; it gets
  // the pod in its replay when it reconnects).
  Status add(const Pod& pod);
  Status remove(const std::string& uid);
  // ztunnels connected with their snapshot acked.
  std::size_t connected() const;
  // Waits (bounded) until at least `n` ztunnels are connected and synced.
  bool waitConnected(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  explicit Server(ServerOptions options, int listen_fd);
  void acceptLoop();
  Status exchange(int client, const istio::workload::zds::WorkloadRequest& req, int fd);  // mu_ held
  Status broadcast(const istio::workload::zds::WorkloadRequest& req, int fd);              // mu_ held

  ServerOptions options_;
  int listen_fd_;
  int wake_[2] = {-1, -1};  // a pipe that ends the accept loop
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Pods pods_;
  std::vector<int> clients_;
};

}  // namespace ambit::zds
