// Codecs for config values.
#include "common/config/values.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace ambit::config {
namespace {

Result<std::string> scalarText(const YAML::Node& node, const char* type_name) {
  if (!node.IsScalar()) {
    return makeError(ErrorCode::kInvalidArgument, "expected {}, got a {}", type_name,
                     node.IsSequence() ? "list" : node.IsMap() ? "mapping" : "null value");
  }
  return node.Scalar();
}

template <typename I>
Result<I> parseInt(std::string_view text, const char* type_name) {
  I v{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::result_out_of_range) {
    return makeError(ErrorCode::kInvalidArgument, "'{}' is out of range for {}", text, type_name);
  }
  if (ec != std::errc() || p != end || text.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "expected {}, got '{}'", type_name, text);
  }
  return v;
}

template <typename I>
Result<I> intFromYaml(const YAML::Node& node, const char* type_name) {
  auto text = scalarText(node, type_name);
  if (!text) return text.error();
  return parseInt<I>(*text, type_name);
}

}  // namespace

#define AMBIT_INT_CODEC(V)                                                                        \
  Result<V> Codec<V>::fromText(std::string_view t) { return parseInt<V>(t, kTypeName); }          \
  Result<V> Codec<V>::fromYaml(const YAML::Node& n) { return intFromYaml<V>(n, kTypeName); }     \
  YAML::Node Codec<V>::toYaml(const V& v) { return YAML::Node(std::to_string(v)); }

AMBIT_INT_CODEC(int32_t)
AMBIT_INT_CODEC(int64_t)
AMBIT_INT_CODEC(uint16_t)
AMBIT_INT_CODEC(uint32_t)
AMBIT_INT_CODEC(uint64_t)
#undef AMBIT_INT_CODEC

Result<bool> Codec<bool>::fromText(std::string_view t) {
  if (t == "true" || t == "1") return true;
  if (t == "false" || t == "0") return false;
  return makeError(ErrorCode::kInvalidArgument, "expected true or false, got '{}'", t);
}
Result<bool> Codec<bool>::fromYaml(const YAML::Node& n) {
  auto text = scalarText(n, kTypeName);
  if (!text) return text.error();
  if (*text == "true") return true;
  if (*text == "false") return false;
  return makeError(ErrorCode::kInvalidArgument, "expected true or false, got '{}'", *text);
}
YAML::Node Codec<bool>::toYaml(const bool& v) { return YAML::Node(v ? "true" : "false"); }

Result<double> Codec<double>::fromText(std::string_view t) {
  double v = 0;
  const char* end = t.data() + t.size();
  auto [p, ec] = std::from_chars(t.data(), end, v);
  if (ec != std::errc() || p != end || t.empty() || !std::isfinite(v)) {
    return makeError(ErrorCode::kInvalidArgument, "expected a number, got '{}'", t);
  }
  return v;
}
Result<double> Codec<double>::fromYaml(const YAML::Node& n) {
  auto text = scalarText(n, kTypeName);
  if (!text) return text.error();
  return fromText(*text);
}
YAML::Node Codec<double>::toYaml(const double& v) { return YAML::Node(fmt::format("{}", v)); }

Result<std::string> Codec<std::string>::fromText(std::string_view t) { return std::string(t); }
Result<std::string> Codec<std::string>::fromYaml(const YAML::Node& n) { return scalarText(n, kTypeName); }
YAML::Node Codec<std::string>::toYaml(const std::string& v) { return YAML::Node(v); }

Result<std::vector<std::string>> Codec<std::vector<std::string>>::fromText(std::string_view t) {
  // Environment variables and flags carry lists comma-separated.
  std::vector<std::string> out;
  if (t.empty()) return out;
  std::size_t start = 0;
  while (start <= t.size()) {
    auto comma = t.find(',', start);
    if (comma == std::string_view::npos) comma = t.size();
    out.emplace_back(t.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}
Result<std::vector<std::string>> Codec<std::vector<std::string>>::fromYaml(const YAML::Node& n) {
  if (n.IsNull()) return std::vector<std::string>{};
  if (!n.IsSequence()) return makeError(ErrorCode::kInvalidArgument, "expected a list of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      return makeError(ErrorCode::kInvalidArgument, "item {} of the list is not a string", i);
    }
    out.push_back(n[i].Scalar());
  }
  return out;
}
YAML::Node Codec<std::vector<std::string>>::toYaml(const std::vector<std::string>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const auto& s : v) n.push_back(s);
  n.SetStyle(YAML::EmitterStyle::Flow);  // one line, so --print-config can put the source after it
  return n;
}

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  using std::chrono::milliseconds;
  if (text.empty()) return makeError(ErrorCode::kInvalidArgument, "expected a duration, got an empty value");
  auto bad = [&] {
    return makeError(ErrorCode::kInvalidArgument,
                     "expected a duration such as 500ms, 10s, 5m or 1h30m, got '{}'", text);
  };
  int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t num_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == num_start) return bad();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data() + num_start, text.data() + i, n);
    (void)p;
    if (ec != std::errc()) return bad();
    std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    auto unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60 * 1000;
    else if (unit == "h") scale = 3600 * 1000;
    else return bad();
    if (n > std::numeric_limits<int64_t>::max() / scale - total / scale) {
      return makeError(ErrorCode::kInvalidArgument, "duration '{}' is too long", text);
    }
    total += n * scale;
  }
  return milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % (3600 * 1000) == 0) return fmt::format("{}h", ms / (3600 * 1000));
  if (ms % (60 * 1000) == 0) return fmt::format("{}m", ms / (60 * 1000));
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Result<std::chrono::milliseconds> Codec<std::chrono::milliseconds>::fromText(std::string_view t) {
  return parseDuration(t);
}
Result<std::chrono::milliseconds> Codec<std::chrono::milliseconds>::fromYaml(const YAML::Node& n) {
  auto text = scalarText(n, "duration");
  if (!text) return text.error();
  return parseDuration(*text);
}
YAML::Node Codec<std::chrono::milliseconds>::toYaml(const std::chrono::milliseconds& v) {
  return YAML::Node(formatDuration(v));
}

}  // namespace ambit::config
