// In-pod mode: listeners inside each pod's network namespace, captured
// outbound connections (15001), and sockets made in the pod for what we dial.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/hbone/authority.h"
#include "common/log/log.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::ztunnel::proxy {

namespace {
// From linux/netfilter_ipv4.h and netfilter_ipv6/ip6_tables.h, which clash with
// glibc's netinet/in.h.
constexpr int kSoOriginalDst = 80;
constexpr int kIp6tSoOriginalDst = 80;
}  // namespace

std::optional<tcp::endpoint> originalDestination(tcp::socket& s) {
  boost::system::error_code ec;
  auto local = s.local_endpoint(ec);
  if (ec) return std::nullopt;
  int fd = s.native_handle();
  if (local.address().is_v4()) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    if (::getsockopt(fd, SOL_IP, kSoOriginalDst, &a, &len) == 0 && a.sin_family == AF_INET) {
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &a.sin_addr, 4);
      return tcp::endpoint(asio::ip::address_v4(b), ntohs(a.sin_port));
    }
  } else {
    sockaddr_in6 a{};
    socklen_t len = sizeof(a);
    if (::getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &a, &len) == 0 && a.sin6_family == AF_INET6) {
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &a.sin6_addr, 16);
      return tcp::endpoint(asio::ip::address_v6(b), ntohs(a.sin6_port));
    }
  }
  // No NAT record (conntrack absent, or sk_lookup delivered it untouched).
  return local;
}

Result<tcp::socket> Proxy::newSocket(const asio::any_io_executor& ex, const tcp& protocol, const netns::Netns* ns) {
  tcp::socket s(ex);
  if (ns == nullptr) {
    // In-pod, every dial belongs to a pod: without its namespace (released
    // meanwhile) there is nowhere right to dial from.
    if (config_.inpod) return makeError(ErrorCode::kUnavailable, "the pod's network namespace is gone");
    return s;
  }
  auto fd = netns::socketIn(ns, protocol.family(), SOCK_STREAM, 0, config_.mark);
  if (!fd) return fd.error();
  boost::system::error_code ec;
  s.assign(protocol, *fd, ec);
  if (ec) {
    ::close(*fd);
    return makeError(ErrorCode::kInternal, "socket: {}", ec.message());
  }
  return s;
}

namespace {

// When a listener closes, connections still in its accept queue move to
// another listener of the same SO_REUSEPORT group (a second ztunnel during a
// rolling restart) instead of being reset.
void enableRequestMigration(const netns::Netns& ns) {
  (void)netns::runIn(ns, [] {
    std::ofstream f("/proc/sys/net/ipv4/tcp_migrate_req");
    if (f) f << "1\n";
  });
}

}  // namespace

void Proxy::openInpodListeners(LocalWorkload& lw, const std::string& uid) {
  auto logger = log::scope("ztunnel");
  enableRequestMigration(*lw.netns);
  auto ns = lw.netns;
  auto make = [ns, mark = config_.mark](int family) { return netns::socketIn(ns.get(), family, SOCK_STREAM, 0, mark); };
  struct Spec {
    const char* what;
    uint16_t port;
    bool loopback;
    bool sk_lookup_target;  // eBPF capture steers the pod's inbound here (filed in the agent's map)
    runtime::ConnectionHandler handler;
  };
  std::vector<Spec> specs{
      {"hbone", config_.hbone_port, false, false,
       [this, uid](tcp::socket& s, runtime::ConnectionContext& ctx) { return serveHbone(s, ctx, uid); }},
      {"inbound-plaintext", config_.inbound_plaintext_port, false, true,
       [this, uid, ns](tcp::socket& s, runtime::ConnectionContext& ctx) { return servePlaintext(s, ctx, uid, ns); }},
      // Outbound capture is only for the pod's own connections: loopback.
      {"outbound", config_.outbound_port, true, false,
       [this, uid, ns](tcp::socket& s, runtime::ConnectionContext& ctx) { return serveCaptured(s, ctx, uid, ns); }},
  };
  for (auto& spec : specs) {
    if (spec.port == 0) continue;
    for (bool v6 : {false, true}) {
      asio::ip::address addr = v6 ? asio::ip::address(spec.loopback ? asio::ip::address_v6::loopback()
                                                                    : asio::ip::address_v6::any())
                                  : asio::ip::address(spec.loopback ? asio::ip::address_v4::loopback()
                                                                    : asio::ip::address_v4::any());
      runtime::ListenerOptions options{.name = std::string(spec.what) + " " + lw.name, .make_socket = make};
      if (spec.sk_lookup_target) options.on_listening = [this](int fd) { return bpf_.fileInbound(fd); };
      auto l = runtime::Listener::start(service_.workers(), service_.drain(), tcp::endpoint(addr, spec.port),
                                        spec.handler, std::move(options));
      if (l) {
        lw.listeners.push_back(std::move(*l));
      } else if (v6) {
        // A pod without IPv6 (disabled in its namespace) is IPv4-only.
        log::debug(*logger, "inpod_ipv6_listener_skipped", "workload", lw.name, "error", l.error().message);
      } else {
        lw.error = l.error().message;
      }
    }
  }
}

asio::awaitable<void> Proxy::serveCaptured(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid,
                                           std::shared_ptr<netns::Netns> ns) {
  static auto logger = log::scope("ztunnel.outbound");
  boost::system::error_code ec;
  auto local = socket.local_endpoint(ec);
  auto orig = originalDestination(socket);
  if (!ec && orig && *orig == local) {
    // No NAT record: with eBPF capture the agent's map has it.
    auto peer = socket.remote_endpoint(ec);
    if (!ec) {
      if (auto found = bpf_.takeOriginalDestination(socket.native_handle(), local, peer)) orig = found;
    }
  }
  // Dialled directly, not captured: the "original" destination is ourselves.
  if (ec || !orig || *orig == local || orig->port() == config_.outbound_port) {
    log::warn(*logger, "outbound_not_captured", "workload", uid, "detail", "connected to 15001 directly");
    co_return;
  }
  auto state = state_.current();
  auto source = state->workloadByUid(uid);
  // A pod the agent handed over a moment before its WDS record arrived: wait
  // for the record a little (bounded), as for a first certificate.
  auto executor = co_await asio::this_coro::executor;
  auto give_up = std::chrono::steady_clock::now() + config_.certificate_wait;
  while (!source && std::chrono::steady_clock::now() < give_up) {
    asio::steady_timer wait(executor, std::chrono::milliseconds(50));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    state = state_.current();
    source = state->workloadByUid(uid);
  }
  if (!source) {
    // Fail closed: without the control plane's record there is no policy to apply.
    log::warn(*logger, "outbound_unknown_source", "workload", uid, "dst",
              hbone::formatAuthority(orig->address(), orig->port()), "detail", "workload not in WDS yet");
    co_return;
  }
  // No handshake to answer: a refusal closes the app's connection.
  Reply reply = [](uint8_t) -> asio::awaitable<void> { co_return; };
  co_await outbound(socket, ctx, source, rawIp(orig->address()), orig->port(), reply, ns);
}

}  // namespace ambit::ztunnel::proxy
