// Proxy lifecycle: local workloads' listeners, TLS contexts, metrics, helpers.
#include "ztunnel/proxy/proxy.h"

#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/hbone/authority.h"
#include "common/log/log.h"
#include "common/metrics/istio_labels.h"
#include "common/runtime/deadline.h"
#include "common/tls/tls_context.h"
#include "ztunnel/state/dump.h"

namespace ambit::ztunnel::proxy {

namespace istio_metrics = metrics::istio;

TcpMetrics::TcpMetrics(metrics::Registry& r)
    : opened(r.counter(istio_metrics::kTcpConnectionsOpened, "TCP connections opened", istio_metrics::tcpLabels())),
      closed(r.counter(istio_metrics::kTcpConnectionsClosed, "TCP connections closed", istio_metrics::tcpLabels())),
      sent(r.counter(istio_metrics::kTcpSentBytes, "Bytes sent to the downstream (response direction)",
                     istio_metrics::tcpLabels())),
      received(r.counter(istio_metrics::kTcpReceivedBytes, "Bytes received from the downstream (request direction)",
                         istio_metrics::tcpLabels())),
      handshake_failures(r.counter("ambit_ztunnel_tls_handshake_failures_total",
                                   "Inbound HBONE TLS handshakes refused, by reason", {"reason"})) {}

std::string rawIp(const asio::ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return rawIp(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

asio::ip::address fromRawIp(const std::string& raw) {
  if (raw.size() == 4) {
    asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), raw.data(), 4);
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b{};
  if (raw.size() == 16) std::memcpy(b.data(), raw.data(), 16);
  return asio::ip::address_v6(b);
}

asio::awaitable<boost::system::error_code> connectWithin(tcp::socket& s, const tcp::endpoint& ep,
                                                         std::chrono::milliseconds timeout) {
  runtime::Deadline deadline(s, timeout);
  auto [ec] = co_await s.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  if (ec && deadline.expired()) ec = asio::error::timed_out;
  if (!ec) s.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

asio::ip::address clientAddress(const ProxyState& state, const std::string& network,
                                const std::optional<tls::Identity>& peer, const tcp::endpoint& peer_ep,
                                std::string_view forwarded_header) {
  if (auto fwd = forwardedFor(forwarded_header)) {
    auto claimed = state.workloadByAddress(network, rawIp(*fwd));
    if (claimed && peer && identityOf(*claimed) == *peer) return *fwd;
  }
  return peer_ep.address();
}

std::optional<asio::ip::address> forwardedFor(std::string_view header) {
  // The last element's for= (the hop nearest to us), e.g. for="198.18.0.1" or for="[2001:db8::1]".
  auto pos = header.rfind("for=");
  if (pos == std::string_view::npos) return std::nullopt;
  auto v = header.substr(pos + 4);
  v = v.substr(0, v.find_first_of(";,"));
  if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() >= 2 && v.back() == '"' ? v.size() - 2 : v.size() - 1);
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    v = v.substr(1, close - 1);
  }
  boost::system::error_code ec;
  auto a = asio::ip::make_address(std::string(v), ec);
  if (ec) return std::nullopt;
  return a;
}

Proxy::Proxy(ProxyConfig config, app::Service& service, StateStore& state, identity::Manager& identities)
    : config_(std::move(config)),
      service_(service),
      state_(state),
      identities_(identities),
      metrics_(service.metrics()),
      bpf_(config_.inpod ? config_.bpf_pin_dir : "") {}

Proxy::~Proxy() {
  std::lock_guard lock(mu_);
  local_.clear();
}

Status Proxy::start() {
  for (std::size_t i = 0; i < service_.workers().size(); ++i) {
    pools_.push_back(std::make_unique<hbone::ClientPool>(service_.workers().context(i).get_executor(), config_.pool));
  }
  // In-pod, apps are captured in their own namespace; a SOCKS5 entry in ours
  // would dial from the node's namespace with no pod's mark: not offered.
  if (!config_.socks5_address.empty() && !config_.inpod) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(config_.socks5_address, ec);
    if (ec) return makeError(ErrorCode::kInvalidArgument, "socks5.address '{}': not an IP address", config_.socks5_address);
    auto l = runtime::Listener::start(
        service_.workers(), service_.drain(), tcp::endpoint(addr, config_.socks5_port),
        [this](tcp::socket& s, runtime::ConnectionContext& ctx) { return serveSocks5(s, ctx); },
        runtime::ListenerOptions{.name = "socks5"});
    if (!l) return l.error();
    socks5_ = std::move(*l);
  }
  service_.drain().onStart([this] { drainPools(); });
  return {};
}

void Proxy::drainPools() {
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    asio::post(service_.workers().context(i), [p = pools_[i].get()] { p->goAwayAll(); });
  }
}

void Proxy::stop() {
  std::map<std::string, LocalWorkload> closing;
  {
    std::lock_guard lock(mu_);
    closing.swap(local_);
  }
  closing.clear();
  socks5_.reset();
  pools_.clear();
}

std::optional<tcp::endpoint> Proxy::socks5Endpoint() const {
  if (!socks5_) return std::nullopt;
  return socks5_->localEndpoint();
}

std::shared_ptr<asio::ssl::context> Proxy::clientContext(const tls::Identity& id) {
  std::lock_guard lock(mu_);
  auto key = id.toString();
  auto it = client_ctx_.find(key);
  if (it != client_ctx_.end()) return it->second;
  auto ctx = tls::makeClientContext(identities_.store(id), tls::TlsOptions{}, config_.trust_domain);
  if (!ctx) return nullptr;
  auto shared = std::make_shared<asio::ssl::context>(tls::adoptContext(std::move(*ctx)));
  client_ctx_[key] = shared;
  return shared;
}

Result<std::shared_ptr<asio::ssl::context>> Proxy::serverContext(const tls::Identity& id) {
  auto ctx = tls::makeServerContext(identities_.store(id), tls::TlsOptions{}, config_.trust_domain);
  if (!ctx) return ctx.error();
  return std::make_shared<asio::ssl::context>(tls::adoptContext(std::move(*ctx)));
}

void Proxy::openListeners(LocalWorkload& lw) {
  const auto& w = *lw.workload;
  std::string uid = w.uid();
  for (const auto& raw : w.addresses()) {
    auto ip = fromRawIp(raw);
    auto hbone = runtime::Listener::start(
        service_.workers(), service_.drain(), tcp::endpoint(ip, config_.hbone_port),
        [this, uid](tcp::socket& s, runtime::ConnectionContext& ctx) { return serveHbone(s, ctx, uid); },
        runtime::ListenerOptions{.name = "hbone " + lw.name});
    if (!hbone) {
      lw.error = hbone.error().message;
      continue;
    }
    lw.listeners.push_back(std::move(*hbone));
    if (config_.inbound_plaintext_port != 0) {
      auto plain = runtime::Listener::start(
          service_.workers(), service_.drain(), tcp::endpoint(ip, config_.inbound_plaintext_port),
          [this, uid](tcp::socket& s, runtime::ConnectionContext& ctx) { return servePlaintext(s, ctx, uid, nullptr); },
          runtime::ListenerOptions{.name = "inbound-plaintext " + lw.name});
      if (plain) {
        lw.listeners.push_back(std::move(*plain));
      } else {
        lw.error = plain.error().message;
      }
    }
  }
}

void Proxy::onState(const std::shared_ptr<const ProxyState>& state) { reconcile(state); }

std::map<std::string, std::string> Proxy::onPods(const zds::Pods& pods) {
  {
    std::lock_guard lock(mu_);
    pods_ = pods;
  }
  reconcile(state_.current());
  std::map<std::string, std::string> failed;
  std::lock_guard lock(mu_);
  for (const auto& [uid, lw] : local_) {
    if (!lw.error.empty()) failed.emplace(uid, lw.error);
  }
  return failed;
}

void Proxy::reconcile(const std::shared_ptr<const ProxyState>& state) {
  auto logger = log::scope("ztunnel");
  std::lock_guard serial(reconcile_mu_);
  // What should be local: WDS's workloads on our node (shared), or the pods
  // the node agent handed over (in-pod; WDS may not know them yet).
  std::map<std::string, LocalWorkload> wanted;
  {
    std::lock_guard lock(mu_);
    if (config_.inpod) {
      for (const auto& [uid, pod] : pods_) {
        LocalWorkload lw;
        lw.workload = state->workloadByUid(uid);
        lw.name = pod.info.namespace_() + "/" + pod.info.name();
        lw.identity = lw.workload ? identityOf(*lw.workload)
                                  : tls::Identity{config_.trust_domain, pod.info.namespace_(),
                                                  pod.info.service_account().empty() ? "default"
                                                                                     : pod.info.service_account()};
        lw.netns = pod.netns;
        wanted.emplace(uid, std::move(lw));
      }
    }
  }
  if (!config_.inpod) {
    for (const auto& w : state->workloadsOnNode(config_.node_name)) {
      LocalWorkload lw;
      lw.workload = w;
      lw.name = w->namespace_() + "/" + w->name();
      lw.identity = identityOf(*w);
      wanted.emplace(w->uid(), std::move(lw));
    }
  }
  std::set<std::string> identities;
  // Listeners that go close outside mu_: closing waits for their workers,
  // which take mu_ to look up a workload.
  std::map<std::string, LocalWorkload> retired;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, LocalWorkload> next;
    for (auto& [uid, lw] : wanted) {
      identities.insert(lw.identity.toString());
      auto it = local_.find(uid);
      // Listeners stay as they are unless what they were opened for changed.
      bool same = it != local_.end() && it->second.error.empty() && it->second.identity == lw.identity &&
                  (config_.inpod ? it->second.netns->inode() == lw.netns->inode()
                                 : std::equal(lw.workload->addresses().begin(), lw.workload->addresses().end(),
                                              it->second.workload->addresses().begin(),
                                              it->second.workload->addresses().end()));
      if (same) {
        it->second.workload = lw.workload;
        next.emplace(uid, std::move(it->second));
        continue;
      }
      if (it != local_.end()) {  // changed: reopen
        retired.emplace(uid + " (replaced)", std::move(it->second));
        local_.erase(it);
      }
      auto ctx = serverContext(lw.identity);
      if (!ctx) {
        lw.error = ctx.error().message;
      } else {
        lw.server_ctx = *ctx;
        if (config_.inpod) {
          openInpodListeners(lw, uid);
        } else {
          openListeners(lw);
        }
      }
      if (!lw.error.empty()) {
        log::warn(*logger, "workload_listeners_failed", "workload", lw.name, "error", lw.error);
      } else {
        log::info(*logger, "workload_added", "workload", lw.name, "uid", uid, "identity", lw.identity.toString());
      }
      next.emplace(uid, std::move(lw));
    }
    for (const auto& [uid, lw] : local_) {
      if (!next.count(uid)) log::info(*logger, "workload_removed", "uid", uid);
    }
    for (auto& [uid, lw] : local_) retired.emplace(uid, std::move(lw));  // workloads that left
    local_ = std::move(next);
    for (auto it = client_ctx_.begin(); it != client_ctx_.end();) {
      it = identities.count(it->first) ? std::next(it) : client_ctx_.erase(it);
    }
  }
  retired.clear();
  identities_.setWanted(identities);
  connections_.reauthorize(*state);
}

void Proxy::countRefused(const telemetry::ConnectionFacts& facts, const ConnectionRecord& rec) {
  auto labels = telemetry::tcpLabelValues(facts);
  countOpened(labels);
  countClosed(labels, rec);
}

void Proxy::countOpened(const metrics::LabelValues& labels) { metrics_.opened.get(labels)->inc(); }

void Proxy::countClosed(const metrics::LabelValues& labels, const ConnectionRecord& rec) {
  metrics_.closed.get(labels)->inc();
  // Istio's view from the downstream: "received" = the client's bytes, "sent" = the replies.
  metrics_.received.get(labels)->inc(rec.bytes_to_destination.load(std::memory_order_relaxed));
  metrics_.sent.get(labels)->inc(rec.bytes_to_source.load(std::memory_order_relaxed));
}

void Proxy::accessLog(const ConnectionRecord& rec, const char* outcome, const std::string& detail,
                      std::chrono::steady_clock::time_point started) {
  static auto logger = log::scope("ztunnel.access");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log::info(*logger, "access", "direction", rec.direction, "src", rec.source, "dst", rec.destination, "src_identity",
            rec.source_identity.empty() ? "-" : rec.source_identity, "dst_workload",
            rec.destination_workload.empty() ? "-" : rec.destination_workload, "via", rec.via, "outcome", outcome,
            "bytes_to_destination", rec.bytes_to_destination.load(std::memory_order_relaxed), "bytes_to_source",
            rec.bytes_to_source.load(std::memory_order_relaxed), "duration_ms", ms, "detail",
            detail.empty() ? "-" : detail);
}

nlohmann::json Proxy::dump() const {
  auto state = state_.current();
  nlohmann::json out;
  out["node"] = config_.node_name;
  out["mode"] = config_.inpod ? "inpod" : "shared";
  // In-pod: how inbound reaches our 15006 sockets (sk_lookup via the agent's
  // map, or the agent's iptables REDIRECT).
  if (config_.inpod) out["inbound_capture"] = bpf_.active() ? "ebpf_sk_lookup" : "redirect";
  {
    std::lock_guard lock(mu_);
    auto locals = nlohmann::json::array();
    for (const auto& [uid, lw] : local_) {
      nlohmann::json j{{"uid", uid},
                       {"name", lw.name},
                       {"identity", lw.identity.toString()},
                       {"listeners", lw.listeners.size()},
                       {"in_wds", lw.workload != nullptr}};
      if (lw.netns) j["netns_inode"] = lw.netns->inode();
      if (!lw.error.empty()) j["error"] = lw.error;
      locals.push_back(std::move(j));
    }
    out["local_workloads"] = std::move(locals);
  }
  out["workloads"] = workloadsJson(*state);
  out["services"] = servicesJson(*state);
  auto policies = nlohmann::json::array();
  for (const auto& [name, p] : state->policies().all()) {
    policies.push_back({{"name", name}, {"action", istio::security::Action_Name(p->action())},
                        {"scope", istio::security::Scope_Name(p->scope())}, {"dry_run", p->dry_run()}});
  }
  out["policies"] = std::move(policies);
  out["certificates"] = identities_.dump();
  out["connections"] = connections_.dump();
  return out;
}

}  // namespace ambit::ztunnel::proxy
