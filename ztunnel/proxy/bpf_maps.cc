#include "ztunnel/proxy/bpf_maps.h"

#include <bpf/bpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf/abi.h"

namespace ambit::ztunnel::proxy {

namespace {

constexpr int kSoNetnsCookie = 71;  // SO_NETNS_COOKIE

ambit_addr addrOf(const boost::asio::ip::tcp::endpoint& ep) {
  ambit_addr a{};
  if (ep.address().is_v4()) {
    auto b = ep.address().to_v4().to_bytes();
    std::memcpy(&a.ip[0], b.data(), 4);
    a.family = AF_INET;
  } else {
    auto b = ep.address().to_v6().to_bytes();
    std::memcpy(a.ip, b.data(), 16);
    a.family = AF_INET6;
  }
  a.port = ep.port();
  return a;
}

}  // namespace

BpfMaps::~BpfMaps() {
  for (int fd : {inbound_fd_, orig_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

int BpfMaps::open(int& fd, const char* name) {
  if (fd < 0 && !pin_dir_.empty()) {
    // Looked up again while missing: the agent may load its programs after us.
    std::string path = pin_dir_ + "/" + name;
    if (::access(path.c_str(), F_OK) == 0) fd = bpf_obj_get(path.c_str());
  }
  return fd;
}

bool BpfMaps::active() const {
  std::lock_guard lock(mu_);
  return inbound_fd_ >= 0;
}

Status BpfMaps::fileInbound(int listen_fd) {
  std::lock_guard lock(mu_);
  int map = open(inbound_fd_, AMBIT_MAP_INBOUND);
  if (map < 0) return {};
  ambit_inbound_key key{};
  socklen_t len = sizeof(key.netns_cookie);
  if (::getsockopt(listen_fd, SOL_SOCKET, kSoNetnsCookie, &key.netns_cookie, &len) != 0) {
    return makeError(ErrorCode::kUnavailable, "SO_NETNS_COOKIE: {}", std::strerror(errno));
  }
  sockaddr_storage ss{};
  len = sizeof(ss);
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

std::optional<boost::asio::ip::tcp::endpoint> BpfMaps::takeOriginalDestination(
    int fd, const boost::asio::ip::tcp::endpoint& local, const boost::asio::ip::tcp::endpoint& peer) {
  int map;
  {
    std::lock_guard lock(mu_);
    map = open(orig_fd_, AMBIT_MAP_ORIG_BY_TUPLE);
  }
  if (map < 0) return std::nullopt;
  // Keyed as the app sees its connection: its end (our peer) -> us.
  ambit_tuple key{};
  socklen_t len = sizeof(key.netns_cookie);
  if (::getsockopt(fd, SOL_SOCKET, kSoNetnsCookie, &key.netns_cookie, &len) != 0) return std::nullopt;
  key.local = addrOf(peer);
  key.remote = addrOf(local);
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

}  // namespace ambit::ztunnel::proxy
