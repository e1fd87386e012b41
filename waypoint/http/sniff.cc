#include "waypoint/http/sniff.h"

namespace ambit::waypoint::http {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t kMaxMethod = 20;  // longer than any method in use (UPDATEREDIRECTREF is 17)

bool methodChar(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
bool targetChar(char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; }

}  // namespace

Sniffed sniffVersion(std::string_view first) {
  if (first.size() >= kPreface.size() && first.substr(0, kPreface.size()) == kPreface) return Sniffed::kHttp2;
  if (first.size() < kPreface.size() && kPreface.substr(0, first.size()) == first) return Sniffed::kNeedMore;
  return Sniffed::kHttp1;
}

Sniffed sniff(std::string_view first) {
  if (auto v = sniffVersion(first); v != Sniffed::kHttp1) return v;
  // METHOD SP request-target SP HTTP/1.x CRLF, checked as far as it has come.
  std::size_t i = 0;
  while (i < first.size() && methodChar(first[i])) ++i;
  if (i > kMaxMethod) return Sniffed::kOther;
  if (i == first.size()) return first.size() >= kSniffMax ? Sniffed::kOther : Sniffed::kNeedMore;
  if (i == 0 || first[i] != ' ') return Sniffed::kOther;
  std::size_t t = ++i;
  while (i < first.size() && targetChar(first[i])) ++i;
  if (i == first.size()) return first.size() >= kSniffMax ? Sniffed::kOther : Sniffed::kNeedMore;
  if (i == t || first[i] != ' ') return Sniffed::kOther;
  ++i;
  for (std::string_view tail : {std::string_view("HTTP/1.1\r\n"), std::string_view("HTTP/1.0\r\n")}) {
    std::string_view got = first.substr(i, tail.size());
    if (got == tail) return Sniffed::kHttp1;
    if (got.size() < tail.size() && tail.substr(0, got.size()) == got) return Sniffed::kNeedMore;
  }
  return Sniffed::kOther;
}

}  // namespace ambit::waypoint::http
