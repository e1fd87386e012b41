// Fuzzes the admin server's query-string parser and percent-decoding.
#include <cstdint>
#include <string_view>

#include "common/admin/admin_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto parsed = ambit::admin::parseQuery(q);
  for (const auto& [k, v] : parsed) {
    if (k.size() > size || v.size() > size) __builtin_trap();  // decoding never grows input
  }
  return 0;
}
