#include "common/xds/client_setup.h"

#include "common/base/file.h"

namespace ambit::xds {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

Result<ControlPlaneAccess> readControlPlaneAccess(const ControlPlaneConfig& c) {
  ControlPlaneAccess out;
  auto token = readFile(c.ca_token_file);
  if (!token) return token.error().wrap("ca.token_file");
  out.token = trim(*token);
  if (c.xds_tls) {
    auto root = readFile(c.xds_root_cert);
    if (!root) return root.error().wrap("xds.root_cert");
    out.root_pem = *root;
  }
  return out;
}

ClientOptions clientOptions(const ControlPlaneConfig& c, const std::string& root_pem, const std::string& node_id) {
  ClientOptions o;
  o.target = c.xds_address;
  if (c.xds_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = root_pem;
    o.credentials = grpc::SslCredentials(ssl);
    o.tls_server_name = c.xds_server_name;
  } else {
    o.credentials = grpc::InsecureChannelCredentials();
  }
  o.node.set_id(node_id);
  o.max_backoff = c.xds_max_backoff;
  return o;
}

}  // namespace ambit::xds
