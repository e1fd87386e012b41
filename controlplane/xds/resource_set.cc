// Building a ResourceSet: deterministic bytes, content versions, aliases.
#include "controlplane/xds/resource_set.h"

#include <arpa/inet.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <fmt/format.h>

#include <charconv>

namespace ambit::controlplane::xds {

std::string TypeResources::resolve(const std::string& requested) const {
  if (by_name.count(requested)) return requested;
  auto it = alias_to_name.find(requested);
  return it == alias_to_name.end() ? std::string() : it->second;
}

const TypeResources* ResourceSet::find(const std::string& type_url) const {
  auto it = types.find(type_url);
  return it == types.end() ? nullptr : &it->second;
}

std::string deterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

namespace {

uint64_t fnv1a(std::string_view bytes) {
  // FNV-1a 64: a content fingerprint, not a security boundary.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

}  // namespace

std::string versionOf(const std::string& bytes) { return fmt::format("{:016x}", fnv1a(bytes)); }

uint64_t versionKey(std::string_view version) {
  uint64_t v = 0;
  if (version.size() == 16) {
    auto [end, ec] = std::from_chars(version.data(), version.data() + 16, v, 16);
    if (ec == std::errc() && end == version.data() + 16 && v != 0) return v;
  }
  return fnv1a(version);
}

namespace {

std::string ipText(const std::string& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (bytes.size() == 4) inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf));
  else if (bytes.size() == 16) inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

// Both maps are sorted by name: one merge pass.
ChangeLog changesBetween(const TypeResources& before, const TypeResources& after) {
  ChangeLog log;
  log.from_version = before.set_version;
  auto b = before.by_name.begin();
  auto a = after.by_name.begin();
  while (b != before.by_name.end() || a != after.by_name.end()) {
    if (a == after.by_name.end() || (b != before.by_name.end() && b->first < a->first)) {
      log.removed.push_back(b->first);
      ++b;
    } else if (b == before.by_name.end() || a->first < b->first) {
      log.changed.push_back(a->first);
      ++a;
    } else {
      if (a->second.key != b->second.key || a->second.aliases != b->second.aliases) log.changed.push_back(a->first);
      ++a;
      ++b;
    }
  }
  return log;
}

}  // namespace

ResourceEntry messageEntry(const google::protobuf::Message& m) {
  ResourceEntry e;
  e.body = deterministicBytes(m);
  e.version = versionOf(e.body);
  e.key = versionKey(e.version);
  return e;
}

ResourceEntry addressEntry(const istio::workload::Address& addr, const std::string& network) {
  ResourceEntry e = messageEntry(addr);
  // On-demand clients ask for "network/ip"; every address is an alias of its resource.
  if (addr.has_workload()) {
    for (const auto& ip : addr.workload().addresses()) e.aliases.push_back(network + "/" + ipText(ip));
  } else {
    for (const auto& na : addr.service().addresses()) e.aliases.push_back(na.network() + "/" + ipText(na.address()));
  }
  return e;
}

std::shared_ptr<const ResourceSet> finishResourceSet(std::shared_ptr<ResourceSet> set, const ResourceSet* previous) {
  for (const char* type : {kAddressType, kAuthorizationType, kRouteType, kHttpPolicyType}) {
    set->types[type].type_url = type;
  }
  for (auto& [type, res] : set->types) {
    res.set_version = set->version;
    for (const auto& [name, e] : res.by_name) {
      for (const auto& a : e.aliases) res.alias_to_name.emplace(a, name);
    }
    if (!previous) continue;
    if (const TypeResources* before = previous->find(type)) res.changes = changesBetween(*before, res);
  }
  return set;
}

std::shared_ptr<const ResourceSet> buildResourceSet(const Translated& t, uint64_t version,
                                                    std::chrono::steady_clock::time_point changed_at,
                                                    const std::string& network, const ResourceSet* previous) {
  auto set = std::make_shared<ResourceSet>();
  set->version = version;
  set->changed_at = changed_at;
  set->warnings = t.warnings;
  auto& addresses = set->types[kAddressType].by_name;
  for (const auto& [name, addr] : t.addresses) addresses.emplace(name, addressEntry(addr, network));
  auto& authz = set->types[kAuthorizationType].by_name;
  for (const auto& [name, a] : t.authorizations) authz.emplace(name, messageEntry(a));
  auto& routes = set->types[kRouteType].by_name;
  for (const auto& [name, r] : t.routes) routes.emplace(name, messageEntry(r));
  auto& http = set->types[kHttpPolicyType].by_name;
  for (const auto& [name, p] : t.http_policies) http.emplace(name, messageEntry(p));
  return finishResourceSet(std::move(set), previous);
}

}  // namespace ambit::controlplane::xds
