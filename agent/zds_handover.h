// Hands pods to ztunnel through the ZDS server. The server is opened only
// after the agent's first pass over its pods: a ztunnel that connected
// earlier would be sent a snapshot without them and drop the pods it is
// serving (an agent restart must change nothing).
#pragma once

#include <memory>
#include <mutex>

#include "agent/reconciler.h"
#include "common/zds/server.h"

namespace ambit::agent {

class ZdsHandover final : public Handover {
 public:
  Status add(const zds::Pod& pod) override;
  Status remove(const std::string& uid) override;
  // Starts listening, with every pod added so far in the replay.
  Status open(zds::ServerOptions options);
  std::size_t connected() const;

 private:
  mutable std::mutex mu_;
  zds::Pods pending_;
  std::unique_ptr<zds::Server> server_;
};

}  // namespace ambit::agent
