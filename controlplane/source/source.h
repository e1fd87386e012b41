// A config source feeds the model store. Today: a directory of YAML (FileSource);
// the Kubernetes API source plugs in behind the same interface.
#pragma once

#include <nlohmann/json.hpp>

#include "common/base/result.h"

namespace ambit::controlplane {

class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  // Loads the current state into the store, then keeps it up to date until stop().
  virtual Status start() = 0;
  virtual void stop() = 0;
  // True once the first full load is in the store (readiness).
  virtual bool synced() const = 0;
  // What the source holds and any rejected input, for /config_dump.
  virtual nlohmann::json dump() const = 0;
};

}  // namespace ambit::controlplane
