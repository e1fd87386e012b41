// What every xDS client binary (ztunnel, waypoint) does before it connects to
// ambitd: read its CA bearer token and, with TLS, the root ambitd's serving
// certificate chains to; build the delta ADS client's options.
#pragma once

#include <chrono>
#include <string>

#include "common/base/result.h"
#include "common/xds/delta_client.h"

namespace ambit::xds {

struct ControlPlaneAccess {
  std::string token;     // trimmed
  std::string root_pem;  // "" without TLS
};

// Errors name the config field ("ca.token_file: ...", "xds.root_cert: ...").
Result<ControlPlaneAccess> readControlPlaneAccess(const std::string& token_file, bool tls,
                                                  const std::string& root_cert_file);

// TLS (verifying `server_name` against `root_pem`) or, for a loopback lab,
// plaintext; the node id is the caller's.
ClientOptions clientOptions(const std::string& address, bool tls, const std::string& root_pem,
                            const std::string& server_name, std::chrono::milliseconds max_backoff,
                            const std::string& node_id);

}  // namespace ambit::xds
