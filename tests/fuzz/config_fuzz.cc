// Fuzzes the config loader: any bytes as a YAML config must yield a config or
// issues, never a crash; a loaded config must print and load back the same.
#include <cstdint>
#include <string>

#include "common/config/loader.h"

namespace {

struct FuzzConfig {
  struct Admin {
    std::string address = "127.0.0.1";
    uint16_t port = 15000;
  } admin;
  uint32_t workers = 1;
  std::chrono::milliseconds deadline{1000};
  std::vector<std::string> names;
  bool flag = false;
};

const ambit::config::Schema<FuzzConfig>& schema() {
  static const auto* s = [] {
    auto* sc = new ambit::config::Schema<FuzzConfig>("fuzz");
    sc->field<std::string>("admin.address", "a", [](FuzzConfig& c) -> auto& { return c.admin.address; })
        .field<uint16_t>("admin.port", "p", [](FuzzConfig& c) -> auto& { return c.admin.port; })
        .field<uint32_t>("workers", "w", [](FuzzConfig& c) -> auto& { return c.workers; })
        .field<std::chrono::milliseconds>("deadline", "d", [](FuzzConfig& c) -> auto& { return c.deadline; })
        .field<std::vector<std::string>>("names", "n", [](FuzzConfig& c) -> auto& { return c.names; })
        .field<bool>("flag", "f", [](FuzzConfig& c) -> auto& { return c.flag; });
    return sc;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ambit::config::LoadInputs in;
  in.yaml_text = std::string(reinterpret_cast<const char*>(data), size);
  in.yaml_name = "fuzz.yaml";
  auto out = ambit::config::load(schema(), in);
  if (!out.ok()) {
    if (out.issues.empty()) __builtin_trap();  // a rejection must say why
    return 0;
  }
  std::string printed = ambit::config::renderEffective(schema(), &*out.config, out.origins);
  ambit::config::LoadInputs again;
  again.yaml_text = printed;
  auto round = ambit::config::load(schema(), again);
  if (!round.ok() || round.config->admin.port != out.config->admin.port ||
      round.config->workers != out.config->workers || round.config->names != out.config->names ||
      round.config->deadline != out.config->deadline) {
    __builtin_trap();  // what --print-config shows must load back to the same config
  }
  return 0;
}
