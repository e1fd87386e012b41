// Finds a pod's network namespace: the file its kNetnsAnnotation names, or
// else the one namespace whose interfaces hold the pod's first address,
// searched among /run/netns/* and /proc/<pid>/ns/net (never the agent's
// own; two holders is an error, not a guess).
#pragma once

#include <memory>
#include <string>

#include "agent/pods/node_pods.h"
#include "common/base/result.h"
#include "common/netns/netns.h"

namespace ambit::agent {

struct NetnsFinderOptions {
  std::string run_netns_dir = "/run/netns";
  std::string proc_dir = "/proc";
  std::size_t max_processes = 100000;  // bound on the /proc walk
};

// Is `ip` an address of one of `ns`'s interfaces?
bool addressIsLocal(const netns::Netns& ns, const boost::asio::ip::address& ip);

Result<std::shared_ptr<netns::Netns>> findNetns(const NodePod& pod, const NetnsFinderOptions& options = {});

}  // namespace ambit::agent
