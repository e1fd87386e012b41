// Network namespaces a privileged test makes: unique names ("ambt" + pid +
// random), removed on destruction (also when the test fails), and commands or
// sockets run inside them.
#pragma once

#include <memory>
#include <string>

#include "common/netns/netns.h"

namespace ambit::test {

// A short prefix unique to this process and call, e.g. "ambt4821a7".
std::string uniqueName(const std::string& stem);

// Whether `dir` is a mount point (/proc/self/mounts).
bool isMounted(const std::string& dir);

// Where the cgroup v2 hierarchy is mounted ("" if it is not).
std::string cgroup2Root();

// Runs `cmd` with /bin/sh; returns its exit status (-1 if it could not run).
int shell(const std::string& cmd);

// A /24 of 198.19.0.0/16 held by this process while the object lives (a
// lock file per block under /tmp), so tests running in parallel never give
// their pods the same addresses (an agent that finds a pod's namespace by
// address must find that test's). Throws std::runtime_error when all are held.
class AddressBlock {
 public:
  AddressBlock();
  ~AddressBlock();
  AddressBlock(const AddressBlock&) = delete;
  AddressBlock& operator=(const AddressBlock&) = delete;
  // "198.19.<block>.<host>"
  std::string ip(int host) const;

 private:
  int block_ = -1;
  int fd_ = -1;
};

class ScopedNetns {
 public:
  // `ip netns add name`, loopback up; throws std::runtime_error on failure.
  explicit ScopedNetns(std::string name);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const std::string& name() const { return name_; }
  const std::shared_ptr<netns::Netns>& ns() const { return ns_; }
  // `ip netns exec NAME sh -c CMD`; the exit status.
  int exec(const std::string& cmd) const;

 private:
  std::string name_;
  std::shared_ptr<netns::Netns> ns_;
};

}  // namespace ambit::test
