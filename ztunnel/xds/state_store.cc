#include "ztunnel/xds/state_store.h"

namespace ambit::ztunnel {

namespace {

bool rawIp(const std::string& b) { return b.size() == 4 || b.size() == 16; }

template <typename Msg>
Result<std::shared_ptr<Msg>> unpack(const xds::Resource& r, const char* type_url, const char* what) {
  if (r.resource().type_url() != type_url) {
    return makeError(ErrorCode::kInvalidArgument, "{} {}: type {} is not {}", what, r.name(), r.resource().type_url(),
                     type_url);
  }
  auto m = std::make_shared<Msg>();
  if (!r.resource().UnpackTo(m.get())) {
    return makeError(ErrorCode::kInvalidArgument, "{} {}: does not decode", what, r.name());
  }
  return m;
}

}  // namespace

Status validateAddress(const std::string& name, const istio::workload::Address& a) {
  auto bad = [&](std::string_view why) { return makeError(ErrorCode::kInvalidArgument, "Address {}: {}", name, why); };
  if (a.has_workload()) {
    const auto& w = a.workload();
    if (w.uid().empty()) return bad("workload without uid");
    if (w.namespace_().empty()) return bad("workload without namespace");
    for (const auto& ip : w.addresses()) {
      if (!rawIp(ip)) return bad("workload address is not 4 or 16 bytes");
    }
    if (w.has_waypoint() && w.waypoint().has_address() && !rawIp(w.waypoint().address().address())) {
      return bad("waypoint address is not 4 or 16 bytes");
    }
    return {};
  }
  if (a.has_service()) {
    const auto& s = a.service();
    if (s.hostname().empty() || s.namespace_().empty()) return bad("service without hostname or namespace");
    for (const auto& na : s.addresses()) {
      if (!rawIp(na.address())) return bad("service address is not 4 or 16 bytes");
    }
    for (const auto& p : s.ports()) {
      if (p.service_port() == 0 || p.service_port() > 65535 || p.target_port() > 65535) return bad("port out of range");
    }
    return {};
  }
  return bad("neither a workload nor a service");
}

Status validateAuthorization(const std::string& name, const istio::security::Authorization& p) {
  if (p.name().empty() || p.namespace_().empty()) {
    return makeError(ErrorCode::kInvalidArgument, "Authorization {}: without name or namespace", name);
  }
  auto cidrsOk = [](const auto& list) {
    for (const auto& a : list) {
      if (!rawIp(a.address()) || a.length() > a.address().size() * 8) return false;
    }
    return true;
  };
  for (const auto& group : p.groups()) {
    for (const auto& rules : group.rules()) {
      for (const auto& m : rules.matches()) {
        if (!cidrsOk(m.source_ips()) || !cidrsOk(m.not_source_ips()) || !cidrsOk(m.destination_ips()) ||
            !cidrsOk(m.not_destination_ips())) {
          return makeError(ErrorCode::kInvalidArgument, "Authorization {}: an IP match is not a valid CIDR", name);
        }
      }
    }
  }
  return {};
}

template <typename Msg>
class StateStore::TypedHandler : public xds::TypeHandler {
 public:
  using Map = std::map<std::string, std::shared_ptr<const Msg>>;
  using Validate = Status (*)(const std::string&, const Msg&);
  TypedHandler(StateStore& store, const char* type_url, const char* what, Validate validate, Map& target)
      : store_(store), type_url_(type_url), what_(what), validate_(validate), target_(target) {}

  std::string typeUrl() const override { return type_url_; }

  Status apply(const std::vector<const xds::Resource*>& updated, const std::vector<std::string>& removed) override {
    std::vector<std::pair<std::string, std::shared_ptr<Msg>>> parsed;
    parsed.reserve(updated.size());
    for (const auto* r : updated) {
      auto m = unpack<Msg>(*r, type_url_, what_);
      if (!m) return m.error();
      if (auto st = validate_(r->name(), **m); !st) return st;
      parsed.emplace_back(r->name(), std::move(*m));
    }
    for (auto& [name, m] : parsed) target_[name] = std::move(m);
    for (const auto& name : removed) target_.erase(name);
    store_.publish();
    return {};
  }

 private:
  StateStore& store_;
  const char* type_url_;
  const char* what_;
  Validate validate_;
  Map& target_;
};

StateStore::StateStore()
    : address_handler_(std::make_unique<TypedHandler<istio::workload::Address>>(*this, kAddressTypeUrl, "Address",
                                                                               &validateAddress, addresses_)),
      authorization_handler_(std::make_unique<TypedHandler<istio::security::Authorization>>(
          *this, kAuthorizationTypeUrl, "Authorization", &validateAuthorization, policies_)),
      current_(ProxyState::build(std::map<std::string, AddressPtr>{}, {})) {}

std::shared_ptr<const ProxyState> StateStore::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void StateStore::publish() {
  auto next = ProxyState::build(addresses_, policies_);
  {
    std::lock_guard lock(mu_);
    current_ = next;
  }
  for (const auto& l : listeners_) l(next);
}

}  // namespace ambit::ztunnel
