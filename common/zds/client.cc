#include "common/zds/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/log/log.h"
#include "common/zds/wire.h"

namespace ambit::zds {

using istio::workload::zds::WorkloadRequest;
using istio::workload::zds::WorkloadResponse;

namespace {

// How long one receive waits before checking whether we are stopping.
constexpr int kPollMs = 200;

Result<int> dial(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return makeError(ErrorCode::kInvalidArgument, "socket path too long: {}", path);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(ErrorCode::kUnavailable, "socket: {}", std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return makeError(ErrorCode::kUnavailable, "connect {}: {}", path, std::strerror(err));
  }
  return fd;
}

}  // namespace

Client::Client(ClientOptions options, OnChange on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {}

Client::~Client() { stop(); }

void Client::start() { thread_ = std::thread([this] { run(); }); }

void Client::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Client::run() {
  auto logger = log::scope("zds");
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.initial_backoff;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto sock = dial(options_.path);
    if (sock) {
      connects_++;
      connected_ = true;
      log::info(*logger, "node_agent_connected", "path", options_.path);
      session(*sock);
      ::close(*sock);
      connected_ = false;
      backoff = options_.initial_backoff;  // it worked once: start the backoff again
    } else {
      std::lock_guard lock(mu_);
      if (last_error_ != sock.error().message) {
        log::warn(*logger, "node_agent_unreachable", "error", sock.error().message);
      }
      last_error_ = sock.error().message;
    }
    // Full jitter in [0, backoff], then double up to the cap.
    auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(1, backoff.count()))(rng));
    backoff = std::min(backoff * 2, options_.max_backoff);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

void Client::session(int sock) {
  auto logger = log::scope("zds");
  istio::workload::zds::ZdsHello hello;
  hello.set_version(istio::workload::zds::V1);
  if (auto st = send(sock, hello); !st) {
    log::warn(*logger, "node_agent_lost", "error", st.error().message);
    return;
  }
  pods_.beginReplay();
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    WorkloadRequest req;
    int fd = -1;
    auto st = receive(sock, req, &fd, kPollMs);
    if (!st && st.error().code == ErrorCode::kDeadlineExceeded) continue;
    if (!st) {
      std::lock_guard lock(mu_);
      last_error_ = st.error().message;
      log::warn(*logger, "node_agent_lost", "error", st.error().message);
      return;
    }
    auto out = pods_.apply(req, fd);
    if (out.changed) {
      auto failed = on_change_(pods_.pods());
      if (req.has_add() && out.error.empty()) {
        auto it = failed.find(req.add().uid());
        if (it != failed.end()) out.error = req.add().uid() + ": " + it->second;
      }
    }
    // Every snapshot is logged: after an agent restart it says the replay
    // came in (and what it kept).
    if (req.payload_case() == WorkloadRequest::kSnapshotSent && pods_.synced()) {
      synced_ = true;
      log::info(*logger, "node_agent_snapshot_applied", "pods", pods_.pods().size());
    }
    if (!out.error.empty()) log::warn(*logger, "node_agent_request_refused", "error", out.error);
    {
      auto dump = nlohmann::json::array();
      for (const auto& [uid, pod] : pods_.pods()) {
        dump.push_back({{"uid", uid},
                        {"name", pod.info.namespace_() + "/" + pod.info.name()},
                        {"service_account", pod.info.service_account()},
                        {"netns_inode", pod.netns->inode()}});
      }
      std::lock_guard lock(mu_);
      pods_dump_ = std::move(dump);
    }
    WorkloadResponse resp;
    resp.mutable_ack()->set_error(out.error);
    if (auto sent = send(sock, resp); !sent) {
      log::warn(*logger, "node_agent_lost", "error", sent.error().message);
      return;
    }
  }
}

nlohmann::json Client::dump() const {
  std::lock_guard lock(mu_);
  return {{"path", options_.path},     {"connected", connected_.load()}, {"synced", synced_.load()},
          {"connects", connects_.load()}, {"last_error", last_error_},     {"pods", pods_dump_}};
}

}  // namespace ambit::zds
