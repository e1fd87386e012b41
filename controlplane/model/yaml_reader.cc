// YamlReader: typed reads with field paths and unknown-field detection.
#include "controlplane/model/yaml_reader.h"

#include <charconv>
#include <cmath>

namespace ambit::controlplane {

namespace {
// A key that is absent or null reads as "not set". (A default YAML::Node is a
// *defined* null, so callers test with this, never with IsDefined alone.)
bool missing(const YAML::Node& v) { return !v.IsDefined() || v.IsNull(); }

// Looks up without inserting: operator[] on a non-const Node may add the key.
YAML::Node lookup(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}
}  // namespace
std::string ReadContext::where(const YAML::Mark& m) const {
  if (m.is_null()) return file;
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

void ReadContext::error(const YAML::Mark& m, const std::string& field, std::string message) {
  if (!object.empty()) message = object + ": " + message;
  issues.push_back(ConfigIssue{where(m), field, std::move(message)});
}

void ReadContext::warn(const YAML::Mark& m, const std::string& field, const std::string& message) {
  warnings.push_back(fmt::format("{}: {}field '{}': {}", where(m), object.empty() ? "" : object + ": ", field,
                                 message));
}

YamlReader::YamlReader(YAML::Node node, std::string path, ReadContext& ctx)
    : node_(std::move(node)), path_(std::move(path)), ctx_(ctx) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    ctx_.error(node_.Mark(), path_.empty() ? "(document)" : path_, "expected a mapping");
    node_ = YAML::Node(YAML::NodeType::Map);
  }
}

std::string YamlReader::fieldPath(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

bool YamlReader::has(const std::string& key) const { return !missing(lookup(node_, key)); }


YAML::Node YamlReader::get(const std::string& key) {
  read_.insert(key);
  YAML::Node v = lookup(node_, key);
  if (missing(v)) return YAML::Node(YAML::NodeType::Undefined);
  return v;
}

void YamlReader::error(const std::string& key, std::string message) {
  YAML::Node v = lookup(node_, key);
  ctx_.error(v.IsDefined() ? v.Mark() : node_.Mark(), fieldPath(key), std::move(message));
}

std::string YamlReader::str(const std::string& key, const std::string& fallback) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return fallback;
  if (!v.IsScalar()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a string");
    return fallback;
  }
  return v.Scalar();
}

std::string YamlReader::requiredStr(const std::string& key) {
  std::string s = str(key);
  if (s.empty() && !has(key)) ctx_.error(node_.Mark(), fieldPath(key), "is required");
  return s;
}

std::optional<int64_t> YamlReader::integer(const std::string& key, int64_t lo, int64_t hi) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return std::nullopt;
  int64_t n = 0;
  const std::string& text = v.IsScalar() ? v.Scalar() : std::string();
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (!v.IsScalar() || ec != std::errc() || p != text.data() + text.size() || text.empty()) {
    ctx_.error(v.Mark(), fieldPath(key), fmt::format("expected an integer, got '{}'", text));
    return std::nullopt;
  }
  if (n < lo || n > hi) {
    ctx_.error(v.Mark(), fieldPath(key), fmt::format("must be between {} and {}, got {}", lo, hi, n));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> YamlReader::boolean(const std::string& key) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (v.IsScalar() && v.Scalar() == "true") return true;
  if (v.IsScalar() && v.Scalar() == "false") return false;
  ctx_.error(v.Mark(), fieldPath(key), "expected true or false");
  return std::nullopt;
}

std::optional<uint16_t> YamlReader::port(const std::string& key) {
  auto n = integer(key, 1, 65535);
  if (!n) return std::nullopt;
  return static_cast<uint16_t>(*n);
}

std::vector<std::string> YamlReader::strings(const std::string& key) {
  YAML::Node v = get(key);
  std::vector<std::string> out;
  if (!v.IsDefined()) return out;
  if (!v.IsSequence()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a list of strings");
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar()) {
      ctx_.error(v[i].Mark(), fmt::format("{}[{}]", fieldPath(key), i), "expected a string");
      continue;
    }
    out.push_back(v[i].Scalar());
  }
  return out;
}

std::map<std::string, std::string> YamlReader::stringMap(const std::string& key) {
  YAML::Node v = get(key);
  std::map<std::string, std::string> out;
  if (!v.IsDefined()) return out;
  if (!v.IsMap()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a mapping of strings");
    return out;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    YAML::Node k = it->first;
    YAML::Node val = it->second;
    if (!k.IsScalar() || !(val.IsScalar() || val.IsNull())) {
      ctx_.error(k.Mark(), fieldPath(key), "expected string keys and values");
      continue;
    }
    out[k.Scalar()] = val.IsNull() ? "" : val.Scalar();
  }
  return out;
}

void YamlReader::intOrString(const std::string& key, std::optional<int64_t>& num, std::string& name) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return;
  if (!v.IsScalar()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a port number or name");
    return;
  }
  const std::string& text = v.Scalar();
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (n < 1 || n > 65535) {
      ctx_.error(v.Mark(), fieldPath(key), fmt::format("port must be between 1 and 65535, got {}", n));
      return;
    }
    num = n;
  } else {
    name = text;
  }
}

namespace {
// Go/protobuf durations: "10s", "0.5s", "100ms", "1m30s", "1h".
std::optional<std::chrono::milliseconds> parseGoDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total_ms = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double n = 0;
    auto [p, ec] = std::from_chars(s.data() + start, s.data() + i, n);
    if (ec != std::errc() || p != s.data() + i) return std::nullopt;
    std::size_t ustart = i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == 'u')) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "us") scale = 0.001;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60000;
    else if (unit == "h") scale = 3600000;
    else return std::nullopt;
    total_ms += n * scale;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}
}  // namespace

std::optional<std::chrono::milliseconds> YamlReader::duration(const std::string& key) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return std::nullopt;
  auto d = v.IsScalar() ? parseGoDuration(v.Scalar()) : std::nullopt;
  if (!d) {
    ctx_.error(v.Mark(), fieldPath(key),
               fmt::format("expected a duration such as 10s, 0.5s or 100ms, got '{}'", v.IsScalar() ? v.Scalar() : ""));
  }
  return d;
}

std::string YamlReader::enumValue(const std::string& key, const std::vector<std::string>& allowed,
                                  const std::string& fallback) {
  YAML::Node v = get(key);
  if (!v.IsDefined()) return fallback;
  if (v.IsScalar()) {
    for (const auto& a : allowed) {
      if (v.Scalar() == a) return a;
    }
  }
  std::string choices;
  for (const auto& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
  ctx_.error(v.Mark(), fieldPath(key),
             fmt::format("expected one of {}, got '{}'", choices, v.IsScalar() ? v.Scalar() : ""));
  return fallback;
}

YamlReader YamlReader::child(const std::string& key) { return YamlReader(get(key), fieldPath(key), ctx_); }

std::vector<YamlReader> YamlReader::list(const std::string& key) {
  YAML::Node v = get(key);
  std::vector<YamlReader> out;
  if (!v.IsDefined()) return out;
  if (!v.IsSequence()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a list");
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], fmt::format("{}[{}]", fieldPath(key), i), ctx_);
  }
  return out;
}

std::vector<std::pair<std::string, YamlReader>> YamlReader::mapOfObjects(const std::string& key) {
  YAML::Node v = get(key);
  std::vector<std::pair<std::string, YamlReader>> out;
  if (!v.IsDefined()) return out;
  if (!v.IsMap()) {
    ctx_.error(v.Mark(), fieldPath(key), "expected a mapping");
    return out;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    YAML::Node k = it->first;
    YAML::Node val = it->second;
    std::string name = k.IsScalar() ? k.Scalar() : "";
    out.emplace_back(name, YamlReader(val, fieldPath(key) + "." + name, ctx_));
  }
  return out;
}

YAML::Node YamlReader::raw(const std::string& key) { return get(key); }

void YamlReader::unsupported(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    read_.insert(k);
    if (has(k)) ctx_.warn(lookup(node_, k).Mark(), fieldPath(k), "is not supported by Ambit yet and is ignored");
  }
}

void YamlReader::ignore(const std::vector<std::string>& keys) {
  for (const auto& k : keys) read_.insert(k);
}

void YamlReader::done() {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    YAML::Node k = it->first;
    if (!k.IsScalar()) continue;
    if (!read_.count(k.Scalar())) ctx_.error(k.Mark(), fieldPath(k.Scalar()), "unknown field");
  }
}

}  // namespace ambit::controlplane
