#include "tests/support/http_server.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ambit::test {

namespace {

void setTimeouts(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool sendAll(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until `buf` holds `n` bytes past `from`, or fails.
bool fill(int fd, std::string& buf, std::size_t want) {
  char tmp[16384];
  while (buf.size() < want) {
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  return true;
}

bool readHead(int fd, std::string& buf, std::string& head) {
  char tmp[16384];
  for (;;) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      head = buf.substr(0, end + 2);
      buf.erase(0, end + 4);
      return true;
    }
    if (buf.size() > (1u << 20)) return false;
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Parses a head's fields into `m`; returns the first line.
std::string parseFields(const std::string& head, HttpMessage& m) {
  std::size_t eol = head.find("\r\n");
  std::string first = head.substr(0, eol);
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    std::size_t e = head.find("\r\n", pos);
    std::string line = head.substr(pos, e - pos);
    pos = e + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    m.headers[lower(line.substr(0, colon))] = v;
  }
  return first;
}

// Reads a body framed by the fields of `m` (a response to HEAD or a 204/304 has none).
bool readBody(int fd, std::string& buf, HttpMessage& m, bool response, bool no_body) {
  if (no_body) return true;
  if (lower(m.header("transfer-encoding")) == "chunked") {
    for (int i = 0; i < 100000; ++i) {
      std::size_t e;
      while ((e = buf.find("\r\n")) == std::string::npos) {
        if (!fill(fd, buf, buf.size() + 1)) return false;
      }
      char* end = nullptr;
      std::string size_text = buf.substr(0, e);
      std::size_t size = std::strtoul(size_text.c_str(), &end, 16);
      if (size_text.empty() || end == size_text.c_str() || size > (64u << 20)) return false;
      buf.erase(0, e + 2);
      if (!fill(fd, buf, size + 2)) return false;
      m.body.append(buf, 0, size);
      buf.erase(0, size + 2);
      if (size == 0) return true;
    }
    return false;
  }
  auto cl = m.header("content-length");
  if (!cl.empty()) {
    char* end = nullptr;
    std::size_t n = std::strtoul(cl.c_str(), &end, 10);
    if (end == cl.c_str() || n > (64u << 20)) return false;
    if (!fill(fd, buf, n)) return false;
    m.body = buf.substr(0, n);
    buf.erase(0, n);
    return true;
  }
  if (!response) return true;
  char tmp[16384];
  for (;;) {  // until the close
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n < 0) return false;
    if (n == 0) break;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
  m.body = std::move(buf);
  buf.clear();
  return true;
}

HttpMessage readResponse(int fd, bool head_request) {
  HttpMessage m;
  std::string buf, head;
  for (int interim = 0; interim < 5; ++interim) {
    m.headers.clear();
    if (!readHead(fd, buf, head)) return HttpMessage{};
    std::string first = parseFields(head, m);
    auto sp = first.find(' ');
    m.status = sp == std::string::npos ? 0 : std::atoi(first.c_str() + sp + 1);
    if (m.status >= 200) break;
  }
  bool no_body = head_request || m.status == 204 || m.status == 304;
  if (!readBody(fd, buf, m, true, no_body)) m.status = 0;
  return m;
}

}  // namespace

HttpTestServer::HttpTestServer(const std::string& ip, uint16_t port, std::string name, Handler handler)
    : name_(std::move(name)), handler_(std::move(handler)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 128) != 0) {
    ::close(fd_);
    throw std::runtime_error("bind " + ip + ":" + std::to_string(port) + " failed");
  }
  socklen_t len = sizeof(a);
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

HttpTestServer::~HttpTestServer() {
  stopping_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  thread_.join();
  ::close(fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  for (int c : conns_) ::close(c);
}

void HttpTestServer::setHandler(Handler h) {
  std::lock_guard lock(mu_);
  handler_ = std::move(h);
}

std::vector<HttpMessage> HttpTestServer::requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

int HttpTestServer::count(const std::string& path_prefix) {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const HttpMessage& m) {
    return m.target.compare(0, path_prefix.size(), path_prefix) == 0;
  }));
}

void HttpTestServer::run() {
  while (!stopping_) {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (stopping_) return;
      continue;
    }
    setTimeouts(c);
    std::lock_guard lock(mu_);
    conns_.push_back(c);
    workers_.emplace_back([this, c] { serve(c); });
  }
}

void HttpTestServer::serve(int fd) {
  std::string buf, head;
  while (!stopping_ && readHead(fd, buf, head)) {
    HttpMessage req;
    std::string first = parseFields(head, req);
    auto sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    if (!readBody(fd, buf, req, false, false)) break;
    Handler h;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
      h = handler_;
    }
    HttpMessage resp;
    if (h) {
      resp = h(req);
    } else {
      resp.status = 200;
      resp.body = name_;
    }
    if (resp.delay.count() > 0) std::this_thread::sleep_for(resp.delay);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " X\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    out += "content-length: " + std::to_string(resp.body.size()) + "\r\n\r\n";
    if (req.method != "HEAD") out += resp.body;
    if (!sendAll(fd, out)) break;
    if (lower(req.header("connection")) == "close") break;
  }
  ::shutdown(fd, SHUT_RDWR);
}

HttpMessage httpExchange(int fd, const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    out += "content-length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n" + body;
  setTimeouts(fd);
  if (!sendAll(fd, out)) return HttpMessage{};
  return readResponse(fd, method == "HEAD");
}

HttpMessage httpRaw(int fd, const std::string& bytes) {
  setTimeouts(fd);
  if (!sendAll(fd, bytes)) return HttpMessage{};
  return readResponse(fd, false);
}

}  // namespace ambit::test
