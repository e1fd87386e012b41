#include "agent/pods/netns_finder.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>

namespace ambit::agent {

namespace fs = std::filesystem;

bool addressIsLocal(const netns::Netns& ns, const boost::asio::ip::address& ip) {
  auto fd = netns::socketIn(&ns, ip.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM);
  if (!fd) return false;
  int rc;
  if (ip.is_v4()) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    auto b = ip.to_v4().to_bytes();
    std::memcpy(&a.sin_addr, b.data(), 4);
    rc = ::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    auto b = ip.to_v6().to_bytes();
    std::memcpy(&a.sin6_addr, b.data(), 16);
    rc = ::bind(*fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  ::close(*fd);
  return rc == 0;
}

Result<std::shared_ptr<netns::Netns>> findNetns(const NodePod& pod, const NetnsFinderOptions& options) {
  if (!pod.netns_path.empty()) {
    auto ns = netns::Netns::open(pod.netns_path);
    if (!ns) return ns.error();
    // The annotation must name the pod's namespace: a wrong path would capture another pod.
    if (!pod.addresses.empty() && !addressIsLocal(**ns, pod.addresses.front())) {
      return makeError(ErrorCode::kInvalidArgument, "{} does not hold the pod's address {}", pod.netns_path,
                       pod.addresses.front().to_string());
    }
    return *ns;
  }
  if (pod.addresses.empty()) return makeError(ErrorCode::kNotFound, "pod {} has no address", pod.uid);
  const auto& ip = pod.addresses.front();
  std::set<std::pair<dev_t, ino_t>> seen;
  auto tryPath = [&](const std::string& path) -> std::shared_ptr<netns::Netns> {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second) return nullptr;
    auto ns = netns::Netns::open(path);
    if (!ns || !addressIsLocal(**ns, ip)) return nullptr;
    return *ns;
  };
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options.run_netns_dir, ec)) {
    if (auto ns = tryPath(e.path().string())) return ns;
  }
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(options.proc_dir, ec)) {
    if (++n > options.max_processes) break;
    auto name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (auto ns = tryPath(e.path().string() + "/ns/net")) return ns;
  }
  return makeError(ErrorCode::kNotFound, "no network namespace holds {} (pod {})", ip.to_string(), pod.uid);
}

}  // namespace ambit::agent
