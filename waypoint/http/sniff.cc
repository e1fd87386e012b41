#include "waypoint/http/sniff.h"

namespace ambit::waypoint::http {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static_assert(kPreface.size() == kSniffBytes);
constexpr std::size_t kMaxMethod = 20;  // longer than any method in use (UPDATEREDIRECTREF is 17)

bool methodChar(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

}  // namespace

Sniffed sniff(std::string_view first) {
  if (first.size() >= kPreface.size() && first.substr(0, kPreface.size()) == kPreface) return Sniffed::kHttp2;
  if (first.size() < kPreface.size() && kPreface.substr(0, first.size()) == first) return Sniffed::kNeedMore;
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (first[i] == ' ') return i > 0 ? Sniffed::kHttp1 : Sniffed::kOther;
    if (!methodChar(first[i]) || i >= kMaxMethod) return Sniffed::kOther;
  }
  return Sniffed::kNeedMore;
}

}  // namespace ambit::waypoint::http
