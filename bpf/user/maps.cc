#include "bpf/user/maps.h"

#include <bpf/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ambit::bpf {

Result<uint64_t> socketNetnsCookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, kSoNetnsCookie, &cookie, &len) != 0) {
    return makeError(ErrorCode::kUnavailable, "SO_NETNS_COOKIE: {}", std::strerror(errno));
  }
  return cookie;
}

ambit_addr addrKey(const boost::asio::ip::address& ip, uint16_t port) {
  ambit_addr a{};
  if (ip.is_v4()) {
    auto b = ip.to_v4().to_bytes();
    std::memcpy(&a.ip[0], b.data(), 4);
    a.family = AF_INET;
  } else {
    auto b = ip.to_v6().to_bytes();
    std::memcpy(a.ip, b.data(), 16);
    a.family = AF_INET6;
  }
  a.port = port;
  return a;
}

ProxyMaps::~ProxyMaps() {
  for (auto* fd : {&inbound_fd_, &orig_fd_}) {
    if (int f = fd->load(); f >= 0) ::close(f);
  }
}

int ProxyMaps::open(std::atomic<int>& fd, const char* name) {
  int current = fd.load(std::memory_order_acquire);
  if (current >= 0 || pin_dir_.empty()) return current;
  std::string path = pin_dir_ + "/" + name;
  if (::access(path.c_str(), F_OK) != 0) return -1;
  int opened = bpf_obj_get(path.c_str());
  if (opened < 0) return -1;
  // Two threads may open it at once: one fd wins, the other is closed.
  if (!fd.compare_exchange_strong(current, opened, std::memory_order_acq_rel)) {
    ::close(opened);
    return current;
  }
  return opened;
}

Status ProxyMaps::fileInbound(int listen_fd) {
  int map = open(inbound_fd_, AMBIT_MAP_INBOUND);
  if (map < 0) return {};
  auto cookie = socketNetnsCookie(listen_fd);
  if (!cookie) return cookie.error();
  ambit_inbound_key key{};
  key.netns_cookie = *cookie;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return makeError(ErrorCode::kUnavailable, "getsockname: {}", std::strerror(errno));
  }
  key.family = ss.ss_family;
  uint64_t value = static_cast<uint64_t>(listen_fd);
  if (bpf_map_update_elem(map, &key, &value, BPF_ANY) != 0) {
    return makeError(ErrorCode::kUnavailable, "filing the inbound socket in {}/{}: {}", pin_dir_, AMBIT_MAP_INBOUND,
                     std::strerror(errno));
  }
  return {};
}

std::optional<boost::asio::ip::tcp::endpoint> ProxyMaps::takeOriginalDestination(
    int fd, const boost::asio::ip::tcp::endpoint& local, const boost::asio::ip::tcp::endpoint& peer) {
  int map = open(orig_fd_, AMBIT_MAP_ORIG_BY_TUPLE);
  if (map < 0) return std::nullopt;
  auto cookie = socketNetnsCookie(fd);
  if (!cookie) return std::nullopt;
  // Keyed as the app sees its connection: its end (our peer) -> us.
  ambit_tuple key{};
  key.netns_cookie = *cookie;
  key.local = addrKey(peer.address(), peer.port());
  key.remote = addrKey(local.address(), local.port());
  ambit_addr orig{};
  if (bpf_map_lookup_elem(map, &key, &orig) != 0) return std::nullopt;
  bpf_map_delete_elem(map, &key);  // the tuple is this connection's; the next one files its own
  if (orig.family == AF_INET) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), &orig.ip[0], 4);
    return boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4(b), orig.port);
  }
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), orig.ip, 16);
  return boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v6(b), orig.port);
}

}  // namespace ambit::bpf
