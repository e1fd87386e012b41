// Declares ambitd's config fields.
#include "controlplane/ambitd/config.h"

namespace ambit::controlplane {

AmbitdConfig::AmbitdConfig() {
  // istiod's ports: debug/admin on localhost:8080, monitoring on 15014.
  service.admin.port = 8080;
  service.admin.stats_port = 15014;
  service.admin.readiness_port = 15021;
}

config::Schema<AmbitdConfig> ambitdSchema() {
  config::Schema<AmbitdConfig> s("ambitd");
  app::addServiceFields<AmbitdConfig>(s, [](AmbitdConfig& c) -> app::ServiceConfig& { return c.service; });
  s.field<std::string>("config_dir", "directory of Kubernetes-style YAML (watched)",
                       [](AmbitdConfig& c) -> auto& { return c.config_dir; }, config::nonEmpty())
      .field<std::chrono::milliseconds>("config_settle", "how long to wait after a file change for more changes",
                                        [](AmbitdConfig& c) -> auto& { return c.file_settle; })
      .field<std::string>("xds.address", "xDS listener address", [](AmbitdConfig& c) -> auto& { return c.xds_address; },
                          config::ipAddress())
      .field<uint16_t>("xds.plaintext_port", "plaintext xDS port (lab and local use; 0 = any)",
                       [](AmbitdConfig& c) -> auto& { return c.xds_plaintext_port; })
      .field<uint16_t>("xds.tls_port", "xDS and CA over TLS (0 = any)",
                       [](AmbitdConfig& c) -> auto& { return c.xds_tls_port; })
      .field<std::string>("ca.state_dir", "where a generated root CA is kept (key mode 0600)",
                          [](AmbitdConfig& c) -> auto& { return c.ca_state_dir; })
      .field<std::string>("ca.cacerts_dir", "operator-supplied CA (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)",
                          [](AmbitdConfig& c) -> auto& { return c.ca_cacerts_dir; })
      .field<std::string>("ca.token_file", "bearer tokens of node proxies and workloads (YAML: nodes:, workloads:)",
                          [](AmbitdConfig& c) -> auto& { return c.ca_token_file; })
      .field<std::chrono::milliseconds>("ca.default_ttl", "certificate lifetime when the CSR asks for none",
                                        [](AmbitdConfig& c) -> auto& { return c.ca_default_ttl; },
                                        config::positiveDuration())
      .field<std::chrono::milliseconds>("ca.max_ttl", "longest certificate lifetime issued",
                                        [](AmbitdConfig& c) -> auto& { return c.ca_max_ttl; },
                                        config::positiveDuration())
      .field<std::vector<std::string>>("ca.server_dns_names", "DNS names in ambitd's own TLS certificate",
                                       [](AmbitdConfig& c) -> auto& { return c.ca_server_dns_names; })
      .field<std::string>("mesh.trust_domain", "SPIFFE trust domain",
                          [](AmbitdConfig& c) -> auto& { return c.mesh.trust_domain; }, config::nonEmpty())
      .field<std::string>("mesh.domain_suffix", "cluster DNS suffix (<svc>.<ns>.svc.<suffix>)",
                          [](AmbitdConfig& c) -> auto& { return c.mesh.domain_suffix; }, config::nonEmpty())
      .field<std::string>("mesh.root_namespace", "namespace whose policies apply mesh-wide",
                          [](AmbitdConfig& c) -> auto& { return c.mesh.root_namespace; }, config::nonEmpty())
      .field<std::string>("mesh.cluster_id", "cluster name used in workload uids",
                          [](AmbitdConfig& c) -> auto& { return c.mesh.cluster_id; }, config::nonEmpty())
      .field<std::string>("mesh.network", "network name of this cluster ('' = default)",
                          [](AmbitdConfig& c) -> auto& { return c.mesh.network; })
      .field<std::chrono::milliseconds>("push.debounce", "quiet time after a change before pushing",
                                        [](AmbitdConfig& c) -> auto& { return c.push.debounce; })
      .field<std::chrono::milliseconds>("push.max_delay", "longest a change waits for quiet before it is pushed",
                                        [](AmbitdConfig& c) -> auto& { return c.push.max_delay; },
                                        config::positiveDuration())
      .validate([](const AmbitdConfig& c) {
        std::vector<config::ConfigIssue> out;
        if (c.ca_default_ttl > c.ca_max_ttl) out.push_back({"", "ca.default_ttl", "must not exceed ca.max_ttl"});
        if (c.xds_tls_port != 0 && c.xds_tls_port == c.xds_plaintext_port) {
          out.push_back({"", "xds.tls_port", "must differ from xds.plaintext_port"});
        }
        return out;
      });
  return s;
}

}  // namespace ambit::controlplane
