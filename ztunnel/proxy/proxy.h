// The node proxy's data plane: for each workload on this node, the inbound
// HBONE (15008) and plaintext (15006) listeners; the outbound entry (SOCKS5 in
// shared mode); per-worker HBONE client pools; the open-connection table that
// policy changes re-check; Istio's TCP metrics and an access log line per
// connection.
//
// Two modes, one code path:
// - shared: the proxy runs in its own network namespace and listens on each
//   local workload's own address (workload_ip:15008 and :15006); the local
//   workloads are those WDS puts on our node; apps enter by SOCKS5. Tests and
//   hosts without capture use it.
// - in-pod: the node agent hands over each enrolled pod's network namespace
//   (common/zds); the proxy opens 15001 (outbound capture), 15006 and 15008
//   inside it, and makes that pod's outgoing connections there too, marked so
//   capture lets them through. The original destination of a captured
//   connection comes from SO_ORIGINAL_DST (iptables REDIRECT, or the eBPF
//   getsockopt answer) or the accepted socket's own address (sk_lookup).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <nlohmann/json.hpp>

#include "bpf/user/maps.h"
#include "common/app/service.h"
#include "common/hbone/connection.h"
#include "common/hbone/pool.h"
#include "common/hbone/tls_io.h"
#include "common/netns/netns.h"
#include "common/runtime/listener.h"
#include "common/zds/pod_set.h"
#include "ztunnel/identity/manager.h"
#include "ztunnel/proxy/connections.h"
#include "ztunnel/telemetry/labels.h"
#include "ztunnel/xds/state_store.h"

namespace ambit::ztunnel::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

struct ProxyConfig {
  std::string node_name;            // workloads with this node are ours
  bool inpod = false;               // in-pod mode: pods and their netns come from onPods()
  uint16_t outbound_port = 15001;   // in-pod: the outbound capture listener
  uint32_t mark = netns::kProxyMark;  // in-pod: on our sockets, so capture skips them
  std::string bpf_pin_dir = "/sys/fs/bpf/ambit";  // in-pod: the agent's pins (ambit_inbound), when it uses eBPF
  std::string network;              // our network ("" = default)
  std::string trust_domain = "cluster.local";
  uint16_t hbone_port = 15008;
  uint16_t inbound_plaintext_port = 15006;
  std::string socks5_address = "127.0.0.1";  // "" = no SOCKS5 entry
  uint16_t socks5_port = 15080;              // 0 = any
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds certificate_wait{std::chrono::seconds(5)};
  std::size_t copy_buffer = 16u << 10;
  hbone::H2Limits server_limits;
  hbone::PoolOptions pool;
};

struct TcpMetrics {
  explicit TcpMetrics(metrics::Registry& r);
  metrics::CounterFamily& opened;
  metrics::CounterFamily& closed;
  metrics::CounterFamily& sent;
  metrics::CounterFamily& received;
  metrics::CounterFamily& handshake_failures;
};

class Proxy {
 public:
  Proxy(ProxyConfig config, app::Service& service, StateStore& state, identity::Manager& identities);
  ~Proxy();

  // Opens the SOCKS5 entry and the per-worker pools; then follows `state`.
  Status start();
  // A new snapshot (xDS thread): open/close local workloads' listeners, ask
  // for their certificates, re-authorize open inbound connections.
  void onState(const std::shared_ptr<const ProxyState>& state);
  // In-pod mode: the pods the node agent handed over (its client thread).
  // Their listeners are open when this returns (the agent's ack says so).
  // Returns the pods whose listeners could not open, with why.
  std::map<std::string, std::string> onPods(const zds::Pods& pods);
  // On drain: GOAWAY on pooled connections (runs on each worker).
  void drainPools();
  // After the workers stopped: closes listeners and pooled connections while
  // their io_contexts still exist. The Proxy itself must outlive the Service
  // (the workers' leftover coroutine frames refer to its connection table).
  void stop();

  std::optional<tcp::endpoint> socks5Endpoint() const;
  nlohmann::json dump() const;
  ConnectionTable& connections() { return connections_; }

 private:
  struct LocalWorkload {
    WorkloadPtr workload;  // from WDS; in-pod mode may not have it yet
    std::string name;      // namespace/name
    tls::Identity identity;
    std::shared_ptr<netns::Netns> netns;  // in-pod mode: the pod's network namespace
    std::shared_ptr<asio::ssl::context> server_ctx;
    std::vector<std::unique_ptr<runtime::Listener>> listeners;
    std::string error;  // why a listener could not open
  };

  // Inbound (inbound.cc).
  asio::awaitable<void> serveHbone(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid);
  asio::awaitable<void> handleConnect(std::shared_ptr<hbone::Stream> stream, std::string uid,
                                      std::optional<tls::Identity> peer, tcp::endpoint peer_ep,
                                      std::shared_ptr<netns::Netns> ns);
  asio::awaitable<void> servePlaintext(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid,
                                       std::shared_ptr<netns::Netns> ns);

  // Outbound (outbound.cc).
  asio::awaitable<void> serveSocks5(tcp::socket& socket, runtime::ConnectionContext& ctx);
  using Reply = std::function<asio::awaitable<void>(uint8_t socks_code)>;
  asio::awaitable<void> outbound(tcp::socket& app, runtime::ConnectionContext& ctx, WorkloadPtr source,
                                 std::string dst_ip, uint16_t dst_port, Reply reply,
                                 std::shared_ptr<netns::Netns> ns);

  // A new pooled HBONE connection, dialled from `ns` (in-pod) or here.
  asio::awaitable<Result<hbone::TlsStream>> dialHbone(asio::any_io_executor ex, std::shared_ptr<netns::Netns> ns,
                                                      std::shared_ptr<asio::ssl::context> ssl_ctx, tcp::endpoint ep,
                                                      tls::Identity expected);

  // In-pod (inpod.cc): a captured outbound connection on 15001.
  asio::awaitable<void> serveCaptured(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid,
                                      std::shared_ptr<netns::Netns> ns);
  // A socket for an outgoing connection: in `ns` and marked (in-pod), else
  // unopened (the connect opens it here).
  Result<tcp::socket> newSocket(const asio::any_io_executor& ex, const tcp& protocol, const netns::Netns* ns);
  void openInpodListeners(LocalWorkload& lw, const std::string& uid);
  // Rebuilds the local workloads from WDS (shared) or the agent's pods (in-pod).
  void reconcile(const std::shared_ptr<const ProxyState>& state);
  std::shared_ptr<asio::ssl::context> clientContext(const tls::Identity& id);
  Result<std::shared_ptr<asio::ssl::context>> serverContext(const tls::Identity& id);
  void openListeners(LocalWorkload& lw);
  // Istio TCP metrics: opened at the start; closed with the record's bytes at the end.
  void countOpened(const metrics::LabelValues& labels);
  void countClosed(const metrics::LabelValues& labels, const ConnectionRecord& rec);
  // A connection refused before any byte moved (denied, upstream failed): opened and closed at once.
  void countRefused(const telemetry::ConnectionFacts& facts, const ConnectionRecord& rec);
  void accessLog(const ConnectionRecord& rec, const char* outcome, const std::string& detail,
                 std::chrono::steady_clock::time_point started);

  ProxyConfig config_;
  app::Service& service_;
  StateStore& state_;
  identity::Manager& identities_;
  TcpMetrics metrics_;
  ConnectionTable connections_;
  std::unique_ptr<runtime::Listener> socks5_;
  bpf::ProxyMaps bpf_;  // in-pod with eBPF capture: the agent's pinned maps
  std::vector<std::unique_ptr<hbone::ClientPool>> pools_;  // one per worker, used on that worker only
  std::atomic<uint64_t> round_robin_{0};

  std::mutex reconcile_mu_;  // one reconcile at a time (xDS and node-agent threads)
  mutable std::mutex mu_;    // guards local_, pods_ and client_ctx_
  std::map<std::string, LocalWorkload> local_;  // by workload uid
  zds::Pods pods_;                              // in-pod: from the node agent
  std::map<std::string, std::shared_ptr<asio::ssl::context>> client_ctx_;  // by SPIFFE id
};

// Raw address bytes (4 for IPv4 and v4-mapped IPv6, else 16) and back.
std::string rawIp(const asio::ip::address& a);
asio::ip::address fromRawIp(const std::string& raw);
// Connects `s` to `ep` within `timeout` (timed_out when it passes), with TCP_NODELAY.
asio::awaitable<boost::system::error_code> connectWithin(tcp::socket& s, const tcp::endpoint& ep,
                                                         std::chrono::milliseconds timeout);
// The original destination of a captured connection: SO_ORIGINAL_DST
// (iptables REDIRECT, eBPF's getsockopt answer), else the socket's local
// address (sk_lookup delivers with the original destination as local address).
std::optional<tcp::endpoint> originalDestination(tcp::socket& s);
// The client address in `forwarded: for="..."` (RFC 7239), if it is an IP literal.
std::optional<asio::ip::address> forwardedFor(std::string_view header);
// The client of an inbound HBONE stream: its node proxy's `forwarded` header,
// believed only when it names a workload with the peer's own identity (so no
// peer borrows another workload's address for policy), else the peer itself.
asio::ip::address clientAddress(const ProxyState& state, const std::string& network,
                                const std::optional<tls::Identity>& peer, const tcp::endpoint& peer_ep,
                                std::string_view forwarded_header);

}  // namespace ambit::ztunnel::proxy
