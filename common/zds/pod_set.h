// ztunnel's side of the node-agent protocol as a pure state machine: the pods
// the agent has handed over (uid -> workload info + network namespace), and
// what each request does to them. The socket loop (client.h) feeds it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/netns/netns.h"
#include "istio/zds/zds.pb.h"

namespace ambit::zds {

struct Pod {
  std::string uid;
  istio::workload::zds::WorkloadInfo info;
  std::shared_ptr<netns::Netns> netns;
};
using Pods = std::map<std::string, Pod>;

class PodSet {
 public:
  // A new connection to the agent: it replays its pods; those not added or
  // kept again before SnapshotSent are dropped then (they went while we were
  // apart). Until then every pod stays: an agent restart changes nothing.
  void beginReplay();

  struct Outcome {
    std::string error;     // the ack's error text; "" = ok
    bool changed = false;  // the pod set changed
  };
  // Applies one request. `fd` is the descriptor that came with it (-1 if
  // none); it is owned from here on (kept for an AddWorkload, else closed).
  Outcome apply(const istio::workload::zds::WorkloadRequest& req, int fd);

  const Pods& pods() const { return pods_; }
  // A snapshot has completed at least once since start.
  bool synced() const { return synced_; }

 private:
  Pods pods_;
  std::set<std::string> seen_;  // added or kept since beginReplay
  bool replaying_ = false;
  bool synced_ = false;
};

}  // namespace ambit::zds
