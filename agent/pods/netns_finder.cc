#include "agent/pods/netns_finder.h"

#include <ifaddrs.h>
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
  // The namespace's own interface addresses (netlink, inside it): a bind()
  // test would say yes anywhere with ip_nonlocal_bind set.
  bool found = false;
  (void)netns::runIn(ns, [&] {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return;
    for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
      if (i->ifa_addr == nullptr) continue;
      if (ip.is_v4() && i->ifa_addr->sa_family == AF_INET) {
        auto b = ip.to_v4().to_bytes();
        found = std::memcmp(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, b.data(), 4) == 0;
      } else if (ip.is_v6() && i->ifa_addr->sa_family == AF_INET6) {
        auto b = ip.to_v6().to_bytes();
        found = std::memcmp(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, b.data(), 16) == 0;
      }
    }
    ::freeifaddrs(list);
  });
  return found;
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
  // Never the agent's own namespace (the node's): capture there would take
  // the node's traffic. A pod address held by two namespaces is ambiguous.
  auto self = netns::Netns::current();
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<std::shared_ptr<netns::Netns>> matches;
  auto tryPath = [&](const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !seen.insert({st.st_dev, st.st_ino}).second) return;
    if (self && st.st_ino == (*self)->inode()) return;
    auto ns = netns::Netns::open(path);
    if (ns && addressIsLocal(**ns, ip)) matches.push_back(*ns);
  };
  std::error_code ec;
  for (fs::directory_iterator it(options.run_netns_dir, ec), end; !ec && it != end; it.increment(ec)) {
    tryPath(it->path().string());
  }
  std::size_t n = 0;
  ec.clear();
  for (fs::directory_iterator it(options.proc_dir, ec), end; !ec && it != end && ++n <= options.max_processes;
       it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    tryPath(it->path().string() + "/ns/net");
  }
  if (matches.size() > 1) {
    return makeError(ErrorCode::kInvalidArgument, "{} namespaces hold {} (pod {}): name one with the {} annotation",
                     matches.size(), ip.to_string(), pod.uid, kNetnsAnnotation);
  }
  if (matches.size() == 1) return matches.front();
  return makeError(ErrorCode::kNotFound, "no network namespace holds {} (pod {})", ip.to_string(), pod.uid);
}

}  // namespace ambit::agent
