// The lab's side effects on the machine: commands (ip), cgroups, the bpffs
// mount, and processes started inside a pod or node (its netns, its cgroup,
// its own /etc/hosts and hostname). Everything here throws LabError with the
// step that failed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/mounts.h"

namespace ambit::lab {

// `ip ARGS...` to completion (bounded: 30 s; agent::runCommandIn); throws with
// its output when it fails.
void ip(const std::vector<std::string>& args);
// The same, returning false instead of throwing.
bool tryIp(const std::vector<std::string>& args, std::string* output = nullptr);

void makeCgroup(const std::string& dir);
// Kills every process in the cgroup tree (cgroup.kill) and removes the tree.
// Returns how many cgroups it removed.
int removeCgroupTree(const std::string& dir, std::chrono::milliseconds wait);
std::vector<int> cgroupProcs(const std::string& dir);  // this cgroup only

void mountBpffs(const std::string& dir);
void unmount(const std::string& dir);

std::vector<std::string> netnsNamesWithPrefix(const std::string& prefix);

struct SpawnSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // the whole environment
  std::string netns;     // /run/netns/NAME, "" = stay
  std::string cgroup;    // directory to join, "" = stay
  std::string log;       // stdout+stderr appended here; "" = inherit
  std::string hosts;     // bind-mounted over /etc/hosts in a new mount namespace ("" = none)
  std::string hostname;  // in a new UTS namespace ("" = none)
  bool detach = true;    // a daemon: own session, stdin from /dev/null
};
// Starts the process; a failure before exec (no such program, netns gone) is
// reported here, not in a log.
pid_t spawn(const SpawnSpec& spec);
// Waits for a child of this process; returns its exit status (128+signal).
int waitChild(pid_t pid);

// Alive and still the process we started: not a zombie, and in `cgroup`.
bool processAlive(int pid, const std::string& cgroup);
// SIGTERM, then SIGKILL after `grace`; waits until it is gone (bounded).
void stopProcess(int pid, const std::string& cgroup, std::chrono::milliseconds grace);

// A cgroup (or one below it) has a live process.
bool populated(const std::string& dir);

// A file replaced in place (a bind mount of it keeps seeing the new content).
void writeInPlace(const std::string& path, const std::string& content);
// A file replaced atomically (write + rename).
// `secret`: readable by the owner only (tokens), from the moment it exists.
void writeAtomically(const std::string& path, const std::string& content, bool secret = false);
// A file's content, or nullopt when there is no such file.
std::optional<std::string> readIfExists(const std::string& path);

}  // namespace ambit::lab
