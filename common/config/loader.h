// Loads a Schema<T> from, in rising precedence: defaults (T{}), a YAML file,
// AMBIT_* environment variables, then command-line flags. All or nothing: with
// any issue no config is returned, so nothing is ever half-applied.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/config/schema.h"

namespace ambit::config {

using Environment = std::map<std::string, std::string>;
Environment processEnvironment();

struct LoadInputs {
  std::optional<std::string> file;       // path of a YAML file
  std::optional<std::string> yaml_text;  // YAML given inline (tests); named yaml_name
  std::string yaml_name = "<inline>";
  Environment env;
  std::vector<std::pair<std::string, std::string>> flags;  // field path -> text
};

template <typename T>
struct LoadOutcome {
  std::optional<T> config;             // set when issues is empty
  std::vector<ConfigIssue> issues;
  std::vector<std::string> warnings;   // e.g. an AMBIT_* variable no field uses
  std::vector<Origin> origins;         // one per schema field, in declaration order

  bool ok() const { return config.has_value(); }
  // "3 problems in the ztunnel config:\n  ztunnel.yaml:4:9: field 'admin.port': ..."
  std::string describeIssues(const std::string& program) const;
};

// Non-template core; `cfg` points at a T holding its defaults.
struct RawOutcome {
  std::vector<ConfigIssue> issues;
  std::vector<std::string> warnings;
  std::vector<Origin> origins;
};
RawOutcome loadInto(const SchemaBase& schema, void* cfg, const LoadInputs& in);

template <typename T>
LoadOutcome<T> load(const Schema<T>& schema, const LoadInputs& in, T defaults = T{}) {
  LoadOutcome<T> out;
  RawOutcome raw = loadInto(schema, &defaults, in);
  out.issues = std::move(raw.issues);
  out.warnings = std::move(raw.warnings);
  out.origins = std::move(raw.origins);
  if (out.issues.empty()) out.config = std::move(defaults);
  return out;
}

template <typename T>
std::string LoadOutcome<T>::describeIssues(const std::string& program) const {
  std::string out = fmt::format("{} problem{} in the {} config:", issues.size(),
                                issues.size() == 1 ? "" : "s", program);
  for (const auto& i : issues) out += "\n  " + i.toString();
  return out;
}

// The effective config as YAML, each value followed by a comment naming its source.
std::string renderEffective(const SchemaBase& schema, const void* cfg, const std::vector<Origin>& origins);

// The effective config for /config_dump: {"values": {nested fields}, "sources": {"a.b": "where"}}.
nlohmann::json effectiveJson(const SchemaBase& schema, const void* cfg, const std::vector<Origin>& origins);

// Adds to a CLI11 app: -c/--config FILE, --print-config, and one --<field.path>
// option per field (its help says type and environment variable).
class CommandLine {
 public:
  CommandLine(CLI::App& app, const SchemaBase& schema);

  // After app.parse(): inputs from the command line plus the process environment.
  LoadInputs inputs(Environment env = processEnvironment()) const;
  bool printConfigRequested() const { return print_config_; }

 private:
  const SchemaBase& schema_;
  std::string config_file_;
  bool print_config_ = false;
  std::map<std::string, std::string> values_;  // stable addresses for CLI11
  std::map<std::string, CLI::Option*> options_;
};

}  // namespace ambit::config
