// The control plane's model: the Kubernetes, Istio and Gateway API objects users
// already write, reduced to the fields Ambit acts on. Both config sources (a YAML
// directory, the Kubernetes API) produce these; translation reads only these.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ambit::controlplane {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string ns;  // "" for cluster-scoped kinds (Namespace)
  Labels labels;
  Labels annotations;
  std::string origin;  // "demo/app.yaml:12:1": where it was declared, for errors and dumps
};

// ---- Kubernetes core ----

struct Namespace {
  ObjectMeta meta;
};

struct ContainerPort {
  std::string name;
  uint16_t port = 0;
  std::string protocol = "TCP";
};

struct Pod {
  ObjectMeta meta;
  std::string service_account = "default";
  std::string node_name;
  std::vector<std::string> ips;  // status.podIPs (or podIP)
  std::string phase = "Running";
  bool host_network = false;
  std::vector<ContainerPort> ports;  // all containers' ports, for named targetPorts
};

struct ServicePort {
  std::string name;
  uint16_t port = 0;
  std::optional<uint16_t> target_port;  // numeric targetPort
  std::string target_port_name;         // named targetPort, resolved per pod
  std::string protocol = "TCP";
  std::string app_protocol;
};

struct Service {
  ObjectMeta meta;
  std::vector<std::string> cluster_ips;  // "None" (headless) is dropped
  std::vector<ServicePort> ports;
  Labels selector;
  bool has_selector = false;
  std::string type = "ClusterIP";
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type = "IPv4";
  struct Endpoint {
    std::vector<std::string> addresses;
    bool ready = true;
    std::string target_pod;  // targetRef.name when kind is Pod
  };
  std::vector<Endpoint> endpoints;
  struct Port {
    std::string name;
    uint16_t port = 0;
  };
  std::vector<Port> ports;
};

// ---- networking.istio.io ----

struct ServiceEntry {
  ObjectMeta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> addresses;
  struct Port {
    uint16_t number = 0;
    std::string protocol;
    std::string name;
    std::optional<uint16_t> target_port;
  };
  std::vector<Port> ports;
  std::string location = "MESH_EXTERNAL";  // or MESH_INTERNAL
  std::string resolution = "NONE";         // NONE, STATIC, DNS, DNS_ROUND_ROBIN
  struct Endpoint {
    std::string address;
    std::map<std::string, uint16_t> ports;  // port name -> target port
    Labels labels;
    std::string service_account;
    std::string network;
    uint32_t weight = 0;
  };
  std::vector<Endpoint> endpoints;
  Labels workload_selector;
  bool has_workload_selector = false;
};

struct PortSelector {
  uint16_t number = 0;
};

struct Destination {
  std::string host;
  std::string subset;
  std::optional<uint16_t> port;
};

struct StringMatch {
  enum class Kind { kExact, kPrefix, kRegex } kind = Kind::kExact;
  std::string value;
};

struct HeaderOps {
  std::map<std::string, std::string> set;
  std::map<std::string, std::string> add;
  std::vector<std::string> remove;
};

struct HttpMatch {
  std::string name;
  std::optional<StringMatch> uri;
  std::optional<StringMatch> method;
  std::optional<StringMatch> authority;
  std::map<std::string, StringMatch> headers;
  std::map<std::string, StringMatch> without_headers;
  std::map<std::string, StringMatch> query_params;
  std::optional<uint16_t> port;
  bool ignore_uri_case = false;
};

struct RouteDestination {
  Destination destination;
  int32_t weight = 0;
  HeaderOps request_headers;
  HeaderOps response_headers;
};

struct HttpRetry {
  int32_t attempts = 0;
  std::optional<std::chrono::milliseconds> per_try_timeout;
  std::string retry_on;
};

struct HttpFault {
  std::optional<std::chrono::milliseconds> delay;
  double delay_percent = 100;
  std::optional<int32_t> abort_status;
  double abort_percent = 100;
};

struct HttpRoute {
  std::string name;
  std::vector<HttpMatch> match;
  std::vector<RouteDestination> route;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<HttpRetry> retries;
  std::optional<HttpFault> fault;
  std::optional<Destination> mirror;
  double mirror_percent = 100;
  std::string rewrite_uri;
  std::string rewrite_authority;
  struct Redirect {
    std::string uri;
    std::string authority;
    int32_t code = 301;
  };
  std::optional<Redirect> redirect;
  HeaderOps request_headers;
  HeaderOps response_headers;
};

struct TcpRoute {
  std::vector<uint16_t> match_ports;
  std::vector<RouteDestination> route;
};

struct VirtualService {
  ObjectMeta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> gateways;
  std::vector<HttpRoute> http;
  std::vector<TcpRoute> tcp;
};

struct TrafficPolicy {
  // Which sections were written: a subset's section replaces the host's whole section.
  bool has_connection_pool = false, has_load_balancer = false, has_outlier_detection = false, has_tls = false,
       has_retry_budget = false;
  std::optional<int32_t> max_connections;
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> tcp_idle_timeout;
  std::optional<int32_t> http1_max_pending_requests;
  std::optional<int32_t> http2_max_requests;
  std::optional<int32_t> max_requests_per_connection;
  std::optional<int32_t> max_retries;
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::string h2_upgrade_policy;  // "", DEFAULT, DO_NOT_UPGRADE, UPGRADE
  bool use_client_protocol = false;
  std::string lb_simple;  // ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH
  struct ConsistentHash {
    std::string header, cookie, query_param;
    bool source_ip = false;
    std::optional<std::chrono::milliseconds> cookie_ttl;
    std::string cookie_path;
  };
  std::optional<ConsistentHash> consistent_hash;
  std::optional<int32_t> consecutive_5xx_errors;
  std::optional<int32_t> consecutive_gateway_errors;
  std::optional<std::chrono::milliseconds> outlier_interval;
  std::optional<std::chrono::milliseconds> base_ejection_time;
  std::optional<int32_t> max_ejection_percent;
  std::string tls_mode;
  std::optional<double> retry_budget_percent;  // Istio's default: 20
  std::optional<int32_t> min_retry_concurrency;  // Istio's default: 3
};

struct DestinationRule {
  ObjectMeta meta;
  std::string host;
  std::optional<TrafficPolicy> traffic_policy;
  struct Subset {
    std::string name;
    Labels labels;
    std::optional<TrafficPolicy> traffic_policy;
  };
  std::vector<Subset> subsets;
};

// ---- security.istio.io ----

struct PolicyTargetRef {
  std::string group;
  std::string kind;
  std::string name;
  std::string ns;
};

struct AuthzSource {
  std::vector<std::string> principals, not_principals;
  std::vector<std::string> request_principals, not_request_principals;
  std::vector<std::string> namespaces, not_namespaces;
  std::vector<std::string> service_accounts, not_service_accounts;
  std::vector<std::string> ip_blocks, not_ip_blocks;
  std::vector<std::string> remote_ip_blocks, not_remote_ip_blocks;
};

struct AuthzOperation {
  std::vector<std::string> hosts, not_hosts;
  std::vector<std::string> ports, not_ports;
  std::vector<std::string> methods, not_methods;
  std::vector<std::string> paths, not_paths;
};

struct AuthzCondition {
  std::string key;
  std::vector<std::string> values, not_values;
};

struct AuthzRule {
  std::vector<AuthzSource> from;
  std::vector<AuthzOperation> to;
  std::vector<AuthzCondition> when;
};

struct AuthorizationPolicy {
  ObjectMeta meta;
  Labels selector;
  bool has_selector = false;
  std::vector<PolicyTargetRef> target_refs;
  std::string action = "ALLOW";  // ALLOW, DENY, AUDIT, CUSTOM
  std::vector<AuthzRule> rules;
  bool rules_set = false;  // `rules: []` (deny all for ALLOW) differs from no rules field
};

struct PeerAuthentication {
  ObjectMeta meta;
  Labels selector;
  bool has_selector = false;
  std::string mode = "UNSET";  // UNSET, DISABLE, PERMISSIVE, STRICT
  std::map<uint16_t, std::string> port_modes;
};

// ---- gateway.networking.k8s.io ----

struct Gateway {
  ObjectMeta meta;
  std::string class_name;
  struct Listener {
    std::string name;
    uint16_t port = 0;
    std::string protocol;
    std::string hostname;
  };
  std::vector<Listener> listeners;
  std::vector<std::string> addresses;
};

struct ParentRef {
  std::string group = "gateway.networking.k8s.io";
  std::string kind = "Gateway";
  std::string name;
  std::string ns;
  std::optional<uint16_t> port;
  std::string section_name;
};

struct BackendRef {
  std::string group;
  std::string kind = "Service";
  std::string name;
  std::string ns;
  std::optional<uint16_t> port;
  int32_t weight = 1;
};

struct HttpRouteMatch {
  std::optional<StringMatch> path;
  std::vector<std::pair<std::string, StringMatch>> headers;
  std::vector<std::pair<std::string, StringMatch>> query_params;
  std::string method;
};

struct HttpRouteRule {
  std::vector<HttpRouteMatch> matches;
  std::vector<BackendRef> backends;
  HeaderOps request_headers;
  HeaderOps response_headers;
  std::optional<BackendRef> mirror;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::milliseconds> backend_timeout;
  std::string rewrite_path_prefix;
  std::string rewrite_full_path;
  std::string rewrite_hostname;
  struct Redirect {
    std::string scheme, hostname, path;
    bool path_is_prefix = false;  // ReplacePrefixMatch: path replaces the matched prefix
    std::optional<uint16_t> port;
    int32_t status = 302;
  };
  std::optional<Redirect> redirect;
};

struct HTTPRoute {
  ObjectMeta meta;
  std::vector<ParentRef> parents;
  std::vector<std::string> hostnames;
  std::vector<HttpRouteRule> rules;
};

using Object = std::variant<Namespace, Pod, Service, EndpointSlice, ServiceEntry, VirtualService, DestinationRule,
                            AuthorizationPolicy, PeerAuthentication, Gateway, HTTPRoute>;

// "Pod", "AuthorizationPolicy", ...
const char* kindName(const Object& o);
const ObjectMeta& metaOf(const Object& o);
// "Pod/demo/client-1"; unique within the model.
std::string objectKey(const Object& o);

}  // namespace ambit::controlplane
