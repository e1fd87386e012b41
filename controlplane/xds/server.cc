// XdsServer: the stream registry, the current resource set, metrics and dump.
#include "common/xds/digest.h"
#include "controlplane/xds/server.h"

namespace ambit::controlplane::xds {

XdsMetrics::XdsMetrics(metrics::Registry& r)
    : pushes(r.counter("pilot_xds_pushes", "xDS responses sent, by type", {"type"})),
      rejects(r.counter("pilot_total_xds_rejects", "xDS responses rejected (NACKed) by clients, by type", {"type"})),
      convergence(r.histogram("pilot_proxy_convergence_time",
                              "Seconds from a config change being seen to a client ACKing it",
                              {}, {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 30})
                      .get({})) {}

std::string shortTypeName(const std::string& type_url) {
  // Metric label values must not come from clients unchecked: one series per
  // type a client invents would grow without bound.
  if (type_url == kAddressType) return "address";
  if (type_url == kAuthorizationType) return "authorization";
  if (type_url == kRouteType) return "route";
  return "other";
}

XdsServer::XdsServer(metrics::Registry& registry, XdsLimits limits) : limits_(limits), metrics_(registry) {
  registry.callbackGauge("pilot_xds", "Connected xDS clients", {"version"}, [this] {
    return std::vector<metrics::CallbackSample>{{{"ambit"}, static_cast<double>(clients())}};
  });
  registry.callbackGauge("ambitd_xds_resources", "Resources served, by type", {"type"}, [this] {
    std::vector<metrics::CallbackSample> out;
    if (auto set = current()) {
      for (const auto& [type, res] : set->types) {
        out.push_back({{shortTypeName(type)}, static_cast<double>(res.by_name.size())});
      }
    }
    return out;
  });
}

void XdsServer::update(std::shared_ptr<const ResourceSet> set) {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    current_ = set;
    streams.reserve(streams_.size());
    for (auto& [_, s] : streams_) streams.push_back(s);
  }
  // Each stream diffs on its own; doing it outside the lock keeps new clients,
  // closing clients and scrapes from waiting for every diff.
  for (auto& s : streams) s->notify(set);
}

std::shared_ptr<const ResourceSet> XdsServer::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::size_t XdsServer::clients() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

void XdsServer::add(std::shared_ptr<Stream> s) {
  std::lock_guard lock(mu_);
  Stream* key = s.get();
  streams_.emplace(key, std::move(s));
}

void XdsServer::remove(Stream* s) {
  std::shared_ptr<Stream> last;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  auto it = streams_.find(s);
  if (it != streams_.end()) {
    last = std::move(it->second);
    streams_.erase(it);
  }
}

nlohmann::json XdsServer::dump() const {
  std::vector<std::shared_ptr<Stream>> streams;
  std::shared_ptr<const ResourceSet> current;
  {
    std::lock_guard lock(mu_);
    for (const auto& [_, s] : streams_) streams.push_back(s);
    current = current_;
  }
  nlohmann::json clients = nlohmann::json::array();
  for (const auto& s : streams) clients.push_back(s->dump());
  nlohmann::json out = {{"clients", clients}};
  if (current) {
    nlohmann::json res = nlohmann::json::object();
    nlohmann::json digests = nlohmann::json::object();
    for (const auto& [type, t] : current->types) {
      nlohmann::json names = nlohmann::json::object();
      for (const auto& [name, e] : t.by_name) names[name] = e.version;
      res[shortTypeName(type)] = names;
      digests[type] = ambit::xds::resourceDigest(t.by_name, [](const ResourceEntry& e) { return e.version; });
    }
    out["digests"] = digests;
    out["system_version"] = current->version;
    out["resources"] = res;
    out["warnings"] = current->warnings;
  }
  return out;
}

}  // namespace ambit::controlplane::xds
