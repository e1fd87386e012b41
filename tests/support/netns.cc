#include "tests/support/netns.h"

#include "common/base/mounts.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace ambit::test {

bool isMounted(const std::string& dir) { return isMountPoint(dir); }

std::string uniqueName(const std::string& stem) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 1000;
  return stem + std::to_string(::getpid() % 100000) + "x" + std::to_string(salt) + "n" + std::to_string(counter++);
}

AddressBlock::AddressBlock() {
  // The lock is an abstract unix socket name: held while the socket is open,
  // gone with the process, nothing left on disk.
  unsigned start = std::random_device{}() % 256;
  for (unsigned i = 0; i < 256; ++i) {
    int block = static_cast<int>((start + i) % 256);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string name = "ambit-test-block-198-19-" + std::to_string(block);
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      block_ = block;
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw std::runtime_error("no free 198.19.x.0/24 block");
}

AddressBlock::~AddressBlock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string AddressBlock::ip(int host) const { return "198.19." + std::to_string(block_) + "." + std::to_string(host); }

std::string cgroup2Root() { return ambit::cgroup2Root(); }

int shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  if (rc == -1) return -1;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

ScopedNetns::ScopedNetns(std::string name) : name_(std::move(name)) {
  if (shell("ip netns add " + name_) != 0) throw std::runtime_error("ip netns add " + name_ + " failed");
  auto ns = netns::Netns::open("/run/netns/" + name_);
  if (!ns) {
    shell("ip netns del " + name_);
    throw std::runtime_error(ns.error().message);
  }
  ns_ = *ns;
  exec("ip link set lo up");
}

ScopedNetns::~ScopedNetns() { shell("ip netns del " + name_ + " 2>/dev/null"); }

int ScopedNetns::exec(const std::string& cmd) const {
  return shell("ip netns exec " + name_ + " sh -c '" + cmd + "'");
}

}  // namespace ambit::test
