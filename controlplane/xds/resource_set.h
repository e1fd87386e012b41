// ResourceSet: one immutable, versioned view of every xDS resource ambitd serves,
// built from a translation. Streams diff against it; it is never modified.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/translate/translate.h"

namespace ambit::controlplane::xds {

inline constexpr const char* kAddressType = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationType = "type.googleapis.com/istio.security.Authorization";
inline constexpr const char* kRouteType = "type.googleapis.com/ambit.route.v1.HostConfig";

struct ResourceEntry {
  std::string version;                 // hash of the deterministic serialization
  std::string body;                    // serialized message (Any.value)
  std::vector<std::string> aliases;    // "network/ip" for Address resources
};

struct TypeResources {
  std::string type_url;
  std::map<std::string, ResourceEntry> by_name;
  std::map<std::string, std::string> alias_to_name;
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

std::shared_ptr<const ResourceSet> buildResourceSet(const Translated& t, uint64_t version,
                                                    std::chrono::steady_clock::time_point changed_at,
                                                    const std::string& network);

}  // namespace ambit::controlplane::xds
