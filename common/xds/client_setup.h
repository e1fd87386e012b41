// What every xDS client binary (ztunnel, waypoint) does before it connects to
// ambitd: read its CA bearer token and, with TLS, the root ambitd's serving
// certificate chains to; build the delta ADS client's options.
#pragma once

#include <chrono>
#include <string>

#include "common/base/result.h"
#include "common/xds/control_plane_config.h"
#include "common/xds/delta_client.h"

namespace ambit::xds {

struct ControlPlaneAccess {
  std::string token;     // trimmed
  std::string root_pem;  // "" without TLS
};

// Errors name the config field ("ca.token_file: ...", "xds.root_cert: ...").
Result<ControlPlaneAccess> readControlPlaneAccess(const ControlPlaneConfig& c);

// TLS (verifying `server_name` against `root_pem`) or, for a loopback lab,
// plaintext; the node id is the caller's.
ClientOptions clientOptions(const ControlPlaneConfig& c, const std::string& root_pem, const std::string& node_id);

}  // namespace ambit::xds
