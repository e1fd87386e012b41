// FileSource: a directory of multi-document YAML, watched with inotify. Each file
// is applied whole or not at all: a file with errors is rejected (the errors name
// file, line and field) and its previous content stays in force.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/model/parse.h"
#include "controlplane/model/store.h"
#include "controlplane/source/source.h"

namespace ambit::controlplane {

// What stat() says of a file; a file whose stamp is unchanged is not read again
// (a rename into place changes the inode, a write changes ctime).
struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// Reading a directory once (also what `ambitd validate` runs).
struct FileLoad {
  std::string path;
  std::string content_hash;
  bool readable = true;
  bool unchanged = false;  // stamp equal to the one in `known`: not read, no result
  FileStamp stamp;
  // The stamp may be trusted next time: the file was last changed well before
  // this read (100 ms; 2 s on filesystems with whole-second stamps). A file
  // changed within timestamp granularity of the read could change again with
  // an equal stamp (git's "racily clean"), so it is read again next time.
  bool stamp_trusted = false;
  ParseResult result;
};
// `complete` is false when the listing hit an error (a directory vanished or is
// unreadable): then a file missing from the result may still exist, and callers
// must not treat it as deleted. A file that exists but cannot be read is listed
// with `readable` false.
struct DirectoryRead {
  std::vector<FileLoad> files;
  bool complete = true;
};
// Files whose stamp equals their entry in `known` are listed but not read.
DirectoryRead readDirectory(const std::string& dir, std::vector<ConfigIssue>* errors,
                            const std::map<std::string, FileStamp>* known = nullptr);

// Checks a directory as FileSource would load it: parse errors and objects
// declared twice across files. Returns every issue (empty = valid).
struct ValidationReport {
  std::vector<ConfigIssue> issues;
  std::vector<std::string> warnings;
  std::size_t files = 0;
  std::size_t objects = 0;
  std::shared_ptr<const Snapshot> snapshot;  // the valid files' objects, for translation checks
};
ValidationReport validateDirectory(const std::string& dir);

// The hash of a file's content that /config_dump reports per file once it is
// read ("source.files[path].content_hash"): a writer can tell when its change is in.
std::string contentHash(const std::string& content);

class FileSource : public ConfigSource {
 public:
  // `settle`: how long to wait after a change for more changes before applying
  // (editors and `kubectl cp` write in several steps).
  FileSource(std::string dir, ModelStore& store, std::chrono::milliseconds settle = std::chrono::milliseconds(100));
  ~FileSource() override;

  Status start() override;
  void stop() override;
  bool synced() const override { return synced_.load(); }
  nlohmann::json dump() const override;

  // Re-reads the directory and applies what changed (the watcher calls this).
  void rescan();
  // Counts rescans that applied, rejected or removed something.
  uint64_t generation() const;
  // Blocks until generation() >= n or the timeout passes; false on timeout.
  bool waitForGeneration(uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  struct FileState {
    std::string hash;          // of the content last seen (applied or rejected)
    std::optional<FileStamp> stamp;  // of that content; unset = read it next time
    bool applied = false;      // its objects are in the store
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
    std::size_t objects = 0;
  };
  void watchLoop();
  Status addWatches();

  std::string dir_;
  ModelStore& store_;
  std::chrono::milliseconds settle_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::map<int, std::string> watches_;
  std::thread thread_;
  std::atomic<bool> synced_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable generation_cv_;
  uint64_t generation_ = 0;
  std::map<std::string, FileState> files_;
};

}  // namespace ambit::controlplane
