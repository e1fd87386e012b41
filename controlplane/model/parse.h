// Parses multi-document Kubernetes-style YAML into model objects. A document's
// errors are collected (file, line, column, field) and the caller decides; the
// file source rejects a file with any error as a whole.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controlplane/model/objects.h"
#include "controlplane/model/yaml_reader.h"

namespace ambit::controlplane {

struct ParseResult {
  std::vector<Object> objects;
  std::vector<ConfigIssue> issues;
  std::vector<std::string> warnings;  // unknown kinds, unsupported fields
  bool ok() const { return issues.empty(); }
};

ParseResult parseDocuments(std::string_view text, const std::string& file);

// Per-kind parsers (parse_core.cc, parse_istio.cc, parse_gateway.cc). `spec` is
// the object's root mapping; metadata is already read.
Namespace parseNamespace(YamlReader& root, ObjectMeta meta);
Pod parsePod(YamlReader& root, ObjectMeta meta);
Service parseService(YamlReader& root, ObjectMeta meta);
EndpointSlice parseEndpointSlice(YamlReader& root, ObjectMeta meta);
ServiceEntry parseServiceEntry(YamlReader& root, ObjectMeta meta);
VirtualService parseVirtualService(YamlReader& root, ObjectMeta meta);
DestinationRule parseDestinationRule(YamlReader& root, ObjectMeta meta);
AuthorizationPolicy parseAuthorizationPolicy(YamlReader& root, ObjectMeta meta);
PeerAuthentication parsePeerAuthentication(YamlReader& root, ObjectMeta meta);
Gateway parseGateway(YamlReader& root, ObjectMeta meta);
HTTPRoute parseHttpRoute(YamlReader& root, ObjectMeta meta);

// Shared helpers.
StringMatch parseStringMatch(YamlReader r);
bool isIpAddress(const std::string& s);
bool isCidrOrIp(const std::string& s);
// "8080" -> 8080; nullopt unless a whole number in 1-65535.
std::optional<uint16_t> parsePortNumber(std::string_view s);
// "a, b,,c" -> {"a", "b", "c"}: comma-separated items, trimmed, empty ones dropped.
std::vector<std::string> splitCommaList(const std::string& s);

}  // namespace ambit::controlplane
