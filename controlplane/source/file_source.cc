// Directory reading, validation and the inotify watch loop.
#include "controlplane/source/file_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
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


std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::scope("ambitd.files");
  return l;
}

}  // namespace

// Directories below `dir`, hidden ones (ConfigMap "..2024_01_01" snapshots) skipped.
std::vector<fs::path> listDirectories(const std::string& dir, bool* complete) {
  std::vector<fs::path> out{dir};
  std::error_code ec;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory()) continue;
    if (it->path().filename().string().rfind(".", 0) == 0) {
      it.disable_recursion_pending();
      continue;
    }
    out.push_back(it->path());
  }
  if (ec && complete) *complete = false;
  return out;
}

namespace {

std::optional<FileStamp> stampOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  FileStamp s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return s;
}

}  // namespace

DirectoryRead readDirectory(const std::string& dir, std::vector<ConfigIssue>* errors,
                            const std::map<std::string, FileStamp>* known) {
  DirectoryRead out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (errors) errors->push_back(ConfigIssue{dir, "", "not a directory"});
    out.complete = false;
    return out;
  }
  std::vector<fs::path> paths;
  for (const auto& d : listDirectories(dir, &out.complete)) {
    for (auto it = fs::directory_iterator(d, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code fec;
      if (it->is_regular_file(fec) && isYamlFile(it->path())) paths.push_back(it->path());
    }
    if (ec) {
      // A directory that vanished or cannot be listed: we do not know what it holds.
      if (errors) errors->push_back(ConfigIssue{d.string(), "", "cannot list: " + ec.message()});
      out.complete = false;
      ec.clear();
    }
  }
  std::sort(paths.begin(), paths.end());
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int64_t scan_ns = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec;
  // Local filesystems stamp with the kernel's coarse clock (a tick, <= 10 ms);
  // whole-second stamps mean a filesystem with 1 s granularity.
  auto margin_ns = [](const FileStamp& s) -> int64_t {
    bool whole_seconds = s.mtime_ns % 1'000'000'000 == 0 && s.ctime_ns % 1'000'000'000 == 0;
    return whole_seconds ? 2'000'000'000 : 100'000'000;
  };
  for (const auto& p : paths) {
    FileLoad load;
    load.path = p.string();
    // Stat before reading: a write racing the read changes the stamp again, so
    // the next rescan reads the file once more rather than trusting a torn read.
    auto stamp = stampOf(p);
    if (stamp) {
      load.stamp = *stamp;
      load.stamp_trusted = std::max(stamp->mtime_ns, stamp->ctime_ns) + margin_ns(*stamp) < scan_ns;
    }
    if (stamp && known) {
      auto it = known->find(load.path);
      if (it != known->end() && it->second == *stamp) {
        load.unchanged = true;
        out.files.push_back(std::move(load));
        continue;
      }
    }
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      if (errors) errors->push_back(ConfigIssue{p.string(), "", "cannot read: " + std::string(std::strerror(errno))});
      load.readable = false;
      out.files.push_back(std::move(load));
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string content = ss.str();
    load.content_hash = contentHash(content);
    load.result = parseDocuments(content, p.string());
    out.files.push_back(std::move(load));
  }
  return out;
}

ValidationReport validateDirectory(const std::string& dir) {
  ValidationReport report;
  auto loads = readDirectory(dir, &report.issues).files;
  ModelStore scratch;
  for (auto& l : loads) {
    if (!l.readable) continue;  // already reported
    ++report.files;
    for (auto& i : l.result.issues) report.issues.push_back(i);
    for (auto& w : l.result.warnings) report.warnings.push_back(w);
    if (!l.result.ok()) continue;
    report.objects += l.result.objects.size();
    if (auto st = scratch.replace(l.path, l.result.objects); !st) {
      report.issues.push_back(ConfigIssue{l.path, "", st.error().message});
    }
  }
  report.snapshot = scratch.current();
  return report;
}

FileSource::FileSource(std::string dir, ModelStore& store, std::chrono::milliseconds settle)
    : dir_(std::move(dir)), store_(store), settle_(settle) {}

FileSource::~FileSource() { stop(); }

Status FileSource::addWatches() {
  constexpr uint32_t kMask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF;
  // Re-adding is cheap and idempotent (an inode already watched keeps its wd),
  // and it picks up a directory deleted and created again under the same path.
  std::map<int, std::string> fresh;
  for (const auto& d : listDirectories(dir_, nullptr)) {
    int wd = inotify_add_watch(inotify_fd_, d.c_str(), kMask);
    if (wd < 0) {
      if (d == dir_) return makeError(ErrorCode::kUnavailable, "cannot watch {}: {}", d.string(), std::strerror(errno));
      continue;  // vanished between listing and watching; the next event rescans
    }
    fresh[wd] = d.string();
  }
  watches_ = std::move(fresh);
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
  std::map<std::string, FileStamp> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& [path, st] : files_) {
      if (st.stamp) known.emplace(path, *st.stamp);
    }
  }
  auto read = readDirectory(dir_, &dir_errors, &known);
  for (const auto& e : dir_errors) log::error(*logger(), "config_dir_error", "error", e.toString());
  std::lock_guard lock(mu_);
  bool changed = false;
  std::set<std::string> present;
  for (const auto& l : read.files) present.insert(l.path);

  // Deleted files first, so a file that clashed with one of them can now apply.
  // After an incomplete listing, absence proves nothing: remove nothing.
  for (auto it = files_.begin(); read.complete && it != files_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    store_.remove(it->first);
    log::info(*logger(), "config_removed", "file", it->first);
    it = files_.erase(it);
    changed = true;
  }

  std::vector<FileLoad*> clashed;
  auto apply = [&](FileLoad& l, FileState& st) {
    std::size_t count = l.result.objects.size();
    if (auto s = store_.replace(l.path, l.result.objects); !s) {
      // Rejected for a clash with another file: forget the hash so the file is
      // tried again on the next change (the other file may be fixed or deleted).
      st.hash.clear();
      st.stamp.reset();
      st.errors = {s.error().message};
      clashed.push_back(&l);
      log::error(*logger(), "config_rejected", "file", l.path, "error", s.error().message, "kept_previous", st.applied);
      return false;
    }
    st.hash = l.content_hash;
    st.errors.clear();
    st.applied = true;
    st.objects = count;
    log::info(*logger(), "config_applied", "file", l.path, "objects", count);
    return true;
  };

  bool applied_any = false;
  for (auto& l : read.files) {
    FileState& st = files_[l.path];
    if (!l.readable) continue;  // keep its last good content until it can be read
    if (l.unchanged) continue;
    st.stamp = l.stamp_trusted ? std::optional<FileStamp>(l.stamp) : std::nullopt;
    if (st.hash == l.content_hash) continue;
    changed = true;
    st.warnings = l.result.warnings;
    for (const auto& w : st.warnings) log::warn(*logger(), "config_warning", "detail", w);
    if (!l.result.ok()) {
      st.hash = l.content_hash;
      st.errors.clear();
      for (const auto& i : l.result.issues) st.errors.push_back(i.toString());
      log::error(*logger(), "config_rejected", "file", l.path, "errors", st.errors.size(), "first", st.errors[0],
                 "kept_previous", st.applied);
      continue;
    }
    applied_any |= apply(l, st);
  }
  // One more try for clashes, now that every other file of this pass is in.
  if (applied_any && !clashed.empty()) {
    auto retry = std::move(clashed);
    clashed.clear();
    for (FileLoad* l : retry) apply(*l, files_[l->path]);
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

std::string contentHash(const std::string& content) {
  return std::to_string(std::hash<std::string>{}(content)) + ":" + std::to_string(content.size());
}

nlohmann::json FileSource::dump() const {
  std::lock_guard lock(mu_);
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, st] : files_) {
    files[path] = {{"applied", st.applied},   {"objects", st.objects},   {"errors", st.errors},
                   {"warnings", st.warnings}, {"content_hash", st.hash}};
  }
  return {{"kind", "directory"}, {"path", dir_}, {"synced", synced_.load()}, {"files", files}};
}

}  // namespace ambit::controlplane
