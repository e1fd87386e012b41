// One state-of-the-world ADS stream, for simple clients: every response carries
// all subscribed resources of a type, sent when their content changes
// (stream_reactor.h runs the stream's life).
#include <map>
#include <set>

#include "controlplane/xds/stream_reactor.h"

namespace ambit::controlplane::xds {

namespace ds = envoy::service::discovery::v3;

namespace {

class SotwStream final : public StreamReactor<ds::DiscoveryRequest, ds::DiscoveryResponse> {
 public:
  SotwStream(XdsServer& server, grpc::CallbackServerContext* ctx) : StreamReactor(server, ctx, "sotw") {}

 protected:
  nlohmann::json dumpLocked() const override {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, t] : types_) {
      types[type] = {{"names", t.names.size()}, {"sent_version", t.sent_version}, {"acked_version", t.acked_version}};
    }
    return {{"types", types}};
  }

  bool tracksType(const std::string& type_url) const override { return types_.count(type_url) > 0; }
  std::size_t typeCount() const override { return types_.size(); }

  void handleRequestLocked(const ds::DiscoveryRequest& req) override {
    TypeState& t = types_[req.type_url()];
    if (req.has_error_detail()) {
      server_.metrics().rejects.get({shortTypeName(req.type_url())})->inc();
      log::warn(*log::scope("ambitd.xds"), "xds_nack", "node", node_id_, "type", shortTypeName(req.type_url()),
                "error", req.error_detail().message());
      return;
    }
    if (!req.version_info().empty()) t.acked_version = req.version_info();
    std::set<std::string> names(req.resource_names().begin(), req.resource_names().end());
    names.erase("*");
    if (names != t.names || req.response_nonce().empty()) {
      t.names = std::move(names);
      t.sent_version.clear();  // a new subscription always gets an answer
    }
  }

  bool buildResponseLocked(ds::DiscoveryResponse& resp) override {
    for (auto& [type, t] : types_) {
      const TypeResources* res = latest_->find(type);
      std::string version = contentVersion(res, t);
      if (version == t.sent_version) continue;
      resp.set_type_url(type);
      resp.set_version_info(version);
      resp.set_nonce(std::to_string(++nonce_));
      if (res) {
        for (const auto& [name, e] : res->by_name) {
          if (!t.names.empty() && !t.names.count(name)) continue;
          auto* any = resp.add_resources();
          any->set_type_url(type);
          any->set_value(e.body);
        }
      }
      t.sent_version = version;
      server_.metrics().pushes.get({shortTypeName(type)})->inc();
      return true;
    }
    return false;
  }

 private:
  struct TypeState {
    std::set<std::string> names;  // empty = all
    std::string sent_version;
    std::string acked_version;
  };

  // The version of what a type's response would hold: a hash of its entries.
  static std::string contentVersion(const TypeResources* res, const TypeState& t) {
    std::string all;
    if (res) {
      for (const auto& [name, e] : res->by_name) {
        if (t.names.empty() || t.names.count(name)) all += name + "=" + e.version + ";";
      }
    }
    return versionOf(all);
  }

  std::map<std::string, TypeState> types_;
  uint64_t nonce_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<ds::DiscoveryRequest, ds::DiscoveryResponse>* XdsServer::StreamAggregatedResources(
    grpc::CallbackServerContext* ctx) {
  return startStream<SotwStream>(*this, ctx);
}

}  // namespace ambit::controlplane::xds
