// Document dispatch: apiVersion + kind -> per-kind parser; metadata.
#include "controlplane/model/parse.h"

#include <arpa/inet.h>

#include <charconv>
#include <sstream>

namespace ambit::controlplane {
namespace {

// RFC 1123 label (namespace names) / subdomain (object names), as Kubernetes checks them.
bool validName(const std::string& n, bool allow_dots) {
  if (n.empty() || n.size() > 253) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    if (c == '-' && i > 0 && i + 1 < n.size()) continue;
    if (c == '.' && allow_dots && i > 0 && i + 1 < n.size()) continue;
    return false;
  }
  return true;
}

struct KindInfo {
  const char* group;  // "" for core
  const char* kind;
  bool namespaced;
};

constexpr KindInfo kKinds[] = {
    {"", "Namespace", false},
    {"", "Pod", true},
    {"", "Service", true},
    {"discovery.k8s.io", "EndpointSlice", true},
    {"networking.istio.io", "ServiceEntry", true},
    {"networking.istio.io", "VirtualService", true},
    {"networking.istio.io", "DestinationRule", true},
    {"security.istio.io", "AuthorizationPolicy", true},
    {"security.istio.io", "PeerAuthentication", true},
    {"gateway.networking.k8s.io", "Gateway", true},
    {"gateway.networking.k8s.io", "HTTPRoute", true},
};

ObjectMeta readMeta(YamlReader& root, const KindInfo& kind, const std::string& file, const YAML::Mark& doc_mark) {
  ObjectMeta meta;
  meta.origin = fmt::format("{}:{}:{}", file, doc_mark.line + 1, doc_mark.column + 1);
  YamlReader m = root.child("metadata");
  meta.name = m.requiredStr("name");
  meta.ns = m.str("namespace");
  meta.labels = m.stringMap("labels");
  meta.annotations = m.stringMap("annotations");
  m.ignore({"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
            "ownerReferences", "finalizers", "generateName", "deletionTimestamp", "deletionGracePeriodSeconds"});
  m.done();
  if (!meta.name.empty() && !validName(meta.name, true)) {
    m.error("name", fmt::format("'{}' is not a valid name (lower-case letters, digits, '-' and '.')", meta.name));
  }
  if (kind.namespaced) {
    if (meta.ns.empty()) meta.ns = "default";
    if (!validName(meta.ns, false)) {
      m.error("namespace", fmt::format("'{}' is not a valid namespace name", meta.ns));
    }
  } else if (!meta.ns.empty()) {
    m.error("namespace", std::string(kind.kind) + " is cluster-scoped and takes no namespace");
  }
  root.ctx().object = fmt::format("{} {}{}", kind.kind, meta.ns.empty() ? "" : meta.ns + "/", meta.name);
  return meta;
}

std::optional<Object> parseOne(YamlReader& root, const KindInfo& kind, ObjectMeta meta) {
  std::string k = kind.kind;
  if (k == "Namespace") return parseNamespace(root, std::move(meta));
  if (k == "Pod") return parsePod(root, std::move(meta));
  if (k == "Service") return parseService(root, std::move(meta));
  if (k == "EndpointSlice") return parseEndpointSlice(root, std::move(meta));
  if (k == "ServiceEntry") return parseServiceEntry(root, std::move(meta));
  if (k == "VirtualService") return parseVirtualService(root, std::move(meta));
  if (k == "DestinationRule") return parseDestinationRule(root, std::move(meta));
  if (k == "AuthorizationPolicy") return parseAuthorizationPolicy(root, std::move(meta));
  if (k == "PeerAuthentication") return parsePeerAuthentication(root, std::move(meta));
  if (k == "Gateway") return parseGateway(root, std::move(meta));
  if (k == "HTTPRoute") return parseHttpRoute(root, std::move(meta));
  return std::nullopt;
}

}  // namespace

bool isIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool isCidrOrIp(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return isIpAddress(s);
  std::string ip = s.substr(0, slash);
  if (!isIpAddress(ip)) return false;
  int bits = -1;
  auto [p, ec] = std::from_chars(s.data() + slash + 1, s.data() + s.size(), bits);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  int max = ip.find(':') == std::string::npos ? 32 : 128;
  return bits >= 0 && bits <= max;
}

std::vector<std::string> splitCommaList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::optional<uint16_t> parsePortNumber(std::string_view s) {
  int n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n < 1 || n > 65535) return std::nullopt;
  return static_cast<uint16_t>(n);
}

StringMatch parseStringMatch(YamlReader r) {
  StringMatch m;
  int set = 0;
  if (r.has("exact")) {
    m = {StringMatch::Kind::kExact, r.str("exact")};
    ++set;
  }
  if (r.has("prefix")) {
    m = {StringMatch::Kind::kPrefix, r.str("prefix")};
    ++set;
  }
  if (r.has("regex")) {
    m = {StringMatch::Kind::kRegex, r.str("regex")};
    ++set;
  }
  r.ignore({"exact", "prefix", "regex"});
  r.done();
  if (set != 1) r.ctx().error(r.mark(), r.path(), "needs exactly one of exact, prefix or regex");
  return m;
}

ParseResult parseDocuments(std::string_view text, const std::string& file) {
  ParseResult out;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::ParserException& e) {
    out.issues.push_back(ConfigIssue{fmt::format("{}:{}:{}", file, e.mark.line + 1, e.mark.column + 1), "",
                                     "YAML syntax error: " + e.msg});
    return out;
  }
  for (const YAML::Node& doc : docs) {
    if (!doc.IsDefined() || doc.IsNull()) continue;  // empty documents between '---' are fine
    ReadContext ctx;
    ctx.file = file;
    YamlReader root(doc, "", ctx);
    std::string api_version = root.requiredStr("apiVersion");
    std::string kind = root.requiredStr("kind");
    if (kind == "List") {
      ctx.error(doc.Mark(), "kind", "kind List is not supported; write one document per object");
    }
    std::string group = api_version.find('/') == std::string::npos ? "" : api_version.substr(0, api_version.find('/'));
    const KindInfo* info = nullptr;
    for (const auto& k : kKinds) {
      if (kind == k.kind && group == k.group) info = &k;
    }
    if (info == nullptr && ctx.issues.empty()) {
      out.warnings.push_back(fmt::format("{}: skipping {} {} (a kind Ambit does not use)", ctx.where(doc.Mark()),
                                         api_version, kind));
      continue;
    }
    if (info != nullptr) {
      ObjectMeta meta = readMeta(root, *info, file, doc.Mark());
      root.ignore({"status"});
      auto obj = parseOne(root, *info, std::move(meta));
      root.done();
      if (obj) out.objects.push_back(std::move(*obj));
    }
    for (auto& i : ctx.issues) out.issues.push_back(std::move(i));
    for (auto& w : ctx.warnings) out.warnings.push_back(std::move(w));
  }
  return out;
}

const char* kindName(const Object& o) {
  return std::visit(
      [](const auto& v) -> const char* {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Namespace>) return "Namespace";
        else if constexpr (std::is_same_v<T, Pod>) return "Pod";
        else if constexpr (std::is_same_v<T, Service>) return "Service";
        else if constexpr (std::is_same_v<T, EndpointSlice>) return "EndpointSlice";
        else if constexpr (std::is_same_v<T, ServiceEntry>) return "ServiceEntry";
        else if constexpr (std::is_same_v<T, VirtualService>) return "VirtualService";
        else if constexpr (std::is_same_v<T, DestinationRule>) return "DestinationRule";
        else if constexpr (std::is_same_v<T, AuthorizationPolicy>) return "AuthorizationPolicy";
        else if constexpr (std::is_same_v<T, PeerAuthentication>) return "PeerAuthentication";
        else if constexpr (std::is_same_v<T, Gateway>) return "Gateway";
        else return "HTTPRoute";
      },
      o);
}

const ObjectMeta& metaOf(const Object& o) {
  return std::visit([](const auto& v) -> const ObjectMeta& { return v.meta; }, o);
}

std::string objectKey(const Object& o) {
  const ObjectMeta& m = metaOf(o);
  return m.ns.empty() ? fmt::format("{}/{}", kindName(o), m.name) : fmt::format("{}/{}/{}", kindName(o), m.ns, m.name);
}

}  // namespace ambit::controlplane
