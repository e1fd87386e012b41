// ChildProcess: fork/exec with stderr on a pipe.
#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace ambit::test {

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args) {
  // Built before fork(): the child may only call async-signal-safe functions
  // (another thread may hold the allocator's lock at the fork).
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  fd_ = fds[0];
  pid_ = pid;
  reader_ = std::thread([this] { readLoop(); });
}

ChildProcess::~ChildProcess() {
  stop();
  finishReading();
  if (fd_ >= 0) close(fd_);
}

void ChildProcess::readLoop() {
  char buf[16384];
  while (!stop_reading_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = read(fd_, buf, sizeof(buf));
    std::lock_guard lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      return;
    }
    output_.append(buf, static_cast<std::size_t>(n));
    cv_.notify_all();
  }
}

void ChildProcess::finishReading() {
  if (!reader_.joinable()) return;
  {
    // The child is gone; what it wrote is in the pipe (a grandchild holding
    // the pipe open must not keep us here: bounded).
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return eof_; });
  }
  stop_reading_ = true;
  reader_.join();
}

std::string ChildProcess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

std::optional<std::string> ChildProcess::waitForLine(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    auto pos = output_.find(needle, scanned_);
    if (pos != std::string::npos) {
      auto start = output_.rfind('\n', pos);
      start = start == std::string::npos ? 0 : start + 1;
      auto end = output_.find('\n', pos);
      if (end != std::string::npos) {
        scanned_ = end + 1;
        return output_.substr(start, end - start);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    cv_.wait_until(lock, deadline);
  }
}

bool ChildProcess::waitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return output_.find(needle) != std::string::npos; });
}

std::string ChildProcess::field(const std::string& line, const std::string& key) {
  auto pos = line.find(" " + key + "=");
  if (pos == std::string::npos) return {};
  pos += key.size() + 2;
  auto end = line.find(' ', pos);
  return line.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

int ChildProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  finishReading();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ChildProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  finishReading();
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  finishReading();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ambit::test
