// tcp_load: the TCP load generator and echo server of the L4 benchmarks
// (bench/l4.py). Plain blocking sockets and threads: what it measures is the
// path between client and server, so it stays simple and the same for every
// peer.
//
//   tcp_load server --port P                         echo server (any size)
//   tcp_load rr   --target IP:PORT --size 1024 --iterations N
//        one kept-alive connection, N request/response round trips: latency percentiles
//   tcp_load crr  --target IP:PORT --size 100 --seconds S --concurrency C
//        a new connection per exchange (connect, send, receive, close): connections/s
//   tcp_load rate --target IP:PORT --size 1024 --rps R --connections K --seconds S
//        a fixed request rate spread over K kept-alive connections: achieved rate, latency
//   tcp_load hold --target IP:PORT --connections K --seconds S
//        opens K connections, checks each with one exchange, holds them idle for S seconds
// Results are one JSON object on stdout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace {

using Clock = std::chrono::steady_clock;

bool sendAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool recvAll(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

sockaddr_in parseTarget(const std::string& target) {
  auto colon = target.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
  if (colon == std::string::npos || inet_pton(AF_INET, target.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    throw std::runtime_error("bad target " + target + " (want IPv4:port)");
  }
  return a;
}

int dial(const sockaddr_in& a) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool exchange(int fd, std::vector<char>& buf) {
  return sendAll(fd, buf.data(), buf.size()) && recvAll(fd, buf.data(), buf.size());
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int server(uint16_t port) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 4096) != 0) {
    std::perror("listen");
    return 1;
  }
  std::fprintf(stderr, "tcp_load: echo server on :%u\n", port);
  for (;;) {
    int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread([c] {
      std::vector<char> buf(64 * 1024);
      for (;;) {
        ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
        if (n <= 0 || !sendAll(c, buf.data(), static_cast<std::size_t>(n))) break;
      }
      ::close(c);
    }).detach();
  }
}

int rr(const sockaddr_in& target, std::size_t size, int iterations) {
  int fd = dial(target);
  if (fd < 0) {
    std::printf("{\"error\": \"connect failed: %s\"}\n", std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(size, 'r');
  for (int i = 0; i < std::min(iterations / 10, 1000); ++i) {  // warm-up: pools, caches
    if (!exchange(fd, buf)) break;
  }
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  int errors = 0;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    if (!exchange(fd, buf)) {
      ++errors;
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  double mean = 0;
  for (double v : us) mean += v;
  mean = us.empty() ? 0 : mean / static_cast<double>(us.size());
  auto n = us.size();
  std::printf("{\"samples\": %zu, \"errors\": %d, \"mean_us\": %.2f, \"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f}\n",
              n, errors, mean, percentile(us, 50), percentile(us, 99), percentile(us, 99.9));
  return errors == 0 ? 0 : 1;
}

int crr(const sockaddr_in& target, std::size_t size, double seconds, int concurrency) {
  std::atomic<long> done{0}, errors{0};
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      std::vector<char> buf(size, 'c');
      while (Clock::now() < end) {
        int fd = dial(target);
        if (fd < 0) {
          errors++;
          continue;
        }
        if (exchange(fd, buf)) {
          done++;
        } else {
          errors++;
        }
        ::close(fd);
      }
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("{\"connections\": %ld, \"errors\": %ld, \"seconds\": %.3f, \"per_second\": %.1f}\n", done.load(),
              errors.load(), elapsed, static_cast<double>(done.load()) / elapsed);
  return 0;
}

int rate(const sockaddr_in& target, std::size_t size, double rps, int connections, double seconds) {
  std::mutex mu;
  std::vector<double> us;
  std::atomic<long> done{0}, errors{0};
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Each connection sends on its own schedule: rps / connections per second, open loop.
  auto interval = std::chrono::duration<double>(static_cast<double>(connections) / rps);
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      int fd = dial(target);
      if (fd < 0) {
        errors++;
        return;
      }
      std::vector<char> buf(size, 'q');
      std::vector<double> mine;
      auto next = t0 + std::chrono::duration_cast<Clock::duration>(interval * (static_cast<double>(t) / connections));
      while (next < end) {
        std::this_thread::sleep_until(next);
        auto s = Clock::now();
        if (!exchange(fd, buf)) {
          errors++;
          break;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
        done++;
        next += std::chrono::duration_cast<Clock::duration>(interval);
      }
      ::close(fd);
      std::lock_guard lock(mu);
      us.insert(us.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("{\"requests\": %ld, \"errors\": %ld, \"seconds\": %.3f, \"per_second\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f}\n",
              done.load(), errors.load(), elapsed, static_cast<double>(done.load()) / elapsed, percentile(us, 50),
              percentile(us, 99));
  return 0;
}

int hold(const sockaddr_in& target, int connections, double seconds) {
  std::vector<int> fds;
  std::vector<char> buf(16, 'h');
  int errors = 0;
  for (int i = 0; i < connections; ++i) {
    int fd = dial(target);
    if (fd < 0 || !exchange(fd, buf)) {
      ++errors;
      if (fd >= 0) ::close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  std::printf("{\"open\": %zu, \"errors\": %d}\n", fds.size(), errors);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  for (int fd : fds) ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app("tcp_load: L4 benchmark load and echo server");
  app.require_subcommand(1);
  uint16_t port = 7000;
  std::string target;
  std::size_t size = 1024;
  int iterations = 20000, concurrency = 4, connections = 10;
  double seconds = 5, rps = 1000;
  auto* srv = app.add_subcommand("server", "echo server");
  srv->add_option("--port", port);
  auto* rr_cmd = app.add_subcommand("rr", "round trips on one connection");
  auto* crr_cmd = app.add_subcommand("crr", "a connection per exchange");
  auto* rate_cmd = app.add_subcommand("rate", "fixed request rate");
  auto* hold_cmd = app.add_subcommand("hold", "idle connections");
  for (auto* c : {rr_cmd, crr_cmd, rate_cmd, hold_cmd}) c->add_option("--target", target)->required();
  for (auto* c : {rr_cmd, crr_cmd, rate_cmd}) c->add_option("--size", size);
  rr_cmd->add_option("--iterations", iterations);
  for (auto* c : {crr_cmd, rate_cmd, hold_cmd}) c->add_option("--seconds", seconds);
  crr_cmd->add_option("--concurrency", concurrency);
  rate_cmd->add_option("--rps", rps);
  for (auto* c : {rate_cmd, hold_cmd}) c->add_option("--connections", connections);
  CLI11_PARSE(app, argc, argv);
  try {
    if (*srv) return server(port);
    auto t = parseTarget(target);
    if (*rr_cmd) return rr(t, size, iterations);
    if (*crr_cmd) return crr(t, size, seconds, concurrency);
    if (*rate_cmd) return rate(t, size, rps, connections, seconds);
    if (*hold_cmd) return hold(t, connections, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tcp_load: %s\n", e.what());
    return 2;
  }
  return 0;
}
