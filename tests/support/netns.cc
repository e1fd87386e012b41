#include "tests/support/netns.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace ambit::test {

std::string uniqueName(const std::string& stem) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 1000;
  return stem + std::to_string(::getpid() % 100000) + "x" + std::to_string(salt) + "n" + std::to_string(counter++);
}

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
