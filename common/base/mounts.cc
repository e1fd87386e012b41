#include "common/base/mounts.h"

#include <fstream>

namespace ambit {

namespace {

// Calls `fn(dir, type)` per mount until it returns true.
template <typename Fn>
bool anyMount(Fn fn) {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
    if (fn(dir, type)) return true;
  }
  return false;
}

}  // namespace

std::string cgroup2Root() {
  std::string root;
  anyMount([&](const std::string& dir, const std::string& type) {
    if (type != "cgroup2") return false;
    root = dir;
    return true;
  });
  return root;
}

bool isMountPoint(const std::string& dir) {
  return anyMount([&](const std::string& d, const std::string&) { return d == dir; });
}

}  // namespace ambit
