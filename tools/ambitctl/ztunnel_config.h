// `ambitctl ztunnel-config KIND`: a ztunnel's /config_dump as a table (pure:
// JSON in, text out, table-tested).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/base/result.h"

namespace ambit::ctl {

// KIND: workloads, services, policies, certificates, connections.
// `json`: the selected part as JSON instead of a table.
Result<std::string> renderZtunnelConfig(const nlohmann::json& dump, const std::string& kind, bool json);

}  // namespace ambit::ctl
