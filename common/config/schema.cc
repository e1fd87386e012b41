// Field registry helpers and ready-made checks.
#include "common/config/schema.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace ambit::config {

std::string ConfigIssue::toString() const {
  std::string out;
  if (!where.empty()) out += where + ": ";
  if (!field.empty()) out += "field '" + field + "': ";
  out += message;
  return out;
}

void SchemaBase::addField(FieldDef def) {
  if (find(def.path) != nullptr) throw std::invalid_argument("config field declared twice: " + def.path);
  fields_.push_back(std::move(def));
}

const FieldDef* SchemaBase::find(std::string_view path) const {
  for (const auto& f : fields_) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

bool SchemaBase::isGroup(std::string_view prefix) const {
  for (const auto& f : fields_) {
    if (f.path.size() > prefix.size() && f.path.compare(0, prefix.size(), prefix) == 0 &&
        f.path[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string SchemaBase::envName(const FieldDef& f) const {
  std::string out = env_prefix_;
  for (char c : f.path) {
    if (c == '.' || c == '-') out += '_';
    else out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Check<std::string> nonEmpty() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return "must not be empty";
    return std::nullopt;
  };
}

Check<std::string> ipAddress() {
  return [](const std::string& v) -> std::optional<std::string> {
    unsigned char buf[16];
    if (inet_pton(AF_INET, v.c_str(), buf) == 1 || inet_pton(AF_INET6, v.c_str(), buf) == 1) {
      return std::nullopt;
    }
    return fmt::format("expected an IPv4 or IPv6 address, got '{}'", v);
  };
}

Check<std::chrono::milliseconds> positiveDuration() {
  return [](const std::chrono::milliseconds& v) -> std::optional<std::string> {
    if (v.count() <= 0) return "must be longer than 0";
    return std::nullopt;
  };
}

}  // namespace ambit::config
