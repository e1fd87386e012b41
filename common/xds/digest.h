// One digest of the resources an xDS peer holds (name -> version): ambitd and
// its clients both report it in /config_dump, so "is this proxy in sync?" is a
// comparison of two strings (what `ambitctl lab` waits on after a change).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <fmt/format.h>

namespace ambit::xds {

// FNV-1a 64 over "name\0version\0" in name order; "" digests to the offset basis.
template <typename Map, typename VersionOf>
std::string resourceDigest(const Map& by_name, VersionOf version_of) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0;
    h *= 1099511628211ull;
  };
  for (const auto& [name, value] : by_name) {
    mix(name);
    mix(version_of(value));
  }
  return fmt::format("{:016x}", h);
}

inline std::string resourceDigest(const std::map<std::string, std::string>& versions) {
  return resourceDigest(versions, [](const std::string& v) { return v; });
}

}  // namespace ambit::xds
