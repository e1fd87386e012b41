// Directory reading, validation and the inotify watch loop.
#include "controlplane/source/file_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/log/log.h"

namespace ambit::controlplane {

namespace fs = std::filesystem;

namespace {

bool isYamlFile(const fs::path& p) {
  auto ext = p.extension().string();
  auto name = p.filename().string();
  // Skip editor swap files and Kubernetes ConfigMap bookkeeping ("..data").
  if (name.empty() || name[0] == '.') return false;
  return ext == ".yaml" || ext == ".yml";
}

std::string hashOf(const std::string& s) { return std::to_string(std::hash<std::string>{}(s)) + ":" + std::to_string(s.size()); }

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::scope("ambitd.files");
  return l;
}

}  // namespace

std::vector<FileLoad> readDirectory(const std::string& dir, std::vector<ConfigIssue>* errors) {
  std::vector<FileLoad> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (errors) errors->push_back(ConfigIssue{dir, "", "not a directory"});
    return out;
  }
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().filename().string().rfind(".", 0) == 0 && it->is_directory()) {
      it.disable_recursion_pending();  // hidden directories (..2024_01_01 in ConfigMaps) are not config
      continue;
    }
    if (it->is_regular_file() && isYamlFile(it->path())) paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      if (errors) errors->push_back(ConfigIssue{p.string(), "", "cannot read: " + std::string(std::strerror(errno))});
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string content = ss.str();
    FileLoad load;
    load.path = p.string();
    load.content_hash = hashOf(content);
    load.result = parseDocuments(content, p.string());
    out.push_back(std::move(load));
  }
  return out;
}

ValidationReport validateDirectory(const std::string& dir) {
  ValidationReport report;
  auto loads = readDirectory(dir, &report.issues);
  ModelStore scratch;
  for (auto& l : loads) {
    ++report.files;
    for (auto& i : l.result.issues) report.issues.push_back(i);
    for (auto& w : l.result.warnings) report.warnings.push_back(w);
    if (!l.result.ok()) continue;
    report.objects += l.result.objects.size();
    if (auto st = scratch.replace(l.path, l.result.objects); !st) {
      report.issues.push_back(ConfigIssue{l.path, "", st.error().message});
    }
  }
  return report;
}

FileSource::FileSource(std::string dir, ModelStore& store, std::chrono::milliseconds settle)
    : dir_(std::move(dir)), store_(store), settle_(settle) {}

FileSource::~FileSource() { stop(); }

Status FileSource::addWatches() {
  constexpr uint32_t kMask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF;
  std::vector<std::string> dirs{dir_};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory()) dirs.push_back(it->path().string());
  }
  for (const auto& d : dirs) {
    bool known = false;
    for (const auto& [_, w] : watches_) known |= (w == d);
    if (known) continue;
    int wd = inotify_add_watch(inotify_fd_, d.c_str(), kMask);
    if (wd < 0) {
      return makeError(ErrorCode::kUnavailable, "cannot watch {}: {}", d, std::strerror(errno));
    }
    watches_[wd] = d;
  }
  return okStatus();
}

Status FileSource::start() {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    return makeError(ErrorCode::kInvalidArgument, "config directory {} does not exist or is not a directory", dir_);
  }
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ < 0 || stop_fd_ < 0) {
    return makeError(ErrorCode::kUnavailable, "inotify: {}", std::strerror(errno));
  }
  if (auto st = addWatches(); !st) return st;
  rescan();  // watches first, then read: a change racing the first read is not lost
  synced_ = true;
  thread_ = std::thread([this] { watchLoop(); });
  return okStatus();
}

void FileSource::stop() {
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  inotify_fd_ = stop_fd_ = -1;
}

void FileSource::watchLoop() {
  alignas(inotify_event) char buf[16 * 1024];
  for (;;) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error(*logger(), "watch_failed", "error", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    // Drain the burst: keep reading until `settle_` passes with no new event.
    bool any = false;
    for (int rounds = 0; rounds < 1000; ++rounds) {
      ssize_t n = ::read(inotify_fd_, buf, sizeof(buf));
      if (n > 0) {
        any = true;
        continue;
      }
      pollfd again[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      int r = ::poll(again, 2, static_cast<int>(settle_.count()));
      if (r <= 0 || again[1].revents) break;
    }
    if (!any) continue;
    if (auto st = addWatches(); !st) log::warn(*logger(), "watch_incomplete", "error", st.error().message);
    rescan();
  }
}

void FileSource::rescan() {
  std::vector<ConfigIssue> dir_errors;
  auto loads = readDirectory(dir_, &dir_errors);
  for (const auto& e : dir_errors) log::error(*logger(), "config_dir_error", "error", e.toString());
  std::lock_guard lock(mu_);
  bool changed = false;
  std::set<std::string> present;
  for (auto& l : loads) {
    present.insert(l.path);
    FileState& st = files_[l.path];
    if (st.hash == l.content_hash) continue;
    st.hash = l.content_hash;
    st.warnings = l.result.warnings;
    for (const auto& w : st.warnings) log::warn(*logger(), "config_warning", "detail", w);
    changed = true;
    if (!l.result.ok()) {
      st.errors.clear();
      for (const auto& i : l.result.issues) st.errors.push_back(i.toString());
      log::error(*logger(), "config_rejected", "file", l.path, "errors", st.errors.size(), "first", st.errors[0],
                 "kept_previous", st.applied);
      continue;
    }
    std::size_t count = l.result.objects.size();
    if (auto s = store_.replace(l.path, std::move(l.result.objects)); !s) {
      st.errors = {s.error().message};
      log::error(*logger(), "config_rejected", "file", l.path, "error", s.error().message, "kept_previous", st.applied);
      continue;
    }
    st.errors.clear();
    st.applied = true;
    st.objects = count;
    log::info(*logger(), "config_applied", "file", l.path, "objects", count);
  }
  for (auto it = files_.begin(); it != files_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    store_.remove(it->first);
    log::info(*logger(), "config_removed", "file", it->first);
    it = files_.erase(it);
    changed = true;
  }
  if (changed) {
    ++generation_;
    generation_cv_.notify_all();
  }
}

uint64_t FileSource::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

bool FileSource::waitForGeneration(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return generation_cv_.wait_for(lock, timeout, [&] { return generation_ >= n; });
}

nlohmann::json FileSource::dump() const {
  std::lock_guard lock(mu_);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, st] : files_) {
    files[path] = {{"applied", st.applied}, {"objects", st.objects}, {"errors", st.errors}, {"warnings", st.warnings}};
  }
  return {{"kind", "directory"}, {"path", dir_}, {"synced", synced_.load()}, {"files", files}};
}

}  // namespace ambit::controlplane
