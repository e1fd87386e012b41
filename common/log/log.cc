// Scope registry and the shared sink behind ambit::log.
#include "common/log/log.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace ambit::log {
namespace {

// Lines look like: 2026-11-21T22:05:34.123Z level=info scope=admin msg="..." k=v
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%eZ level=%l scope=%n %v";

struct State {
  std::mutex mu;
  spdlog::sink_ptr sink;
  Level default_level = Level::info;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
};

State& state() {
  static State* s = [] {
    auto* st = new State();  // never destroyed: loggers outlive static destructors
    st->sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    st->sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        kPattern, spdlog::pattern_time_type::utc));
    return st;
  }();
  return *s;
}

}  // namespace

Result<Level> parseLevel(std::string_view name) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::err;
  if (name == "critical") return Level::critical;
  if (name == "off") return Level::off;
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown log level '{}' (expected trace, debug, info, warn, error, critical or off)",
                   name);
}

std::string_view levelName(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::err: return "error";
    case Level::critical: return "critical";
    case Level::off: return "off";
    default: return "unknown";
  }
}

std::shared_ptr<spdlog::logger> scope(std::string_view name) {
  State& st = state();
  std::lock_guard lock(st.mu);
  auto it = st.loggers.find(name);
  if (it != st.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(name), st.sink);
  logger->set_level(st.default_level);
  logger->flush_on(Level::warn);
  st.loggers.emplace(std::string(name), logger);
  return logger;
}

void setDefaultLevel(Level level) {
  State& st = state();
  std::lock_guard lock(st.mu);
  st.default_level = level;
  for (auto& [_, l] : st.loggers) l->set_level(level);
}

Status setLevel(std::string_view scope_name, Level level) {
  State& st = state();
  std::lock_guard lock(st.mu);
  auto it = st.loggers.find(scope_name);
  if (it == st.loggers.end()) {
    return makeError(ErrorCode::kNotFound, "no log scope named '{}'", scope_name);
  }
  it->second->set_level(level);
  return okStatus();
}

std::map<std::string, Level> levels() {
  State& st = state();
  std::lock_guard lock(st.mu);
  std::map<std::string, Level> out;
  for (auto& [name, l] : st.loggers) out.emplace(name, l->level());
  return out;
}

void setSink(spdlog::sink_ptr sink) {
  State& st = state();
  std::lock_guard lock(st.mu);
  sink->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(kPattern, spdlog::pattern_time_type::utc));
  st.sink = sink;
  for (auto& [_, l] : st.loggers) l->sinks() = {sink};
}

std::string quoteValue(std::string_view value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u == 0x7f) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) return std::string(value);
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('"');
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out.append(fmt::format("\\x{:02x}", u));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace ambit::log
