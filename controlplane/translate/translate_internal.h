// Shared between the translation files; not part of the public interface.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/translate/translate.h"

namespace ambit::controlplane {

struct TranslateContext {
  const Snapshot& snap;
  const MeshSettings& mesh;
  // Generated PeerAuthentication policies the pods need: "ns/name" -> (ns, modes).
  std::map<std::string, std::pair<std::string, std::map<uint16_t, std::string>>> peer_policies;
};

enum class WaypointUse { kService, kWorkload };

// 4 or 16 raw bytes, as WDS carries addresses; empty if not an IP literal.
std::string ipBytes(const std::string& ip);

std::optional<istio::workload::GatewayAddress> resolveWaypoint(const TranslateContext& ctx, const ObjectMeta& meta,
                                                               WaypointUse use, std::vector<std::string>& warnings);

void translateServices(TranslateContext& ctx, Translated& out);
void translatePods(TranslateContext& ctx, Translated& out);
// One pod's Address; nullopt when it has no address yet or has finished. Adds
// the PeerAuthentication policy it needs to ctx.peer_policies.
std::optional<istio::workload::Address> translatePod(TranslateContext& ctx, const Pod& pod,
                                                     std::vector<std::string>& warnings);
void translateServiceEntryEndpoints(TranslateContext& ctx, Translated& out);
void translateAuthorization(TranslateContext& ctx, Translated& out);
// Sets Workload.authorization_policies: selector policies that select the pod
// and the PeerAuthentication policy its effective mTLS mode needs.
void attachPolicies(TranslateContext& ctx, const Pod& pod, istio::workload::Workload& w);

}  // namespace ambit::controlplane
