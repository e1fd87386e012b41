#include "common/netns/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ambit::netns {

Netns::~Netns() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::shared_ptr<Netns>> Netns::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError(ErrorCode::kNotFound, "network namespace {}: {}", path, std::strerror(errno));
  return std::make_shared<Netns>(fd);
}

Result<std::shared_ptr<Netns>> Netns::current() { return open("/proc/thread-self/ns/net"); }

Netns::Netns(int fd) : fd_(fd) {
  struct stat st {};
  if (::fstat(fd_, &st) == 0) inode_ = st.st_ino;
}

Status runIn(const Netns& ns, const std::function<void()>& fn) {
  int home = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return makeError(ErrorCode::kInternal, "cannot open this thread's network namespace: {}", std::strerror(errno));
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(home);
    return makeError(ErrorCode::kPermissionDenied, "cannot enter network namespace: {}", std::strerror(err));
  }
  // Back home however fn ends (an exception too), or abort.
  struct Return {
    int home;
    ~Return() {
      if (::setns(home, CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "fatal: cannot return to the home network namespace: %s\n", std::strerror(errno));
        std::abort();
      }
      ::close(home);
    }
  } back{home};
  fn();
  return {};
}

Result<int> socketIn(const Netns* ns, int domain, int type, int protocol, uint32_t mark) {
  int fd = -1;
  int err = 0;
  auto make = [&] {
    fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) err = errno;
  };
  if (ns != nullptr) {
    if (auto st = runIn(*ns, make); !st) return st.error();
  } else {
    make();
  }
  if (fd < 0) return makeError(ErrorCode::kUnavailable, "socket: {}", std::strerror(err));
  if (mark != 0 && ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
    err = errno;
    ::close(fd);
    return makeError(ErrorCode::kPermissionDenied, "SO_MARK {:#x}: {}", mark, std::strerror(err));
  }
  return fd;
}

}  // namespace ambit::netns
