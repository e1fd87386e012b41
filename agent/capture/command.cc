#include "agent/capture/command.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ambit::agent {

namespace {
constexpr std::size_t kMaxOutput = 64 * 1024;
}

std::string findExecutable(const std::vector<std::string>& candidates) {
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

Result<CommandResult> runCommandIn(const netns::Netns& ns, const std::vector<std::string>& argv,
                                   const std::string& input, std::chrono::milliseconds deadline) {
  if (argv.empty()) return makeError(ErrorCode::kInvalidArgument, "empty command");
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return makeError(ErrorCode::kUnavailable, "pipe: {}", std::strerror(errno));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return makeError(ErrorCode::kUnavailable, "pipe: {}", std::strerror(errno));
  }
  // Everything the child needs is prepared before fork (only async-signal-safe
  // calls after it).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int ns_fd = ns.fd();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return makeError(ErrorCode::kUnavailable, "fork: {}", std::strerror(err));
  }
  if (pid == 0) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  // The inputs here are small (a few rules): one write fits the pipe.
  std::size_t off = 0;
  while (off < input.size()) {
    ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  CommandResult result;
  auto until = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;  // EOF: the child is done (or closed its output)
    if (result.output.size() < kMaxOutput) result.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace ambit::agent
