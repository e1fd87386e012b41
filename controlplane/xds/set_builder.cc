// SetBuilder: incremental model -> ResourceSet.
#include "controlplane/xds/set_builder.h"

#include <set>

#include "controlplane/translate/translate_internal.h"

namespace ambit::controlplane::xds {

namespace {

template <typename T>
void addRange(std::vector<std::shared_ptr<const void>>& out, const ObjectMap<T>& map, const std::string& ns) {
  for (const auto& [key, obj] : inNamespace(map, ns)) out.push_back(obj);
}

}  // namespace

uint64_t SetBuilder::contextGeneration(const Snapshot& snap, const std::string& ns) {
  std::vector<std::shared_ptr<const void>> inputs;
  if (auto it = snap.namespaces.find(ns); it != snap.namespaces.end()) inputs.push_back(it->second);
  inputs.push_back(nullptr);  // separators keep "A in services" apart from "A in entries"
  addRange(inputs, snap.services, ns);
  inputs.push_back(nullptr);
  addRange(inputs, snap.service_entries, ns);
  inputs.push_back(nullptr);
  addRange(inputs, snap.endpoint_slices, ns);
  for (const std::string& policy_ns : {ns, mesh_.root_namespace}) {
    inputs.push_back(nullptr);
    addRange(inputs, snap.authorization_policies, policy_ns);
    inputs.push_back(nullptr);
    addRange(inputs, snap.peer_authentications, policy_ns);
  }
  inputs.push_back(nullptr);
  for (const auto& [key, gw] : snap.gateways) inputs.push_back(gw);
  NamespaceContext& ctx = contexts_[ns];
  if (ctx.generation == 0 || ctx.inputs != inputs) {
    ctx.inputs = std::move(inputs);
    ctx.generation = ++next_generation_;
  }
  return ctx.generation;
}

std::shared_ptr<const ResourceSet> SetBuilder::build(const Snapshot& snap,
                                                     std::chrono::steady_clock::time_point changed_at,
                                                     const ResourceSet* previous, Stats* stats) {
  auto set = std::make_shared<ResourceSet>();
  set->version = snap.version;
  set->changed_at = changed_at;
  TranslateContext ctx{snap, mesh_, {}};
  Translated t;
  translateServices(ctx, t);

  // Pods, namespace by namespace (keys are "ns/name", so a namespace is a run).
  auto& addresses = set->types[kAddressType].by_name;
  std::vector<std::string> pod_warnings;
  std::map<std::string, uint64_t> generations;
  // The cache is updated in place (both maps are sorted by key): entries of
  // pods gone from the model are erased, reused ones stay where they are.
  auto cached = pods_.begin();
  for (const auto& [key, pod] : snap.pods) {
    while (cached != pods_.end() && cached->first < key) cached = pods_.erase(cached);
    if (cached == pods_.end() || cached->first != key) cached = pods_.emplace_hint(cached, key, PodEntry{});
    PodEntry& entry = cached->second;
    ++cached;
    auto gen_it = generations.find(pod->meta.ns);
    if (gen_it == generations.end()) gen_it = generations.emplace(pod->meta.ns, contextGeneration(snap, pod->meta.ns)).first;
    uint64_t gen = gen_it->second;
    if (entry.pod == pod && entry.generation == gen) {
      if (stats) ++stats->pods_reused;
    } else {
      // Built aside and committed only once complete: a translation that
      // throws must not leave a half-filled entry to be reused later.
      PodEntry fresh;
      TranslateContext pod_ctx{snap, mesh_, {}};
      if (auto a = translatePod(pod_ctx, *pod, fresh.warnings)) {
        fresh.present = true;
        fresh.uid = a->workload().uid();
        fresh.entry = addressEntry(*a, mesh_.network);
      }
      if (!pod_ctx.peer_policies.empty()) {
        fresh.peer_policy_key = pod_ctx.peer_policies.begin()->first;
        fresh.peer_policy = pod_ctx.peer_policies.begin()->second;
      }
      fresh.pod = pod;
      fresh.generation = gen;
      entry = std::move(fresh);
      if (stats) ++stats->pods_translated;
    }
    if (entry.present) addresses.emplace(entry.uid, entry.entry);
    if (!entry.peer_policy_key.empty()) ctx.peer_policies.emplace(entry.peer_policy_key, entry.peer_policy);
    pod_warnings.insert(pod_warnings.end(), entry.warnings.begin(), entry.warnings.end());
  }
  pods_.erase(cached, pods_.end());  // pods gone from the model leave the cache
  for (auto it = contexts_.begin(); it != contexts_.end();) {
    it = generations.count(it->first) ? std::next(it) : contexts_.erase(it);
  }

  translateServiceEntryEndpoints(ctx, t);
  translateAuthorization(ctx, t);
  t.routes = translateRoutes(snap, mesh_, t.warnings);
  for (const auto& [name, addr] : t.addresses) addresses.emplace(name, addressEntry(addr, mesh_.network));
  auto& authz = set->types[kAuthorizationType].by_name;
  for (const auto& [name, a] : t.authorizations) authz.emplace(name, messageEntry(a));
  auto& routes = set->types[kRouteType].by_name;
  for (const auto& [name, r] : t.routes) routes.emplace(name, messageEntry(r));
  auto& http = set->types[kHttpPolicyType].by_name;
  for (const auto& [name, p] : t.http_policies) http.emplace(name, messageEntry(p));
  set->warnings = std::move(pod_warnings);
  set->warnings.insert(set->warnings.end(), t.warnings.begin(), t.warnings.end());
  return finishResourceSet(std::move(set), previous);
}

}  // namespace ambit::controlplane::xds
