// Parsing and printing of config values (integers, durations, lists, ...) from
// YAML nodes and from text (environment variables and flags). Errors are plain
// messages; the loader adds file, line and field.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/base/result.h"

namespace ambit::config {

// Codec<V>: how a value of type V is read and written. Specialised below for the
// types a config may use.
template <typename V>
struct Codec;

#define AMBIT_CONFIG_CODEC(V, NAME)                           \
  template <>                                                 \
  struct Codec<V> {                                           \
    static constexpr const char* kTypeName = NAME;            \
    static Result<V> fromText(std::string_view text);         \
    static Result<V> fromYaml(const YAML::Node& node);        \
    static YAML::Node toYaml(const V& v);                     \
  }

AMBIT_CONFIG_CODEC(bool, "boolean");
AMBIT_CONFIG_CODEC(int32_t, "integer");
AMBIT_CONFIG_CODEC(int64_t, "integer");
AMBIT_CONFIG_CODEC(uint16_t, "integer (0-65535)");
AMBIT_CONFIG_CODEC(uint32_t, "integer (0-4294967295)");
AMBIT_CONFIG_CODEC(uint64_t, "integer");
AMBIT_CONFIG_CODEC(double, "number");
AMBIT_CONFIG_CODEC(std::string, "string");
AMBIT_CONFIG_CODEC(std::vector<std::string>, "list of strings");
AMBIT_CONFIG_CODEC(std::chrono::milliseconds, "duration (e.g. 500ms, 10s, 5m, 1h)");

#undef AMBIT_CONFIG_CODEC

// Parses durations written as one or more <number><unit> parts, units ms, s, m, h
// ("1m30s", "250ms"). A bare number is rejected: its unit would be a guess.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace ambit::config
