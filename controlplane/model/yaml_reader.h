// Reads one YAML mapping of a Kubernetes object with errors that name file,
// line, column and the field's path ("spec.rules[0].from[0].source.principals").
// Keys a parser never reads are reported by done(): typos in policy must not
// silently widen or narrow what it matches.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config/schema.h"

namespace ambit::controlplane {

using config::ConfigIssue;

// Shared by all readers of one document.
struct ReadContext {
  std::string file;
  std::string object;  // "AuthorizationPolicy demo/deny-all", set once the name is known
  std::vector<ConfigIssue> issues;
  std::vector<std::string> warnings;

  std::string where(const YAML::Mark& m) const;
  void error(const YAML::Mark& m, const std::string& field, std::string message);
  void warn(const YAML::Mark& m, const std::string& field, const std::string& message);
};

class YamlReader {
 public:
  // `node` should be a mapping (null reads as empty); anything else is an error.
  YamlReader(YAML::Node node, std::string path, ReadContext& ctx);

  bool has(const std::string& key) const;
  YAML::Mark mark() const { return node_.Mark(); }
  const std::string& path() const { return path_; }
  ReadContext& ctx() { return ctx_; }

  std::string str(const std::string& key, const std::string& fallback = "");
  std::string requiredStr(const std::string& key);
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi);
  std::optional<bool> boolean(const std::string& key);
  // A port: 1-65535.
  std::optional<uint16_t> port(const std::string& key);
  std::vector<std::string> strings(const std::string& key);
  std::map<std::string, std::string> stringMap(const std::string& key);
  // Kubernetes IntOrString (Service targetPort): exactly one of the two is set.
  void intOrString(const std::string& key, std::optional<int64_t>& num, std::string& name);
  // A Go-style duration as Istio writes them ("5s", "1.5s", "100ms").
  std::optional<std::chrono::milliseconds> duration(const std::string& key);
  // One of `allowed` (upper-case enum names as Istio spells them).
  std::string enumValue(const std::string& key, const std::vector<std::string>& allowed, const std::string& fallback);

  YamlReader child(const std::string& key);
  std::vector<YamlReader> list(const std::string& key);
  // A mapping whose values are mappings (e.g. PeerAuthentication portLevelMtls).
  std::vector<std::pair<std::string, YamlReader>> mapOfObjects(const std::string& key);
  YAML::Node raw(const std::string& key);

  // Fields that Istio accepts but Ambit does not implement yet: a warning, not an error.
  void unsupported(const std::vector<std::string>& keys);
  // Fields to skip silently (status, bookkeeping).
  void ignore(const std::vector<std::string>& keys);
  // Reports every key not read as "unknown field".
  void done();

  void error(const std::string& key, std::string message);

 private:
  YAML::Node get(const std::string& key);
  std::string fieldPath(const std::string& key) const;

  YAML::Node node_;
  std::string path_;
  ReadContext& ctx_;
  std::set<std::string> read_;
};

}  // namespace ambit::controlplane
