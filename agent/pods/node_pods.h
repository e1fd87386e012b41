// Which pods the agent is responsible for: those scheduled on its node, with
// an address, not on the host network, running. Enrolled ones (label
// istio.io/dataplane-mode on the pod or its namespace, as ambitd decides) are
// captured and handed to ztunnel; the rest are left alone (and released if an
// earlier run had them enrolled).
#pragma once

#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "controlplane/model/store.h"
#include "controlplane/translate/translate.h"

namespace ambit::agent {

// Annotation naming the pod's network namespace file (what a CNI plugin hands
// the agent in a cluster; the lab fills it in). Without it the agent looks
// for the namespace holding the pod's address.
inline constexpr const char* kNetnsAnnotation = "ambit.dev/netns";

struct NodePod {
  std::string uid;  // Istio's "<cluster>//Pod/<ns>/<name>", as in WDS
  std::string name, ns, service_account;
  std::vector<boost::asio::ip::address> addresses;
  bool enrolled = false;
  std::string netns_path;  // from kNetnsAnnotation ("" = find by address)
  bool operator==(const NodePod&) const = default;
};

// The pods on `node`, ordered by uid (pure: table-tested). Pods whose
// addresses do not parse are skipped with a warning in `warnings`.
std::vector<NodePod> nodePods(const controlplane::Snapshot& snap, const std::string& node,
                              const controlplane::MeshSettings& mesh, std::vector<std::string>* warnings = nullptr);

}  // namespace ambit::agent
