// ResourceSet: one immutable, versioned view of every xDS resource ambitd serves,
// built from a translation. Streams diff against it; it is never modified.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "controlplane/translate/translate.h"

namespace ambit::controlplane::xds {

inline constexpr const char* kAddressType = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationType = "type.googleapis.com/istio.security.Authorization";
inline constexpr const char* kRouteType = "type.googleapis.com/ambit.route.v1.HostConfig";
inline constexpr const char* kHttpPolicyType = "type.googleapis.com/ambit.authz.v1.HttpPolicy";

// A version string as a number, for cheap comparison and compact per-client
// state: our versions are 16 hex digits; any other string (a client's own, in
// initial_resource_versions) is hashed. Never 0.
uint64_t versionKey(std::string_view version);

struct ResourceEntry {
  std::string version;                 // hash of the deterministic serialization
  std::string body;                    // serialized message (Any.value)
  std::vector<std::string> aliases;    // "network/ip" for Address resources
  uint64_t key = 0;                    // versionKey(version)
};

// What changed in a type from one set to the next: lets a client that holds
// exactly the previous set be diffed by the change alone, not by every resource.
struct ChangeLog {
  uint64_t from_version = 0;
  std::vector<std::string> changed;  // new, or with a new version
  std::vector<std::string> removed;
};

struct TypeResources {
  std::string type_url;
  uint64_t set_version = 0;  // the ResourceSet this belongs to
  std::map<std::string, ResourceEntry> by_name;
  std::map<std::string, std::string> alias_to_name;
  std::optional<ChangeLog> changes;  // vs the set it was built after, if any
  // Canonical name for a requested name (itself, or the resource an alias points at); "" if none.
  std::string resolve(const std::string& requested) const;
};

struct ResourceSet {
  uint64_t version = 0;  // model snapshot version it was built from
  std::chrono::steady_clock::time_point changed_at;  // when the change that built it was seen
  std::map<std::string, TypeResources> types;        // by type URL
  std::vector<std::string> warnings;

  const TypeResources* find(const std::string& type_url) const;
};

// Serializes deterministically (map order fixed) so equal content = equal version.
std::string deterministicBytes(const google::protobuf::Message& m);
std::string versionOf(const std::string& bytes);

// One resource's entry: deterministic body, its version; Address resources
// also carry their "network/ip" aliases.
ResourceEntry messageEntry(const google::protobuf::Message& m);
ResourceEntry addressEntry(const istio::workload::Address& addr, const std::string& network);

// Completes a set whose by_name maps are filled: type URLs, alias indexes, set
// versions, and each type's change log against `previous` (if given).
std::shared_ptr<const ResourceSet> finishResourceSet(std::shared_ptr<ResourceSet> set, const ResourceSet* previous);

// `previous`, when given, is the set this one replaces: each type records what
// changed since it.
std::shared_ptr<const ResourceSet> buildResourceSet(const Translated& t, uint64_t version,
                                                    std::chrono::steady_clock::time_point changed_at,
                                                    const std::string& network,
                                                    const ResourceSet* previous = nullptr);

}  // namespace ambit::controlplane::xds
