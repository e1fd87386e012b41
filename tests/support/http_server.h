// A small blocking HTTP/1.1 server and client for integration tests: the
// server answers each request with what a handler says (status, body,
// delay), keeps connections alive and records what it was sent; the client
// sends requests on any connected fd (a SOCKS5 tunnel through the mesh) and
// reads responses framed by Content-Length, chunked encoding or the close.
// Every socket has 10 s I/O timeouts: no test can hang on them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ambit::test {

struct HttpMessage {
  std::string method;                          // requests
  std::string target;                          // requests
  int status = 0;                              // responses; 0 = none came (error / EOF)
  std::map<std::string, std::string> headers;  // lower-case names; a repeated field keeps its last value
  std::string body;
  std::chrono::milliseconds delay{0};  // server: wait this long before answering
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpTestServer {
 public:
  using Handler = std::function<HttpMessage(const HttpMessage& request)>;
  // Binds `ip`:`port`; throws std::runtime_error on failure. Without a
  // handler every request gets 200 with body `name`.
  HttpTestServer(const std::string& ip, uint16_t port, std::string name, Handler handler = {});
  ~HttpTestServer();
  void setHandler(Handler h);
  std::vector<HttpMessage> requests();  // what it was sent, in order
  uint16_t port() const { return port_; }  // the bound port (the one asked, or the kernel's for 0)
  int count(const std::string& path_prefix);

 private:
  void run();
  void serve(int fd);
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string name_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  Handler handler_;
  std::vector<HttpMessage> requests_;
  std::vector<std::thread> workers_;
  std::vector<int> conns_;
};

// Sends one request on `fd` and reads the response. `headers` are added as
// given (no Host is added for you).
HttpMessage httpExchange(int fd, const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body = "");
// Sends raw bytes and reads one response (for malformed requests).
HttpMessage httpRaw(int fd, const std::string& bytes);

}  // namespace ambit::test
