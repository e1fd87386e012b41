// A binary's typed configuration: every field is declared once, with its path
// ("admin.port"), description, type and checks. From that one declaration the
// loader reads the YAML file, AMBIT_* environment overrides and --flags, names
// file, line and field in every error, and prints the effective config.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/config/values.h"

namespace ambit::config {

// Where a field's effective value came from.
enum class Source { kDefault, kFile, kEnvironment, kFlag };

struct Origin {
  Source source = Source::kDefault;
  std::string where;  // "ztunnel.yaml:12:3", "AMBIT_ADMIN_PORT", "--admin.port", or "default"
};

// A check on a parsed value: an error message, or nullopt when the value is fine.
template <typename V>
using Check = std::function<std::optional<std::string>(const V&)>;

// Type-erased field; Schema<T>::field() builds these.
struct FieldDef {
  std::string path;
  std::string description;
  std::string type_name;
  std::function<std::optional<std::string>(void* cfg, const YAML::Node&)> set_from_yaml;
  std::function<std::optional<std::string>(void* cfg, std::string_view)> set_from_text;
  std::function<YAML::Node(const void* cfg)> get_yaml;
};

// One problem found while loading: where, which field, what.
struct ConfigIssue {
  std::string where;  // file:line:col, environment variable, flag; empty for cross-field checks
  std::string field;
  std::string message;
  std::string toString() const;
};

// Cross-field validation: returns issues (field + message); the loader fills in
// where each named field's value came from.
using Validator = std::function<std::vector<ConfigIssue>(const void* cfg)>;

class SchemaBase {
 public:
  SchemaBase(std::string program, std::string env_prefix)
      : program_(std::move(program)), env_prefix_(std::move(env_prefix)) {}
  virtual ~SchemaBase() = default;

  const std::string& program() const { return program_; }
  const std::string& envPrefix() const { return env_prefix_; }
  const std::vector<FieldDef>& fields() const { return fields_; }
  const std::vector<Validator>& validators() const { return validators_; }
  const FieldDef* find(std::string_view path) const;
  // True when some field lives below `prefix` ("admin" for "admin.port").
  bool isGroup(std::string_view prefix) const;
  // AMBIT_ADMIN_PORT for "admin.port".
  std::string envName(const FieldDef& f) const;

 protected:
  void addField(FieldDef def);
  void addValidator(Validator v) { validators_.push_back(std::move(v)); }

 private:
  std::string program_;
  std::string env_prefix_;
  std::vector<FieldDef> fields_;
  std::vector<Validator> validators_;
};

template <typename T>
class Schema : public SchemaBase {
 public:
  explicit Schema(std::string program, std::string env_prefix = "AMBIT_")
      : SchemaBase(std::move(program), std::move(env_prefix)) {}

  // Declares a field. `access` returns the member inside T; `check` rejects bad values.
  template <typename V>
  Schema& field(std::string path, std::string description, std::function<V&(T&)> access,
                Check<V> check = {}) {
    FieldDef def;
    def.path = std::move(path);
    def.description = std::move(description);
    def.type_name = Codec<V>::kTypeName;
    auto assign = [access, check](void* cfg, Result<V> parsed) -> std::optional<std::string> {
      if (!parsed) return parsed.error().message;
      if (check) {
        if (auto err = check(*parsed)) return err;
      }
      access(*static_cast<T*>(cfg)) = std::move(*parsed);
      return std::nullopt;
    };
    def.set_from_yaml = [assign](void* cfg, const YAML::Node& n) {
      return assign(cfg, Codec<V>::fromYaml(n));
    };
    def.set_from_text = [assign](void* cfg, std::string_view text) {
      return assign(cfg, Codec<V>::fromText(text));
    };
    def.get_yaml = [access](const void* cfg) {
      return Codec<V>::toYaml(access(*const_cast<T*>(static_cast<const T*>(cfg))));
    };
    addField(std::move(def));
    return *this;
  }

  // Declares a field whose value is one of a fixed set of names.
  template <typename E>
  Schema& enumField(std::string path, std::string description, std::function<E&(T&)> access,
                    std::vector<std::pair<std::string, E>> names) {
    FieldDef def;
    def.path = std::move(path);
    def.description = std::move(description);
    std::string choices;
    for (const auto& [n, _] : names) choices += (choices.empty() ? "" : ", ") + n;
    def.type_name = "one of: " + choices;
    auto assign = [access, names, choices](void* cfg, std::string_view text) -> std::optional<std::string> {
      for (const auto& [n, v] : names) {
        if (n == text) {
          access(*static_cast<T*>(cfg)) = v;
          return std::nullopt;
        }
      }
      return fmt::format("expected one of {}, got '{}'", choices, text);
    };
    def.set_from_yaml = [assign](void* cfg, const YAML::Node& n) -> std::optional<std::string> {
      if (!n.IsScalar()) return "expected a string";
      return assign(cfg, n.Scalar());
    };
    def.set_from_text = assign;
    def.get_yaml = [access, names](const void* cfg) {
      const E& v = access(*const_cast<T*>(static_cast<const T*>(cfg)));
      for (const auto& [n, e] : names) {
        if (e == v) return YAML::Node(n);
      }
      return YAML::Node("?");
    };
    addField(std::move(def));
    return *this;
  }

  // A check across fields, run after everything is loaded.
  Schema& validate(std::function<std::vector<ConfigIssue>(const T&)> fn) {
    addValidator([fn](const void* cfg) { return fn(*static_cast<const T*>(cfg)); });
    return *this;
  }
};

// Ready-made checks.
template <typename V>
Check<V> inRange(V lo, V hi) {
  return [lo, hi](const V& v) -> std::optional<std::string> {
    if (v < lo || v > hi) return fmt::format("must be between {} and {}, got {}", lo, hi, v);
    return std::nullopt;
  };
}
Check<std::string> nonEmpty();
Check<std::string> ipAddress();        // an IPv4 or IPv6 address literal
Check<std::chrono::milliseconds> positiveDuration();

}  // namespace ambit::config
