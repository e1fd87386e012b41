#include "waypoint/state/route_store.h"

#include <google/protobuf/util/json_util.h>

#include "waypoint/authz/http_authz.h"

namespace ambit::waypoint {

namespace av1 = ambit::authz::v1;
namespace rv1 = ambit::route::v1;

namespace {

template <typename Msg>
Result<Msg> unpack(const xds::Resource& r, const char* type_url, const char* what) {
  if (r.resource().type_url() != type_url) {
    return makeError(ErrorCode::kInvalidArgument, "{} {}: type {} is not {}", what, r.name(),
                     r.resource().type_url(), type_url);
  }
  Msg m;
  if (!r.resource().UnpackTo(&m))
    return makeError(ErrorCode::kInvalidArgument, "{} {}: does not decode", what, r.name());
  return m;
}

nlohmann::json toJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) return nullptr;
  return nlohmann::json::parse(out, nullptr, false);
}

}  // namespace

const route::CompiledHost* RouteTable::host(const std::string& hostname) const {
  auto it = hosts_.find(hostname);
  return it == hosts_.end() ? nullptr : it->second.get();
}

std::vector<const av1::HttpPolicy*> RouteTable::policiesFor(const std::string& gateway_ns,
                                                            const std::string& gateway_name,
                                                            const std::string& service_ns,
                                                            const std::string& service_name) const {
  std::vector<const av1::HttpPolicy*> out;
  for (const auto& [key, p] : policies_) {
    for (const auto& t : p->targets()) {
      bool gw = t.kind() == "Gateway" && t.namespace_() == gateway_ns && t.name() == gateway_name;
      bool svc = t.kind() == "Service" && t.namespace_() == service_ns && t.name() == service_name;
      if (gw || svc) {
        out.push_back(p.get());
        break;
      }
    }
  }
  return out;
}

nlohmann::json RouteTable::dump() const {
  nlohmann::json hosts = nlohmann::json::object();
  for (const auto& [name, h] : hosts_) hosts[name] = toJson(h->config());
  nlohmann::json policies = nlohmann::json::object();
  for (const auto& [name, p] : policies_) policies[name] = toJson(*p);
  return {{"hosts", hosts}, {"policies", policies}};
}

class RouteStore::HostHandler : public xds::TypeHandler {
 public:
  explicit HostHandler(RouteStore& s) : store_(s) {}
  std::string typeUrl() const override { return kHostConfigTypeUrl; }
  Status apply(const std::vector<const xds::Resource*>& updated,
               const std::vector<std::string>& removed) override {
    std::vector<std::pair<std::string, std::shared_ptr<const route::CompiledHost>>> compiled;
    for (const auto* r : updated) {
      auto m = unpack<rv1::HostConfig>(*r, kHostConfigTypeUrl, "HostConfig");
      if (!m) return m.error();
      if (m->hostname() != r->name()) {
        return makeError(ErrorCode::kInvalidArgument, "HostConfig {}: hostname is '{}'", r->name(),
                         m->hostname());
      }
      auto c = route::CompiledHost::compile(std::move(*m));
      if (!c) return c.error().wrap("HostConfig " + r->name());
      compiled.emplace_back(r->name(), std::move(*c));
    }
    for (auto& [name, c] : compiled) store_.hosts_[name] = std::move(c);
    for (const auto& name : removed) store_.hosts_.erase(name);
    store_.publish();
    return {};
  }

 private:
  RouteStore& store_;
};

class RouteStore::PolicyHandler : public xds::TypeHandler {
 public:
  explicit PolicyHandler(RouteStore& s) : store_(s) {}
  std::string typeUrl() const override { return kHttpPolicyTypeUrl; }
  Status apply(const std::vector<const xds::Resource*>& updated,
               const std::vector<std::string>& removed) override {
    std::vector<std::pair<std::string, PolicyPtr>> parsed;
    for (const auto* r : updated) {
      auto m = unpack<av1::HttpPolicy>(*r, kHttpPolicyTypeUrl, "HttpPolicy");
      if (!m) return m.error();
      if (auto st = authz::validatePolicy(*m); !st) return st.error().wrap("HttpPolicy " + r->name());
      parsed.emplace_back(r->name(), std::make_shared<const av1::HttpPolicy>(std::move(*m)));
    }
    for (auto& [name, p] : parsed) store_.policies_[name] = std::move(p);
    for (const auto& name : removed) store_.policies_.erase(name);
    store_.publish();
    return {};
  }

 private:
  RouteStore& store_;
};

RouteStore::RouteStore()
    : host_handler_(std::make_unique<HostHandler>(*this)),
      policy_handler_(std::make_unique<PolicyHandler>(*this)),
      current_(std::make_shared<const RouteTable>()) {}

RouteStore::~RouteStore() = default;

std::shared_ptr<const RouteTable> RouteStore::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void RouteStore::publish() {
  auto next = std::make_shared<RouteTable>();
  next->hosts_ = hosts_;
  next->policies_ = policies_;
  std::lock_guard lock(mu_);
  current_ = std::move(next);
}

}  // namespace ambit::waypoint
