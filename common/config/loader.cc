// YAML walking, environment and flag overrides, and the effective-config printer.
#include "common/config/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

extern char** environ;  // NOLINT: POSIX

namespace ambit::config {
namespace {

std::string markWhere(const std::string& name, const YAML::Mark& m) {
  if (m.is_null()) return name;
  return fmt::format("{}:{}:{}", name, m.line + 1, m.column + 1);
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean 'admin.port'?)" when a declared path is close to the typo.
std::string suggestion(const SchemaBase& schema, const std::string& path) {
  std::string best;
  std::size_t best_d = 3;  // only suggest near misses
  for (const auto& f : schema.fields()) {
    std::size_t d = editDistance(path, f.path);
    if (d < best_d) {
      best_d = d;
      best = f.path;
    }
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

class Walker {
 public:
  Walker(const SchemaBase& schema, void* cfg, const std::string& name, RawOutcome& out)
      : schema_(schema), cfg_(cfg), name_(name), out_(out) {}

  void walkMap(const YAML::Node& map, const std::string& prefix) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      YAML::Node key = it->first;  // copies: the iterator yields temporaries
      YAML::Node value = it->second;
      if (!key.IsScalar()) {
        issue(key.Mark(), prefix, "keys must be plain names");
        continue;
      }
      std::string path = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
      if (key.Scalar().find('.') != std::string::npos) {
        // "admin.port: 1" beside "admin: {port: 2}" would silently pick one.
        issue(key.Mark(), path, "dotted keys are not allowed; write nested mappings instead");
        continue;
      }
      if (!seen.insert(key.Scalar()).second) {
        issue(key.Mark(), path, "set twice in the same mapping");
        continue;
      }
      if (const FieldDef* f = schema_.find(path)) {
        if (auto err = f->set_from_yaml(cfg_, value)) {
          issue(value.Mark(), path, *err);
        } else {
          out_.origins[index(f)] = Origin{Source::kFile, markWhere(name_, key.Mark())};
        }
      } else if (schema_.isGroup(path)) {
        if (value.IsMap()) {
          walkMap(value, path);
        } else if (!value.IsNull()) {
          issue(value.Mark(), path, "expected a mapping of fields");
        }
      } else {
        issue(key.Mark(), path, "unknown field" + suggestion(schema_, path));
      }
    }
  }

 private:
  std::size_t index(const FieldDef* f) const { return static_cast<std::size_t>(f - schema_.fields().data()); }
  void issue(const YAML::Mark& m, const std::string& field, std::string message) {
    out_.issues.push_back(ConfigIssue{markWhere(name_, m), field, std::move(message)});
  }

  const SchemaBase& schema_;
  void* cfg_;
  const std::string& name_;
  RawOutcome& out_;
};

void loadYaml(const SchemaBase& schema, void* cfg, const std::string& name, const std::string* text,
              RawOutcome& out) {
  std::vector<YAML::Node> docs;
  try {
    docs = text ? YAML::LoadAll(*text) : YAML::LoadAllFromFile(name);
  } catch (const YAML::BadFile&) {
    out.issues.push_back(ConfigIssue{name, "", "cannot open the config file: " + std::string(std::strerror(errno))});
    return;
  } catch (const YAML::ParserException& e) {
    out.issues.push_back(ConfigIssue{markWhere(name, e.mark), "", "YAML syntax error: " + e.msg});
    return;
  }
  if (docs.size() > 1) {
    out.issues.push_back(ConfigIssue{markWhere(name, docs[1].Mark()), "",
                                     "a config file holds one YAML document, found " + std::to_string(docs.size())});
    return;
  }
  if (docs.empty() || docs[0].IsNull()) return;  // an empty file keeps the defaults
  if (!docs[0].IsMap()) {
    out.issues.push_back(ConfigIssue{markWhere(name, docs[0].Mark()), "", "the config must be a mapping of fields"});
    return;
  }
  Walker(schema, cfg, name, out).walkMap(docs[0], "");
}

}  // namespace

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

RawOutcome loadInto(const SchemaBase& schema, void* cfg, const LoadInputs& in) {
  RawOutcome out;
  out.origins.assign(schema.fields().size(), Origin{Source::kDefault, "default"});

  if (in.yaml_text) {
    loadYaml(schema, cfg, in.yaml_name, &*in.yaml_text, out);
  } else if (in.file) {
    loadYaml(schema, cfg, *in.file, nullptr, out);
  }

  std::set<std::string> known_env;
  for (std::size_t i = 0; i < schema.fields().size(); ++i) {
    const FieldDef& f = schema.fields()[i];
    std::string name = schema.envName(f);
    known_env.insert(name);
    auto it = in.env.find(name);
    if (it == in.env.end()) continue;
    if (auto err = f.set_from_text(cfg, it->second)) {
      out.issues.push_back(ConfigIssue{"environment variable " + name, f.path, *err});
    } else {
      out.origins[i] = Origin{Source::kEnvironment, name};
    }
  }
  for (const auto& [name, _] : in.env) {
    if (name.rfind(schema.envPrefix(), 0) == 0 && !known_env.count(name)) {
      out.warnings.push_back(fmt::format("environment variable {} matches no {} config field; ignored",
                                         name, schema.program()));
    }
  }

  for (const auto& [path, text] : in.flags) {
    const FieldDef* f = schema.find(path);
    if (f == nullptr) {
      out.issues.push_back(ConfigIssue{"flag --" + path, path, "unknown field" + suggestion(schema, path)});
      continue;
    }
    if (auto err = f->set_from_text(cfg, text)) {
      out.issues.push_back(ConfigIssue{"flag --" + path, path, *err});
    } else {
      out.origins[static_cast<std::size_t>(f - schema.fields().data())] = Origin{Source::kFlag, "--" + path};
    }
  }

  // Cross-field checks only make sense on a config whose fields all parsed.
  if (out.issues.empty()) {
    for (const auto& v : schema.validators()) {
      for (ConfigIssue issue : v(cfg)) {
        if (issue.where.empty()) {
          if (const FieldDef* f = schema.find(issue.field)) {
            issue.where = out.origins[static_cast<std::size_t>(f - schema.fields().data())].where;
          }
        }
        out.issues.push_back(std::move(issue));
      }
    }
  }
  return out;
}

namespace {
struct Group {
  std::vector<std::string> order;
  std::map<std::string, std::size_t> leaves;
  std::map<std::string, std::unique_ptr<Group>> groups;
};

void emitGroup(YAML::Emitter& e, const Group& g, const SchemaBase& schema, const void* cfg,
               const std::vector<Origin>& origins) {
  e << YAML::BeginMap;
  for (const auto& name : g.order) {
    e << YAML::Key << name << YAML::Value;
    if (auto leaf = g.leaves.find(name); leaf != g.leaves.end()) {
      e << schema.fields()[leaf->second].get_yaml(cfg);
      e << YAML::Comment(origins[leaf->second].where);
    } else {
      emitGroup(e, *g.groups.at(name), schema, cfg, origins);
    }
  }
  e << YAML::EndMap;
}
}  // namespace

std::string renderEffective(const SchemaBase& schema, const void* cfg, const std::vector<Origin>& origins) {
  Group root;
  for (std::size_t i = 0; i < schema.fields().size(); ++i) {
    const std::string& path = schema.fields()[i].path;
    Group* g = &root;
    std::size_t start = 0;
    for (auto dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
      std::string part = path.substr(start, dot - start);
      auto& child = g->groups[part];
      if (!child) {
        child = std::make_unique<Group>();
        g->order.push_back(part);
      }
      g = child.get();
      start = dot + 1;
    }
    std::string leaf = path.substr(start);
    g->leaves[leaf] = i;
    g->order.push_back(leaf);
  }
  YAML::Emitter e;
  e << YAML::Comment(fmt::format("effective {} config; the comment after each value says where it came from",
                                 schema.program()))
    << YAML::Newline;
  emitGroup(e, root, schema, cfg, origins);
  return std::string(e.c_str()) + "\n";
}

namespace {
nlohmann::json yamlToJson(const YAML::Node& n) {
  if (n.IsSequence()) {
    auto arr = nlohmann::json::array();
    for (const auto& item : n) arr.push_back(yamlToJson(item));
    return arr;
  }
  if (n.IsScalar()) return n.Scalar();
  return nullptr;
}
}  // namespace

nlohmann::json effectiveJson(const SchemaBase& schema, const void* cfg, const std::vector<Origin>& origins) {
  nlohmann::json out = {{"values", nlohmann::json::object()}, {"sources", nlohmann::json::object()}};
  for (std::size_t i = 0; i < schema.fields().size(); ++i) {
    const FieldDef& f = schema.fields()[i];
    std::string pointer = "/values/" + f.path;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    out[nlohmann::json::json_pointer(pointer)] = yamlToJson(f.get_yaml(cfg));
    out["sources"][f.path] = origins[i].where;
  }
  return out;
}

CommandLine::CommandLine(CLI::App& app, const SchemaBase& schema) : schema_(schema) {
  app.add_option("-c,--config", config_file_, "YAML config file")->check(CLI::ExistingFile);
  app.add_flag("--print-config", print_config_, "print the effective config (with each value's source) and exit");
  for (const auto& f : schema.fields()) {
    auto& storage = values_[f.path];
    options_[f.path] = app.add_option("--" + f.path, storage,
                                      fmt::format("{} [{}; env {}]", f.description, f.type_name, schema.envName(f)))
                           ->group("Config fields");
  }
}

LoadInputs CommandLine::inputs(Environment env) const {
  LoadInputs in;
  if (!config_file_.empty()) in.file = config_file_;
  in.env = std::move(env);
  for (const auto& [path, opt] : options_) {
    if (opt->count() > 0) in.flags.emplace_back(path, values_.at(path));
  }
  return in;
}

}  // namespace ambit::config
