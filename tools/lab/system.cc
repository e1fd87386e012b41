#include "tools/lab/system.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/capture/command.h"
#include "common/netns/netns.h"
#include "tools/lab/manifest.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace ambit::lab {

namespace {

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// In the forked child: no allocation (another thread may have held the heap
// lock at fork), only writes of what exists already.
[[noreturn]] void childFail(int fd, const char* step) {
  const char* why = ::strerrordesc_np(errno);
  (void)!::write(fd, step, std::strlen(step));
  (void)!::write(fd, ": ", 2);
  if (why != nullptr) (void)!::write(fd, why, std::strlen(why));
  ::_exit(127);
}

std::vector<char*> cstrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// SIGKILL to every process in `dir` and the cgroups below it.
void killTree(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> dirs{dir};
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path().string());
  }
  for (const auto& d : dirs) {
    std::ifstream procs(d + "/cgroup.procs");
    for (pid_t pid = 0; procs >> pid;) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
  }
}

}  // namespace

namespace {

const std::string& ipBinary() {
  static const std::string path = agent::findExecutable({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
  return path;
}

}  // namespace

bool tryIp(const std::vector<std::string>& args, std::string* output) {
  auto here = netns::Netns::current();
  if (!here) {
    if (output) *output = here.error().message;
    return false;
  }
  std::vector<std::string> argv{ipBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  if (argv[0].empty()) {
    if (output) *output = "no 'ip' program (install iproute2)";
    return false;
  }
  auto r = agent::runCommandIn(**here, argv, "", 30s);
  if (output) *output = r ? r->output : r.error().message;
  return r && r->exit_code == 0;
}

void ip(const std::vector<std::string>& args) {
  std::string out;
  if (!tryIp(args, &out)) throw LabError("'ip " + joined(args) + "' failed: " + out);
}


void makeCgroup(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw LabError("creating cgroup " + dir + ": " + ec.message());
}

std::vector<int> cgroupProcs(const std::string& dir) {
  std::vector<int> out;
  std::ifstream in(dir + "/cgroup.procs");
  int pid;
  while (in >> pid) out.push_back(pid);
  return out;
}

bool populated(const std::string& dir) {
  std::ifstream in(dir + "/cgroup.events");
  std::string key;
  int value;
  while (in >> key >> value) {
    if (key == "populated") return value != 0;
  }
  return false;
}

namespace {

int removeBottomUp(const fs::path& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory()) removed += removeBottomUp(e.path());
  }
  if (::rmdir(dir.c_str()) == 0) ++removed;
  return removed;
}

}  // namespace

int removeCgroupTree(const std::string& dir, std::chrono::milliseconds wait) {
  if (!fs::exists(dir)) return 0;
  bool have_kill = fs::exists(dir + "/cgroup.kill");  // Linux 5.14+
  if (have_kill) {
    std::ofstream kill(dir + "/cgroup.kill");
    kill << "1\n";
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (populated(dir) && std::chrono::steady_clock::now() < deadline) {
    // Without cgroup.kill: SIGKILL every process of the tree, again each round
    // (a fork may race a pass).
    if (!have_kill) killTree(dir);
    std::this_thread::sleep_for(20ms);
  }
  if (populated(dir)) throw LabError("processes in " + dir + " did not exit within " + std::to_string(wait.count()) + " ms");
  int removed = removeBottomUp(dir);
  if (fs::exists(dir)) throw LabError("could not remove cgroup " + dir + ": " + std::strerror(errno));
  return removed;
}


void mountBpffs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (::mount("bpf", dir.c_str(), "bpf", 0, nullptr) != 0) {
    throw LabError("mounting a bpffs at " + dir + ": " + std::strerror(errno));
  }
}

void unmount(const std::string& dir) {
  if (::umount2(dir.c_str(), MNT_DETACH) != 0) throw LabError("unmounting " + dir + ": " + std::strerror(errno));
}

std::vector<std::string> netnsNamesWithPrefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    auto name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

namespace {

// execvpe searches the caller's PATH, not the child's: resolve against the
// environment the process will have.
std::string resolveProgram(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  std::stringstream dirs(it == env.end() ? "/usr/local/bin:/usr/bin:/bin" : it->second);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw LabError("'" + name + "' is not found in PATH (" + (it == env.end() ? "" : it->second) + ")");
}

}  // namespace

pid_t spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) throw LabError("spawn: no command");
  // Absolute: the child changes to / before it execs.
  auto program = fs::absolute(resolveProgram(spec.argv[0], spec.env)).string();
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw LabError(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> envs;
  for (const auto& [k, v] : spec.env) envs.push_back(k + "=" + v);
  auto cargs = cstrings(args);
  auto cenv = cstrings(envs);
  // Everything the child needs is made here, before fork.
  std::string procs = spec.cgroup.empty() ? "" : spec.cgroup + "/cgroup.procs";
  std::string exec_step = "exec " + spec.argv[0];
  sigset_t none;
  sigemptyset(&none);
  pid_t pid = ::fork();
  if (pid < 0) throw LabError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int err = pipefd[1];
    // A clean start: default signal dispositions and mask, cwd at /.
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir("/") != 0) childFail(err, "chdir /");
    if (spec.detach && ::setsid() < 0) childFail(err, "setsid");
    if (!procs.empty()) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0\n", 2) != 2) childFail(err, "joining the cgroup");
      ::close(fd);
    }
    if (!spec.netns.empty()) {
      int fd = ::open(spec.netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) childFail(err, "entering the network namespace");
      ::close(fd);
    }
    if (!spec.hosts.empty()) {
      if (::unshare(CLONE_NEWNS) != 0) childFail(err, "unshare(CLONE_NEWNS)");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) childFail(err, "making / a slave mount");
      if (::mount(spec.hosts.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) childFail(err, "bind-mounting /etc/hosts");
    }
    if (!spec.hostname.empty()) {
      if (::unshare(CLONE_NEWUTS) != 0) childFail(err, "unshare(CLONE_NEWUTS)");
      if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) childFail(err, "sethostname");
    }
    if (spec.detach) {
      int in = ::open("/dev/null", O_RDONLY);
      if (in < 0 || ::dup2(in, 0) < 0) childFail(err, "stdin");
    }
    if (!spec.log.empty()) {
      int out = ::open(spec.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
      if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) childFail(err, "opening the log file");
    }
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(program.c_str(), cargs.data(), cenv.data());
    childFail(err, exec_step.c_str());
  }
  ::close(pipefd[1]);
  std::string failure = readAll(pipefd[0]);
  ::close(pipefd[0]);
  if (!failure.empty()) {
    waitChild(pid);
    throw LabError("starting '" + joined(spec.argv) + "': " + failure);
  }
  return pid;
}

int waitChild(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

bool processAlive(int pid, const std::string& cgroup) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') return false;
  if (cgroup.empty()) return true;
  // The cgroup2 line is "0::/path" (hybrid hierarchies list v1 lines too).
  std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
  static const std::string root = cgroup2Root();  // polled often: read the mounts once
  auto rel = cgroup.substr(root.size());
  std::string entry;
  while (std::getline(cg, entry)) {
    if (entry.rfind("0::", 0) == 0) return entry.substr(3) == rel;
  }
  return false;
}

void stopProcess(int pid, const std::string& cgroup, std::chrono::milliseconds grace) {
  if (!processAlive(pid, cgroup)) return;
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (processAlive(pid, cgroup) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  if (processAlive(pid, cgroup)) {
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 250 && processAlive(pid, cgroup); ++i) std::this_thread::sleep_for(20ms);  // bounded: 5 s
  }
  // Our own child (the lab command started it in this run): reap it.
  ::waitpid(pid, nullptr, WNOHANG);
}

void writeInPlace(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  if (!out) throw LabError("writing " + path);
}

void writeAtomically(const std::string& path, const std::string& content, bool secret) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (secret) {
      // Owner-only before the first byte is written.
      std::error_code pec;
      fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, pec);
      if (pec) throw LabError("chmod " + tmp + ": " + pec.message());
    }
    out << content;
    if (!out) throw LabError("writing " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw LabError("renaming " + tmp + ": " + ec.message());
}

std::optional<std::string> readIfExists(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace ambit::lab
