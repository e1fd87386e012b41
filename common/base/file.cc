#include "common/base/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ambit {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(ErrorCode::kUnavailable, "cannot read {}: {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ambit
