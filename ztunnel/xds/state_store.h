// What ztunnel holds from xDS: Address (WDS) and Authorization resources,
// validated all-or-nothing per response (a bad resource NACKs the response and
// changes nothing), published as immutable ProxyState snapshots.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/xds/delta_client.h"
#include "ztunnel/state/state.h"

namespace ambit::ztunnel {

inline constexpr const char* kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationTypeUrl = "type.googleapis.com/istio.security.Authorization";

// Why a resource is refused, or ok (pure; table-tested).
Status validateAddress(const std::string& name, const istio::workload::Address& a);
Status validateAuthorization(const std::string& name, const istio::security::Authorization& p);

class StateStore {
 public:
  using Listener = std::function<void(const std::shared_ptr<const ProxyState>&)>;

  StateStore();
  // Never null (empty until the first update). Thread-safe.
  std::shared_ptr<const ProxyState> current() const;
  // Called on the xDS thread after each published change. Register before start.
  void onUpdate(Listener l) { listeners_.push_back(std::move(l)); }

  xds::TypeHandler& addressHandler() { return *address_handler_; }
  xds::TypeHandler& authorizationHandler() { return *authorization_handler_; }

 private:
  template <typename Msg>
  class TypedHandler;  // one type: unpack, validate all, then apply and publish

  void publish();

  std::map<std::string, AddressPtr> addresses_;          // xDS thread only
  std::map<std::string, authz::PolicyPtr> policies_;     // xDS thread only, by resource name
  std::unique_ptr<xds::TypeHandler> address_handler_;
  std::unique_ptr<xds::TypeHandler> authorization_handler_;
  std::vector<Listener> listeners_;
  mutable std::mutex mu_;
  std::shared_ptr<const ProxyState> current_;
};

}  // namespace ambit::ztunnel
