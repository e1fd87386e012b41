#include "common/zds/pod_set.h"

#include <unistd.h>

namespace ambit::zds {

using istio::workload::zds::WorkloadRequest;

void PodSet::beginReplay() {
  replaying_ = true;
  seen_.clear();
}

PodSet::Outcome PodSet::apply(const WorkloadRequest& req, int fd) {
  // Owns the descriptor until an AddWorkload keeps it.
  auto held = fd >= 0 ? std::make_shared<netns::Netns>(fd) : nullptr;
  Outcome out;
  switch (req.payload_case()) {
    case WorkloadRequest::kAdd: {
      const auto& add = req.add();
      if (add.uid().empty()) {
        out.error = "AddWorkload without a uid";
        break;
      }
      if (!held) {
        out.error = "AddWorkload " + add.uid() + " came without its network namespace descriptor";
        break;
      }
      seen_.insert(add.uid());
      auto it = pods_.find(add.uid());
      // A replayed pod with the same namespace keeps its listeners as they are.
      if (it != pods_.end() && it->second.netns->inode() == held->inode() &&
          it->second.info.SerializeAsString() == add.workload_info().SerializeAsString()) {
        break;
      }
      pods_[add.uid()] = Pod{add.uid(), add.workload_info(), std::move(held)};
      out.changed = true;
      break;
    }
    case WorkloadRequest::kKeep: {
      if (!pods_.count(req.keep().uid())) {
        out.error = "KeepWorkload " + req.keep().uid() + ": unknown workload";
        break;
      }
      seen_.insert(req.keep().uid());
      break;
    }
    case WorkloadRequest::kDel:
      out.changed = pods_.erase(req.del().uid()) > 0;
      seen_.erase(req.del().uid());
      break;
    case WorkloadRequest::kSnapshotSent:
      if (replaying_) {
        for (auto it = pods_.begin(); it != pods_.end();) {
          if (seen_.count(it->first)) {
            ++it;
          } else {
            it = pods_.erase(it);
            out.changed = true;
          }
        }
        replaying_ = false;
      }
      synced_ = true;
      break;
    case WorkloadRequest::PAYLOAD_NOT_SET:
      out.error = "empty WorkloadRequest";
      break;
  }
  return out;
}

}  // namespace ambit::zds
