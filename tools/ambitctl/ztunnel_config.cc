#include "tools/ambitctl/ztunnel_config.h"

#include "tools/ambitctl/table.h"

namespace ambit::ctl {

namespace {

std::string joined(const nlohmann::json& list, const char* sep = ",") {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& x : list) {
    out += (out.empty() ? "" : sep) + (x.is_string() ? x.get<std::string>() : x.dump());
  }
  return out;
}

std::string s(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  const auto& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string orNone(const std::string& v) { return v.empty() ? "None" : v; }

}  // namespace

Result<std::string> renderZtunnelConfig(const nlohmann::json& dump, const std::string& kind, bool json) {
  static const char* kKinds[] = {"workloads", "services", "policies", "certificates", "connections"};
  if (std::find(std::begin(kKinds), std::end(kKinds), kind) == std::end(kKinds)) {
    return makeError(ErrorCode::kInvalidArgument,
                     "unknown kind '{}': workloads, services, policies, certificates or connections", kind);
  }
  if (!dump.contains("proxy") || !dump["proxy"].contains(kind)) {
    return makeError(ErrorCode::kNotFound, "this /config_dump has no proxy.{} (is it a ztunnel's admin port?)", kind);
  }
  const auto& part = dump["proxy"][kind];
  if (json) return part.dump(2) + "\n";
  std::vector<std::vector<std::string>> rows;
  if (kind == "workloads") {
    if (!part.is_array()) return makeError(ErrorCode::kInvalidArgument, "proxy.workloads is not a list");
    for (const auto& w : part) {
      rows.push_back({s(w, "namespace"), s(w, "name"), joined(w.value("addresses", nlohmann::json::array())),
                      s(w, "node"), s(w, "identity"), s(w, "protocol"), orNone(s(w, "waypoint"))});
    }
    return formatTable({"NAMESPACE", "NAME", "IP", "NODE", "IDENTITY", "PROTOCOL", "WAYPOINT"}, rows);
  }
  if (kind == "services") {
    if (!part.is_array()) return makeError(ErrorCode::kInvalidArgument, "proxy.services is not a list");
    for (const auto& v : part) {
      rows.push_back({s(v, "namespace"), s(v, "hostname"), joined(v.value("addresses", nlohmann::json::array())),
                      joined(v.value("ports", nlohmann::json::array())), s(v, "endpoints"), orNone(s(v, "waypoint"))});
    }
    return formatTable({"NAMESPACE", "SERVICE", "VIP", "PORTS", "ENDPOINTS", "WAYPOINT"}, rows);
  }
  if (kind == "policies") {
    for (const auto& p : part) {
      rows.push_back({s(p, "name"), s(p, "action"), s(p, "scope"), p.value("dry_run", false) ? "yes" : "no"});
    }
    return formatTable({"POLICY", "ACTION", "SCOPE", "DRY-RUN"}, rows);
  }
  if (kind == "certificates") {
    for (const auto& c : part) {
      rows.push_back({s(c, "identity"), s(c, "state"), s(c, "expires"), s(c, "next_fetch"), s(c, "last_error")});
    }
    return formatTable({"IDENTITY", "STATE", "EXPIRES", "NEXT FETCH", "LAST ERROR"}, rows);
  }
  for (const auto& c : part.value("connections", nlohmann::json::array())) {
    rows.push_back({s(c, "direction"), s(c, "source"), s(c, "destination"), orNone(s(c, "source_identity")),
                    s(c, "via"), s(c, "bytes_to_destination"), s(c, "bytes_to_source"), s(c, "started")});
  }
  return formatTable({"DIRECTION", "SOURCE", "DESTINATION", "SOURCE IDENTITY", "VIA", "BYTES OUT", "BYTES IN", "STARTED"},
                     rows) +
         std::to_string(part.value("count", rows.size())) + " open connection(s)\n";
}

}  // namespace ambit::ctl
