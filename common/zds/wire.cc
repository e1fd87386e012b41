#include "common/zds/wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace ambit::zds {

Status send(int sock, const google::protobuf::MessageLite& msg, int attach_fd) {
  std::string bytes;
  if (!msg.SerializeToString(&bytes)) return makeError(ErrorCode::kInternal, "cannot serialize {}", msg.GetTypeName());
  if (bytes.size() > kMaxPacket) return makeError(ErrorCode::kInvalidArgument, "message of {} bytes is too large", bytes.size());
  iovec iov{bytes.data(), bytes.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (attach_fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &attach_fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    return makeError(ErrorCode::kUnavailable, "send: {}", std::strerror(errno));
  }
}

Status receive(int sock, google::protobuf::MessageLite& msg, int* fd, int timeout_ms) {
  if (fd != nullptr) *fd = -1;
  pollfd p{sock, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return makeError(ErrorCode::kUnavailable, "poll: {}", std::strerror(errno));
    if (r == 0) return makeError(ErrorCode::kDeadlineExceeded, "no message within {} ms", timeout_ms);
    break;
  }
  std::vector<char> buf(kMaxPacket);
  iovec iov{buf.data(), buf.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return makeError(ErrorCode::kUnavailable, "receive: {}", std::strerror(errno));
  // Collect every descriptor that came, keep the first, close the rest.
  int got = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int f;
      std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (got < 0 && fd != nullptr) {
        got = f;
      } else {
        ::close(f);
      }
    }
  }
  // Every message of the protocol has a field set, so it is never empty: a
  // zero-length read is the peer's orderly shutdown.
  if (n == 0) {
    if (got >= 0) ::close(got);
    return makeError(ErrorCode::kUnavailable, "peer closed the connection");
  }
  if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    if (got >= 0) ::close(got);
    return makeError(ErrorCode::kInvalidArgument, "message truncated");
  }
  if (!msg.ParseFromArray(buf.data(), static_cast<int>(n))) {
    if (got >= 0) ::close(got);
    return makeError(ErrorCode::kInvalidArgument, "cannot parse {} ({} bytes)", msg.GetTypeName(), n);
  }
  if (fd != nullptr) *fd = got;
  return {};
}

}  // namespace ambit::zds
