// Structured key=value logging on spdlog, with per-scope levels changeable at
// runtime (the admin server's /logging endpoint calls setLevel).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/base/result.h"

namespace ambit::log {

using Level = spdlog::level::level_enum;

// Parses trace|debug|info|warn|warning|error|critical|off.
Result<Level> parseLevel(std::string_view name);
std::string_view levelName(Level level);

// One logger per scope ("ztunnel.hbone", "admin", ...). Loggers share one sink
// (stderr by default). A scope created after setDefaultLevel() starts at it.
std::shared_ptr<spdlog::logger> scope(std::string_view name);

// Sets every scope's level (and the level of scopes made later).
void setDefaultLevel(Level level);
// Sets one existing scope's level; kNotFound if no such scope.
Status setLevel(std::string_view scope_name, Level level);
// scope -> level, for /logging.
std::map<std::string, Level> levels();

// Sends all logs to this sink instead of stderr (tests capture output with it).
void setSink(spdlog::sink_ptr sink);

// Quotes a value when it holds spaces, quotes, '=' or control characters, so
// every line stays parseable as key=value pairs.
std::string quoteValue(std::string_view value);

namespace detail {
template <typename T>
std::string renderValue(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return quoteValue(std::string_view(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else {
    return quoteValue(fmt::format("{}", v));
  }
}

inline void appendPairs(std::string&) {}

template <typename V, typename... Rest>
void appendPairs(std::string& out, std::string_view key, const V& value, const Rest&... rest) {
  out.push_back(' ');
  out.append(key);
  out.push_back('=');
  out.append(renderValue(value));
  appendPairs(out, rest...);
}
}  // namespace detail

// Formats `msg="event" k1=v1 k2=v2`. Keys are literals chosen by the caller.
template <typename... KV>
std::string formatEvent(std::string_view event, const KV&... kv) {
  static_assert(sizeof...(KV) % 2 == 0, "log fields come as key, value pairs");
  std::string out = "msg=";
  out.append(quoteValue(event));
  detail::appendPairs(out, kv...);
  return out;
}

// Logs one event; the line is only formatted when the level is enabled.
template <typename... KV>
void event(spdlog::logger& logger, Level level, std::string_view ev, const KV&... kv) {
  if (!logger.should_log(level)) return;
  logger.log(level, "{}", formatEvent(ev, kv...));
}

template <typename... KV>
void info(spdlog::logger& l, std::string_view ev, const KV&... kv) { event(l, Level::info, ev, kv...); }
template <typename... KV>
void warn(spdlog::logger& l, std::string_view ev, const KV&... kv) { event(l, Level::warn, ev, kv...); }
template <typename... KV>
void error(spdlog::logger& l, std::string_view ev, const KV&... kv) { event(l, Level::err, ev, kv...); }
template <typename... KV>
void debug(spdlog::logger& l, std::string_view ev, const KV&... kv) { event(l, Level::debug, ev, kv...); }

}  // namespace ambit::log
