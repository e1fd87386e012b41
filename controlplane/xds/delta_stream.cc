// One delta ADS stream: requests update per-type subscriptions; each response
// carries a diff (stream_reactor.h runs the stream's life).
#include <charconv>
#include <map>

#include "common/log/log.h"
#include "controlplane/xds/delta_subscription.h"
#include "controlplane/xds/stream_reactor.h"

namespace ambit::controlplane::xds {

namespace ds = envoy::service::discovery::v3;

namespace {

class DeltaStream final : public StreamReactor<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse> {
 public:
  DeltaStream(XdsServer& server, grpc::CallbackServerContext* ctx) : StreamReactor(server, ctx, "delta") {}

 protected:
  nlohmann::json dumpLocked() const override {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, sub] : subs_) {
      nlohmann::json t = {{"wildcard", sub.wildcard()},
                          {"explicit", sub.explicitNames().size()},
                          {"resources_held", sub.heldCount()}};
      if (auto it = last_nack_.find(type); it != last_nack_.end()) t["last_nack"] = it->second;
      if (auto it = acked_version_.find(type); it != acked_version_.end()) t["acked_system_version"] = it->second;
      types[type] = t;
    }
    return {{"types", types}, {"pending_acks", pending_.size()}};
  }

  bool tracksType(const std::string& type_url) const override { return subs_.count(type_url) > 0; }
  std::size_t typeCount() const override { return subs_.size(); }

 private:
  struct Pending {
    std::string type_url;
    uint64_t system_version;
    std::chrono::steady_clock::time_point changed_at;
  };

  void handleRequestLocked(const ds::DeltaDiscoveryRequest& req) override {
    const std::string& type = req.type_url();
    uint64_t nonce = 0;
    const std::string& rn = req.response_nonce();
    auto [end, ec] = std::from_chars(rn.data(), rn.data() + rn.size(), nonce);
    if (!rn.empty() && ec == std::errc() && end == rn.data() + rn.size()) {
      auto it = pending_.find(nonce);
      if (it != pending_.end()) {
        if (req.has_error_detail()) {
          server_.metrics().rejects.get({shortTypeName(type)})->inc();
          last_nack_[type] = req.error_detail().message();
          log::warn(*log::scope("ambitd.xds"), "xds_nack", "node", node_id_, "type", shortTypeName(type), "nonce",
                    req.response_nonce(), "error", req.error_detail().message());
        } else {
          acked_version_[type] = it->second.system_version;
          if (it->second.changed_at.time_since_epoch().count() != 0) {
            std::chrono::duration<double> d = std::chrono::steady_clock::now() - it->second.changed_at;
            server_.metrics().convergence->observe(d.count());
          }
        }
        pending_.erase(it);
      }
    }
    bool first = !subs_.count(type);
    const TypeResources* current = latest_ ? latest_->find(type) : nullptr;
    subs_[type].onRequest(req, first, current);
    if (first && current == nullptr) unknown_types_to_answer_.insert(type);
  }

  bool buildResponseLocked(ds::DeltaDiscoveryResponse& resp) override {
    if (!unknown_types_to_answer_.empty()) {
      // A type we do not serve: answer once, empty, so the client is not left waiting.
      resp.set_type_url(*unknown_types_to_answer_.begin());
      unknown_types_to_answer_.erase(unknown_types_to_answer_.begin());
      resp.set_nonce(std::to_string(++nonce_));
      return true;
    }
    for (auto& [type, sub] : subs_) {
      const TypeResources* res = latest_->find(type);
      if (!res) continue;
      DeltaSubscription::Resources res_ptr(latest_, res);  // shares the set's lifetime
      Delta d = sub.diff(res_ptr);
      bool first_answer = answered_.insert(type).second;
      if (d.empty() && !first_answer) {
        sub.markSent(d, res_ptr, true);  // in step with this set: later diffs can use its change log
        continue;
      }
      // A new subscription is always answered, even with nothing in it: that
      // is how the client learns it has the whole (empty) set and is synced.
      // Keep each response bounded; what does not fit goes in the next one.
      std::size_t bytes = 0;
      Delta sent;
      for (const auto& name : d.upserts) {
        const ResourceEntry& e = res->by_name.at(name);
        if (!sent.upserts.empty() && bytes + e.body.size() > server_.limits().max_response_bytes) break;
        bytes += e.body.size();
        auto* r = resp.add_resources();
        r->set_name(name);
        r->set_version(e.version);
        for (const auto& a : e.aliases) r->add_aliases(a);
        r->mutable_resource()->set_type_url(type);
        r->mutable_resource()->set_value(e.body);
        sent.upserts.push_back(name);
      }
      for (const auto& name : d.removed) resp.add_removed_resources(name);
      sent.removed = d.removed;
      sub.markSent(sent, res_ptr, sent.upserts.size() == d.upserts.size());
      resp.set_type_url(type);
      resp.set_system_version_info(std::to_string(latest_->version));
      resp.set_nonce(std::to_string(++nonce_));
      pending_[nonce_] = Pending{type, latest_->version, latest_->changed_at};
      // A client that never ACKs must not grow this without bound.
      while (pending_.size() > kMaxPending) pending_.erase(pending_.begin());
      server_.metrics().pushes.get({shortTypeName(type)})->inc();
      return true;
    }
    return false;
  }

  std::map<std::string, DeltaSubscription> subs_;
  std::set<std::string> unknown_types_to_answer_;
  std::set<std::string> answered_;  // types this stream has sent a response for
  static constexpr std::size_t kMaxPending = 64;
  std::map<uint64_t, Pending> pending_;  // by nonce
  std::map<std::string, std::string> last_nack_;
  std::map<std::string, uint64_t> acked_version_;
  uint64_t nonce_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>* XdsServer::DeltaAggregatedResources(
    grpc::CallbackServerContext* ctx) {
  return startStream<DeltaStream>(*this, ctx);
}

}  // namespace ambit::controlplane::xds
