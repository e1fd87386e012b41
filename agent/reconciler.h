// The agent's core: brings capture and ztunnel in line with the pods on the
// node. Enrolled pods are captured first (so a pod is never handed to ztunnel
// with its traffic going around it), then handed over; pods that leave (or
// stop being enrolled) are released, then taken back from ztunnel. The first
// pass after a start also releases pods an earlier run enrolled that are no
// longer enrolled, and forgets what belongs to namespaces that are gone.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/capture/capture.h"
#include "agent/pods/node_pods.h"
#include "common/base/result.h"
#include "common/zds/pod_set.h"

namespace ambit::agent {

// Where enrolled pods are handed (zds::Server in the agent; a fake in tests).
class Handover {
 public:
  virtual ~Handover() = default;
  virtual Status add(const zds::Pod& pod) = 0;
  virtual Status remove(const std::string& uid) = 0;
};

using NetnsFinder = std::function<Result<std::shared_ptr<netns::Netns>>(const NodePod&)>;

struct PodStatus {
  NodePod pod;
  std::shared_ptr<netns::Netns> netns;
  bool captured = false;     // capture in place
  bool handed_over = false;  // ztunnel acked (or will get it in its replay)
  std::string error;         // the last failure ("" = none)
};

class Reconciler {
 public:
  Reconciler(Capture& capture, Handover& handover, NetnsFinder finder);

  // One pass over the node's pods (from a config change or the periodic
  // resync, which retries failures). Calls are serialized.
  void apply(const std::vector<NodePod>& pods);

  std::vector<PodStatus> status() const;
  nlohmann::json dump() const;
  // Counts for metrics: captured, handed over, failed.
  struct Counts {
    std::size_t captured = 0, handed_over = 0, failed = 0;
  };
  Counts counts() const;

 private:
  void enroll(const NodePod& pod, PodStatus& st);
  void release(PodStatus& st);

  Capture& capture_;
  Handover& handover_;
  NetnsFinder finder_;
  std::mutex apply_mu_;  // one pass at a time
  mutable std::mutex mu_;
  std::map<std::string, PodStatus> pods_;  // by uid: enrolled pods
  bool first_pass_ = true;
};

}  // namespace ambit::agent
