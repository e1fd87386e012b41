// One delta ADS stream: requests update subscriptions; writes send diffs, one
// response in flight at a time, computed when written so bursts coalesce.
#include <charconv>
#include <map>

#include "common/log/log.h"
#include "controlplane/xds/delta_subscription.h"
#include "controlplane/xds/server.h"

namespace ambit::controlplane::xds {

namespace ds = envoy::service::discovery::v3;

namespace {

class DeltaStream final : public grpc::ServerBidiReactor<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>,
                          public Stream {
 public:
  DeltaStream(XdsServer& server, grpc::CallbackServerContext* ctx) : server_(server), peer_(ctx->peer()) {
    latest_ = server_.current();
  }
  void start() { StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      finish(grpc::Status::OK);
      return;
    }
    std::shared_ptr<const ResourceSet> set = server_.current();
    bool keep_reading = true;
    {
      std::lock_guard lock(mu_);
      if (set && (!latest_ || set->version >= latest_->version)) latest_ = set;
      keep_reading = handleRequest(req_) && !finishing_;
    }
    req_.Clear();
    if (!keep_reading) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "too many type URLs on one stream"));
      return;
    }
    StartRead(&req_);
    maybeWrite();
  }

  void OnWriteDone(bool ok) override {
    bool finish_now = false;
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) finishing_ = true;
      finish_now = finishing_;
    }
    if (finish_now) finish(grpc::Status::OK);  // keeps a status recorded earlier
    else maybeWrite();
  }

  void OnDone() override {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    log::info(*log::scope("ambitd.xds"), "xds_stream_closed", "peer", peer_, "node", node_id_);
    server_.remove(this);  // may destroy this stream: nothing after it
  }

  void notify(std::shared_ptr<const ResourceSet> set) override {
    {
      std::lock_guard lock(mu_);
      latest_ = std::move(set);
    }
    maybeWrite();
  }

  nlohmann::json dump() const override {
    std::lock_guard lock(mu_);
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, sub] : subs_) {
      nlohmann::json t = {{"wildcard", sub.wildcard()},
                          {"explicit", sub.explicitNames().size()},
                          {"resources_held", sub.known().size()}};
      if (auto it = last_nack_.find(type); it != last_nack_.end()) t["last_nack"] = it->second;
      if (auto it = acked_version_.find(type); it != acked_version_.end()) t["acked_system_version"] = it->second;
      types[type] = t;
    }
    return {{"protocol", "delta"}, {"peer", peer_}, {"node", node_id_}, {"types", types},
            {"pending_acks", pending_.size()}};
  }

 private:
  struct Pending {
    std::string type_url;
    uint64_t system_version;
    std::chrono::steady_clock::time_point changed_at;
  };

  // False when the client is abusing the stream (too many type URLs).
  bool handleRequest(const ds::DeltaDiscoveryRequest& req) {
    if (!subs_.count(req.type_url()) && subs_.size() >= kMaxTypes) {
      log::warn(*log::scope("ambitd.xds"), "xds_too_many_types", "node", node_id_, "limit", kMaxTypes);
      return false;
    }
    if (node_id_.empty() && req.has_node()) {
      node_id_ = req.node().id();
      log::info(*log::scope("ambitd.xds"), "xds_stream_opened", "peer", peer_, "node", node_id_, "protocol", "delta");
    }
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
    return true;
  }

  // Builds the next response under the lock, writes it outside.
  void maybeWrite() {
    {
      std::lock_guard lock(mu_);
      if (writing_ || finishing_ || done_ || !latest_) return;
      if (!buildResponseLocked()) return;
      writing_ = true;
    }
    StartWrite(&resp_);
  }

  bool buildResponseLocked() {
    resp_.Clear();
    if (!unknown_types_to_answer_.empty()) {
      // A type we do not serve: answer once, empty, so the client is not left waiting.
      resp_.set_type_url(*unknown_types_to_answer_.begin());
      unknown_types_to_answer_.erase(unknown_types_to_answer_.begin());
      resp_.set_nonce(std::to_string(++nonce_));
      return true;
    }
    for (auto& [type, sub] : subs_) {
      const TypeResources* res = latest_->find(type);
      if (!res) continue;
      Delta d = sub.diff(*res);
      if (d.empty()) continue;
      // Keep each response bounded; what does not fit goes in the next one.
      std::size_t bytes = 0;
      Delta sent;
      for (const auto& name : d.upserts) {
        const ResourceEntry& e = res->by_name.at(name);
        if (!sent.upserts.empty() && bytes + e.body.size() > server_.limits().max_response_bytes) break;
        bytes += e.body.size();
        auto* r = resp_.add_resources();
        r->set_name(name);
        r->set_version(e.version);
        for (const auto& a : e.aliases) r->add_aliases(a);
        r->mutable_resource()->set_type_url(type);
        r->mutable_resource()->set_value(e.body);
        sent.upserts.push_back(name);
      }
      for (const auto& name : d.removed) resp_.add_removed_resources(name);
      sent.removed = d.removed;
      sub.markSent(sent, *res);
      resp_.set_type_url(type);
      resp_.set_system_version_info(std::to_string(latest_->version));
      resp_.set_nonce(std::to_string(++nonce_));
      pending_[nonce_] = Pending{type, latest_->version, latest_->changed_at};
      // A client that never ACKs must not grow this without bound.
      while (pending_.size() > kMaxPending) pending_.erase(pending_.begin());
      server_.metrics().pushes.get({shortTypeName(type)})->inc();
      return true;
    }
    return false;
  }

  // The first status given wins, also when the Finish itself waits for a write.
  void finish(grpc::Status status) {
    grpc::Status final_status;
    {
      std::lock_guard lock(mu_);
      if (!finishing_) finish_status_ = status;
      finishing_ = true;
      if (writing_ || finished_) return;  // OnWriteDone finishes
      finished_ = true;
      final_status = finish_status_;
    }
    Finish(final_status);
  }

  XdsServer& server_;
  const std::string peer_;
  ds::DeltaDiscoveryRequest req_;
  ds::DeltaDiscoveryResponse resp_;
  mutable std::mutex mu_;
  std::string node_id_;
  std::shared_ptr<const ResourceSet> latest_;
  std::map<std::string, DeltaSubscription> subs_;
  std::set<std::string> unknown_types_to_answer_;
  static constexpr std::size_t kMaxPending = 64;
  static constexpr std::size_t kMaxTypes = 16;
  std::map<uint64_t, Pending> pending_;  // by nonce
  std::map<std::string, std::string> last_nack_;
  std::map<std::string, uint64_t> acked_version_;
  uint64_t nonce_ = 0;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool done_ = false;  // OnDone ran: gRPC is finished with this reactor
  grpc::Status finish_status_;
};

}  // namespace

grpc::ServerBidiReactor<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>* XdsServer::DeltaAggregatedResources(
    grpc::CallbackServerContext* ctx) {
  auto stream = std::make_shared<DeltaStream>(*this, ctx);
  add(stream);
  stream->start();
  return stream.get();
}

}  // namespace ambit::controlplane::xds
