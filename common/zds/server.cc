#include "common/zds/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log/log.h"
#include "common/zds/wire.h"

namespace ambit::zds {

using istio::workload::zds::WorkloadRequest;
using istio::workload::zds::WorkloadResponse;

Result<std::unique_ptr<Server>> Server::listen(ServerOptions options) {
  sockaddr_un addr{};
  if (options.path.size() >= sizeof(addr.sun_path)) {
    return makeError(ErrorCode::kInvalidArgument, "socket path too long: {}", options.path);
  }
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(ErrorCode::kUnavailable, "socket: {}", std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, options.path.data(), options.path.size());
  struct stat st {};
  if (::lstat(options.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(options.path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::chmod(options.path.c_str(), 0600) != 0 ||
      ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(ErrorCode::kUnavailable, "listen on {}: {}", options.path, std::strerror(err));
  }
  return std::unique_ptr<Server>(new Server(std::move(options), fd));
}

Server::Server(ServerOptions options, int listen_fd) : options_(std::move(options)), listen_fd_(listen_fd) {
  pods_ = std::move(options_.initial);
  options_.initial.clear();
  if (::pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { acceptLoop(); });
}

Server::~Server() {
  if (wake_[1] >= 0) {
    char b = 1;
    (void)!::write(wake_[1], &b, 1);
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  for (int c : clients_) ::close(c);
  ::close(listen_fd_);
  ::unlink(options_.path.c_str());
  for (int f : wake_) {
    if (f >= 0) ::close(f);
  }
}

Status Server::exchange(int client, const WorkloadRequest& req, int fd) {
  if (auto st = send(client, req, fd); !st) return st;
  WorkloadResponse resp;
  if (auto st = receive(client, resp, nullptr, static_cast<int>(options_.ack_timeout.count())); !st) {
    // Whatever went wrong (silence, a hang-up, a garbled packet), the connection is no good.
    return Error{ErrorCode::kUnavailable, "waiting for ztunnel's ack: " + st.error().message};
  }
  if (!resp.has_ack()) return makeError(ErrorCode::kUnavailable, "ztunnel answered without an ack");
  if (!resp.ack().error().empty()) return makeError(ErrorCode::kPermissionDenied, "ztunnel refused: {}", resp.ack().error());
  return {};
}

Status Server::broadcast(const WorkloadRequest& req, int fd) {
  Status result;
  for (auto it = clients_.begin(); it != clients_.end();) {
    auto st = exchange(*it, req, fd);
    if (!st && st.error().code != ErrorCode::kPermissionDenied) {
      // Lost or silent: drop it; it gets everything replayed when it comes back.
      ::close(*it);
      it = clients_.erase(it);
    } else {
      ++it;
    }
    if (!st && result) result = st;
  }
  return result;
}

Status Server::add(const Pod& pod) {
  std::lock_guard lock(mu_);
  pods_[pod.uid] = pod;
  WorkloadRequest req;
  req.mutable_add()->set_uid(pod.uid);
  *req.mutable_add()->mutable_workload_info() = pod.info;
  return broadcast(req, pod.netns->fd());
}

Status Server::remove(const std::string& uid) {
  std::lock_guard lock(mu_);
  pods_.erase(uid);
  WorkloadRequest req;
  req.mutable_del()->set_uid(uid);
  return broadcast(req, -1);
}

std::size_t Server::connected() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

bool Server::waitConnected(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return clients_.size() >= n; });
}

void Server::acceptLoop() {
  auto logger = log::scope("zds");
  for (;;) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    {
      // Watch connected ztunnels for hang-ups only (their acks are read by add/remove).
      std::lock_guard lock(mu_);
      for (int c : clients_) fds.push_back({c, 0, 0});
    }
    int r = ::poll(fds.data(), fds.size(), 1000);
    if (r < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLHUP | POLLERR)) == 0) continue;
      std::lock_guard lock(mu_);
      auto it = std::find(clients_.begin(), clients_.end(), fds[i].fd);
      if (it != clients_.end()) {
        ::close(*it);
        clients_.erase(it);
        log::info(*logger, "ztunnel_disconnected", "connected", clients_.size());
      }
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    istio::workload::zds::ZdsHello hello;
    if (auto st = receive(c, hello, nullptr, static_cast<int>(options_.ack_timeout.count())); !st) {
      log::warn(*logger, "ztunnel_hello_failed", "error", st.error().message);
      ::close(c);
      continue;
    }
    std::lock_guard lock(mu_);
    Status replay;
    for (const auto& [uid, pod] : pods_) {
      WorkloadRequest req;
      req.mutable_add()->set_uid(uid);
      *req.mutable_add()->mutable_workload_info() = pod.info;
      replay = exchange(c, req, pod.netns->fd());
      if (!replay && replay.error().code != ErrorCode::kPermissionDenied) break;
      if (!replay) log::warn(*logger, "ztunnel_refused_pod", "uid", uid, "error", replay.error().message);
      replay = {};
    }
    if (replay) {
      WorkloadRequest done;
      done.mutable_snapshot_sent();
      replay = exchange(c, done, -1);
    }
    if (!replay) {
      log::warn(*logger, "ztunnel_replay_failed", "error", replay.error().message);
      ::close(c);
      continue;
    }
    clients_.push_back(c);
    log::info(*logger, "ztunnel_connected", "pods", pods_.size(), "connected", clients_.size());
    cv_.notify_all();
  }
}

}  // namespace ambit::zds
