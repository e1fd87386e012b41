// ProxyState as JSON for /config_dump (what `ambitctl ztunnel-config` shows):
// every workload and service ztunnel knows, addresses as text.
#pragma once

#include <nlohmann/json.hpp>

#include "ztunnel/state/state.h"

namespace ambit::ztunnel {

std::string ipText(const std::string& raw);  // 4 or 16 raw bytes
nlohmann::json workloadJson(const istio::workload::Workload& w);
nlohmann::json serviceJson(const istio::workload::Service& s, std::size_t endpoints);
nlohmann::json workloadsJson(const ProxyState& state);
nlohmann::json servicesJson(const ProxyState& state);

}  // namespace ambit::ztunnel
