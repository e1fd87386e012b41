// Runs a program inside a network namespace (the iptables capture's rules are
// written from inside each pod): fork, setns in the child, exec; stdin from
// `input`, stdout and stderr collected (bounded), waited for with a deadline.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/netns/netns.h"

namespace ambit::agent {

struct CommandResult {
  int exit_code = -1;  // -1: killed at the deadline or by a signal
  std::string output;  // stdout and stderr, at most 64 KiB
};

// argv[0] is an absolute path. Fails only when the command cannot be started.
Result<CommandResult> runCommandIn(const netns::Netns& ns, const std::vector<std::string>& argv,
                                   const std::string& input = "",
                                   std::chrono::milliseconds deadline = std::chrono::seconds(10));

// The first of `candidates` that is an executable file ("" if none).
std::string findExecutable(const std::vector<std::string>& candidates);

}  // namespace ambit::agent
