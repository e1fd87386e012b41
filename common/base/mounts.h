// What /proc/self/mounts says: where cgroup v2 is, whether a directory is a
// mount point (the lab, the agent's tests and the lab's tests ask both).
#pragma once

#include <string>

namespace ambit {

std::string cgroup2Root();  // "" when there is no cgroup2 mount
bool isMountPoint(const std::string& dir);

}  // namespace ambit
