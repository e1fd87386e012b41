// ASCII helpers for protocol text (header names, hosts, methods, field
// lists): no locale, no allocation unless a copy is asked for.
#pragma once

#include <string>
#include <string_view>

namespace ambit {

constexpr char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string asciiLowered(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = asciiLower(c);
  return out;
}

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

// RFC 9110 optional whitespace (spaces and tabs) off both ends.
constexpr std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn on each element of a comma-separated field value (RFC 9110 5.6.1),
// trimmed; stops at the first element for which fn returns true, and says so.
template <typename F>
bool anyListItem(std::string_view list, F&& fn) {
  for (;;) {
    auto comma = list.find(',');
    if (fn(trimOws(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace ambit
