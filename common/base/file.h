// Whole-file reads for config, keys and tokens.
#pragma once

#include <string>

#include "common/base/result.h"

namespace ambit {

// The file's bytes; kUnavailable "cannot read PATH: REASON" when it cannot be read.
Result<std::string> readFile(const std::string& path);

}  // namespace ambit
