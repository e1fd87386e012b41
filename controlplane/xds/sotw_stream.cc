// One state-of-the-world ADS stream, for simple clients: every response carries
// all subscribed resources of a type, sent when their content changes.
#include <charconv>
#include <map>

#include "common/log/log.h"
#include "controlplane/xds/server.h"

namespace ambit::controlplane::xds {

namespace ds = envoy::service::discovery::v3;

namespace {

class SotwStream final : public grpc::ServerBidiReactor<ds::DiscoveryRequest, ds::DiscoveryResponse>, public Stream {
 public:
  SotwStream(XdsServer& server, grpc::CallbackServerContext* ctx) : server_(server), peer_(ctx->peer()) {
    latest_ = server_.current();
  }
  void start() { StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      finish();
      return;
    }
    std::shared_ptr<const ResourceSet> set = server_.current();
    bool keep_reading = true;
    {
      std::lock_guard lock(mu_);
      // notify() may already have delivered a newer set: never go back.
      if (set && (!latest_ || set->version >= latest_->version)) latest_ = set;
      keep_reading = handleRequest(req_) && !finishing_;
    }
    req_.Clear();
    if (!keep_reading) {
      finish();
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
    if (finish_now) finish();
    else maybeWrite();
  }

  void OnDone() override {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
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
    for (const auto& [type, t] : types_) {
      types[type] = {{"names", t.names.size()}, {"sent_version", t.sent_version}, {"acked_version", t.acked_version}};
    }
    return {{"protocol", "sotw"}, {"peer", peer_}, {"node", node_id_}, {"types", types}};
  }

 private:
  struct TypeState {
    std::set<std::string> names;  // empty = all
    std::string sent_version;
    std::string acked_version;
    bool requested = true;
  };

  // False when the client is abusing the stream (too many type URLs).
  bool handleRequest(const ds::DiscoveryRequest& req) {
    if (node_id_.empty() && req.has_node()) node_id_ = req.node().id();
    if (!types_.count(req.type_url()) && types_.size() >= kMaxTypes) {
      log::warn(*log::scope("ambitd.xds"), "xds_too_many_types", "node", node_id_, "limit", kMaxTypes);
      return false;
    }
    TypeState& t = types_[req.type_url()];
    if (req.has_error_detail()) {
      server_.metrics().rejects.get({shortTypeName(req.type_url())})->inc();
      log::warn(*log::scope("ambitd.xds"), "xds_nack", "node", node_id_, "type", shortTypeName(req.type_url()),
                "error", req.error_detail().message());
      return true;
    }
    if (!req.version_info().empty()) t.acked_version = req.version_info();
    std::set<std::string> names(req.resource_names().begin(), req.resource_names().end());
    names.erase("*");
    if (names != t.names || req.response_nonce().empty()) {
      t.names = std::move(names);
      t.sent_version.clear();  // a new subscription always gets an answer
    }
    return true;
  }

  // The version of what a type's response would hold: a hash of its entries.
  std::string contentVersion(const TypeResources* res, const TypeState& t) const {
    std::string all;
    if (res) {
      for (const auto& [name, e] : res->by_name) {
        if (t.names.empty() || t.names.count(name)) all += name + "=" + e.version + ";";
      }
    }
    return versionOf(all);
  }

  void maybeWrite() {
    {
      std::lock_guard lock(mu_);
      if (writing_ || finishing_ || done_ || !latest_) return;
      bool built = false;
      for (auto& [type, t] : types_) {
        const TypeResources* res = latest_->find(type);
        std::string version = contentVersion(res, t);
        if (version == t.sent_version) continue;
        resp_.Clear();
        resp_.set_type_url(type);
        resp_.set_version_info(version);
        resp_.set_nonce(std::to_string(++nonce_));
        if (res) {
          for (const auto& [name, e] : res->by_name) {
            if (!t.names.empty() && !t.names.count(name)) continue;
            auto* any = resp_.add_resources();
            any->set_type_url(type);
            any->set_value(e.body);
          }
        }
        t.sent_version = version;
        server_.metrics().pushes.get({shortTypeName(type)})->inc();
        built = true;
        break;
      }
      if (!built) return;
      writing_ = true;
    }
    StartWrite(&resp_);
  }

  void finish() {
    {
      std::lock_guard lock(mu_);
      finishing_ = true;
      if (writing_ || finished_) return;
      finished_ = true;
    }
    Finish(grpc::Status::OK);
  }

  static constexpr std::size_t kMaxTypes = 16;
  XdsServer& server_;
  const std::string peer_;
  ds::DiscoveryRequest req_;
  ds::DiscoveryResponse resp_;
  mutable std::mutex mu_;
  std::string node_id_;
  std::shared_ptr<const ResourceSet> latest_;
  std::map<std::string, TypeState> types_;
  uint64_t nonce_ = 0;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool done_ = false;  // OnDone ran: gRPC is finished with this reactor
};

}  // namespace

grpc::ServerBidiReactor<ds::DiscoveryRequest, ds::DiscoveryResponse>* XdsServer::StreamAggregatedResources(
    grpc::CallbackServerContext* ctx) {
  auto stream = std::make_shared<SotwStream>(*this, ctx);
  add(stream);
  stream->start();
  return stream.get();
}

}  // namespace ambit::controlplane::xds
