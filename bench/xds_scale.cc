// xds-scale (docs/benchmarks.md): ambitd with N workloads and M services in a
// YAML directory, C connected delta-ADS clients (wildcard Address, Authorization
// and route subscriptions, ACKing every response). Each round edits one file
// (one pod's label) and measures the time from the file's rename into place to
// the last client receiving the changed resource, and how many resources each
// push carried. Reports medians and p90 over the rounds, the initial sync time,
// and ambitd's RSS; writes a markdown table.
//
//   build/bench/xds_scale --ambitd build/controlplane/ambitd [--workloads 10000]
//       [--services 1000] [--clients 100] [--rounds 30] [--out FILE]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace {

namespace fs = std::filesystem;
namespace ds = envoy::service::discovery::v3;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kTypes = {"type.googleapis.com/istio.workload.Address",
                                         "type.googleapis.com/istio.security.Authorization",
                                         "type.googleapis.com/ambit.route.v1.HostConfig"};

struct Shape {
  int workloads = 10000;
  int services = 1000;
  int namespaces = 100;
  int nodes = 100;
};

std::string ip(int base2, int i) { return fmt::format("198.{}.{}.{}", base2, i / 256, i % 256); }

// One file per service: the Service and its pods. `version` labels the first pod
// of service `changed` (the object each round edits).
std::string serviceFile(const Shape& s, int svc, const std::string& first_pod_version) {
  int per_svc = s.workloads / s.services;
  std::string ns = fmt::format("bench-{:03}", svc % s.namespaces);
  std::ostringstream out;
  out << fmt::format(
      "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{0}, namespace: {1}}}\n"
      "spec: {{clusterIP: {2}, selector: {{app: svc-{0}}}, ports: [{{name: http, port: 80, targetPort: 8080}}]}}\n",
      svc, ns, ip(19, svc + 1));
  for (int p = 0; p < per_svc; ++p) {
    int idx = svc * per_svc + p;
    std::string version = p == 0 ? first_pod_version : "v1";
    out << fmt::format(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: svc-{0}-{1}, namespace: {2}, labels: {{app: svc-{0}, "
        "version: {3}}}}}\nspec: {{serviceAccountName: svc-{0}, nodeName: node-{4}}}\nstatus: {{podIP: {5}}}\n",
        svc, p, ns, version, idx % s.nodes, ip(18, idx + 1));
  }
  return out.str();
}

std::string namespaceFile(int n) {
  std::string ns = fmt::format("bench-{:03}", n);
  return fmt::format(
      "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {0}, labels: {{istio.io/dataplane-mode: ambient}}}}\n"
      "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: same-namespace, "
      "namespace: {0}}}\nspec: {{rules: [{{from: [{{source: {{namespaces: [{0}]}}}}]}}]}}\n"
      "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: versions, namespace: {0}}}\n"
      "spec: {{host: \"*.{0}.svc.cluster.local\", subsets: [{{name: v1, labels: {{version: v1}}}}]}}\n",
      ns);
}

void writeAtomically(const fs::path& path, const std::string& content) {
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  std::ofstream(tmp) << content;
  fs::rename(tmp, path);
}

// ---- ambitd as a child process, its log in a file ----
class Ambitd {
 public:
  Ambitd(const std::string& binary, const fs::path& work) : log_(work / "ambitd.log") {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = fopen(log_.c_str(), "w");
      if (f) dup2(fileno(f), 2);
      std::vector<std::string> args = {binary,
                                       "--config_dir", (work / "config").string(),
                                       "--ca.state_dir", (work / "ca").string(),
                                       "--ca.cacerts_dir", (work / "no-cacerts").string(),
                                       "--xds.address", "127.0.0.1", "--xds.plaintext_port", "0",
                                       "--xds.tls_port", "0", "--admin.port", "0",
                                       "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
                                       "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Ambitd() { stop(); }

  // The xDS port, once ambitd logs it (bounded wait).
  std::string waitForPort(std::chrono::seconds timeout) {
    std::regex re("msg=xds_listening .*? port=(\\d+)");
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      std::ifstream in(log_);
      std::string line;
      while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, re)) return m[1];
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }

  // VmRSS and VmHWM in KiB.
  std::pair<long, long> memory() const {
    std::ifstream in(fmt::format("/proc/{}/status", pid_));
    std::string line;
    long rss = 0, hwm = 0;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
      if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
    }
    return {rss, hwm};
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  const fs::path& log() const { return log_; }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

// ---- the clients ----
struct Watch {
  std::mutex mu;
  std::condition_variable cv;
  std::string target;      // resource name the current round changes
  int round = -1;
  int seen = 0;            // clients that received it this round
  std::vector<Clock::time_point> arrivals;
  std::vector<int> resources_in_push;
  int synced = 0;          // clients holding the whole initial state
  int failed = 0;
};

class Client {
 public:
  Client(std::shared_ptr<grpc::Channel> channel, int id, Watch& watch, size_t expected_addresses)
      : stub_(ds::AggregatedDiscoveryService::NewStub(channel)),
        id_(id),
        watch_(watch),
        expected_(expected_addresses) {}

  void start() { thread_ = std::thread([this] { run(); }); }
  void stop() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    stream_ = stub_->DeltaAggregatedResources(&ctx_);
    for (const auto& type : kTypes) {
      ds::DeltaDiscoveryRequest req;
      req.mutable_node()->set_id(fmt::format("ztunnel~198.18.200.{}~bench-{}~bench.svc.cluster.local", id_ % 250, id_));
      req.set_type_url(type);
      if (!stream_->Write(req)) return fail();
    }
    size_t addresses = 0;
    bool synced = false;
    ds::DeltaDiscoveryResponse resp;
    while (stream_->Read(&resp)) {
      auto now = Clock::now();
      ds::DeltaDiscoveryRequest ack;
      ack.set_type_url(resp.type_url());
      ack.set_response_nonce(resp.nonce());
      if (!stream_->Write(ack)) break;
      if (resp.type_url() == kTypes[0]) addresses += resp.resources_size();
      std::lock_guard lock(watch_.mu);
      if (!synced && addresses >= expected_) {
        synced = true;
        ++watch_.synced;
        watch_.cv.notify_all();
      }
      if (watch_.round >= 0 && round_seen_ != watch_.round) {
        for (const auto& r : resp.resources()) {
          if (r.name() != watch_.target) continue;
          round_seen_ = watch_.round;
          ++watch_.seen;
          watch_.arrivals.push_back(now);
          watch_.resources_in_push.push_back(resp.resources_size());
          watch_.cv.notify_all();
          break;
        }
      }
    }
    fail();
  }

  void fail() {
    std::lock_guard lock(watch_.mu);
    ++watch_.failed;
    watch_.cv.notify_all();
  }

  std::unique_ptr<ds::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>> stream_;
  int id_;
  Watch& watch_;
  size_t expected_;
  int round_seen_ = -1;
  std::thread thread_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::min<double>(v.size() - 1, std::ceil(p * v.size()) - 1));
  return v[i];
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("xds-scale: one config change to N delta-xDS clients");
  std::string ambitd = "build/controlplane/ambitd";
  std::string out_file;
  Shape shape;
  int clients = 100;
  int rounds = 30;
  cli.add_option("--ambitd", ambitd, "ambitd binary");
  cli.add_option("--workloads", shape.workloads)->check(CLI::Range(10, 100000));
  cli.add_option("--services", shape.services)->check(CLI::Range(1, 10000));
  cli.add_option("--clients", clients)->check(CLI::Range(1, 1000));
  cli.add_option("--rounds", rounds)->check(CLI::Range(1, 1000));
  cli.add_option("--out", out_file, "also write the markdown table here");
  std::string keep_log;
  cli.add_option("--keep-log", keep_log, "copy ambitd's log here (set AMBIT_LOG_LEVEL=debug for push timings)");
  CLI11_PARSE(cli, argc, argv);
  shape.namespaces = std::min(shape.namespaces, shape.services);

  char tmpl[] = "/tmp/ambit-bench-xds-XXXXXX";
  if (!mkdtemp(tmpl)) return perror("mkdtemp"), 1;
  fs::path work = tmpl;
  fs::create_directories(work / "config");
  auto t_gen = Clock::now();
  for (int n = 0; n < shape.namespaces; ++n) writeAtomically(work / "config" / fmt::format("ns-{:03}.yaml", n), namespaceFile(n));
  for (int s = 0; s < shape.services; ++s) {
    writeAtomically(work / "config" / fmt::format("svc-{:05}.yaml", s), serviceFile(shape, s, "v1"));
  }
  int per_svc = shape.workloads / shape.services;
  size_t expected_addresses = static_cast<size_t>(per_svc * shape.services + shape.services);
  std::cerr << fmt::format("generated {} pods, {} services in {} namespaces ({:.0f} ms)\n", per_svc * shape.services,
                           shape.services, shape.namespaces, ms(Clock::now() - t_gen));

  int rc = 0;
  {
    Ambitd proc(ambitd, work);
    std::string port = proc.waitForPort(std::chrono::seconds(120));
    if (port.empty()) {
      std::ifstream in(proc.log());
      std::cerr << "ambitd did not start:\n" << in.rdbuf();
      fs::remove_all(work);
      return 1;
    }
    auto [rss_idle, hwm_idle] = proc.memory();

    Watch watch;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    std::vector<std::unique_ptr<Client>> cs;
    auto t_sync = Clock::now();
    for (int i = 0; i < clients; ++i) {
      // A channel each: 100 node proxies are 100 HTTP/2 connections.
      args.SetInt("ambit.bench.client", i);  // distinct args = distinct subchannel
      auto channel = grpc::CreateCustomChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials(), args);
      cs.push_back(std::make_unique<Client>(channel, i, watch, expected_addresses));
      cs.back()->start();
    }
    bool synced;
    {
      std::unique_lock lock(watch.mu);
      synced = watch.cv.wait_for(lock, std::chrono::seconds(120),
                                 [&] { return watch.synced + watch.failed >= clients; }) &&
               watch.failed == 0;
    }
    double sync_ms = ms(Clock::now() - t_sync);
    auto [rss_synced, hwm_synced] = proc.memory();
    std::vector<double> latencies, medians, pushed;
    int incomplete = 0;
    if (!synced) {
      std::cerr << "initial sync failed: " << watch.synced << " synced, " << watch.failed << " failed\n";
      rc = 1;
    } else {
      std::cerr << fmt::format("{} clients synced {} addresses in {:.0f} ms\n", clients, expected_addresses, sync_ms);
      for (int r = 0; r < rounds; ++r) {
        int svc = (r * 7919) % shape.services;
        std::string ns = fmt::format("bench-{:03}", svc % shape.namespaces);
        {
          std::lock_guard lock(watch.mu);
          watch.target = fmt::format("Kubernetes//Pod/{}/svc-{}-0", ns, svc);
          watch.round = r;
          watch.seen = 0;
          watch.arrivals.clear();
          watch.resources_in_push.clear();
        }
        auto t0 = Clock::now();
        writeAtomically(work / "config" / fmt::format("svc-{:05}.yaml", svc), serviceFile(shape, svc, fmt::format("r{}", r)));
        std::unique_lock lock(watch.mu);
        bool all = watch.cv.wait_for(lock, std::chrono::seconds(10), [&] { return watch.seen >= clients || watch.failed > 0; });
        if (!all || watch.failed > 0) {
          ++incomplete;
          std::cerr << fmt::format("round {}: only {}/{} clients got the change\n", r, watch.seen, clients);
          continue;
        }
        std::vector<double> per_client;
        for (auto t : watch.arrivals) per_client.push_back(ms(t - t0));
        latencies.push_back(*std::max_element(per_client.begin(), per_client.end()));
        medians.push_back(percentile(per_client, 0.5));
        for (int n : watch.resources_in_push) pushed.push_back(n);
      }
    }
    auto [rss_end, hwm_end] = proc.memory();
    for (auto& c : cs) c->stop();
    proc.stop();
    if (!keep_log.empty()) fs::copy_file(proc.log(), keep_log, fs::copy_options::overwrite_existing);
    if (incomplete) rc = 1;

    std::string table = fmt::format(
        "| xds-scale | value |\n|---|---|\n"
        "| model | {} workloads, {} services, {} namespaces, {} files |\n"
        "| clients | {} delta ADS streams (Address + Authorization + routes, wildcard) |\n"
        "| initial sync, all clients | {:.0f} ms |\n"
        "| one change -> last client has it (median of {} rounds) | {:.1f} ms |\n"
        "| one change -> last client has it (p90 / max) | {:.1f} / {:.1f} ms |\n"
        "| one change -> median client has it (median) | {:.1f} ms |\n"
        "| resources per push (max) | {:.0f} |\n"
        "| ambitd RSS: loaded / 100 clients synced / after rounds (peak) | {:.0f} / {:.0f} / {:.0f} MiB ({:.0f} MiB) |\n"
        "| rounds incomplete | {} |\n"
        "| target | < 100 ms, < 1024 MiB; published istiod (Airbnb): 1.5-4.5 s p90 convergence |\n",
        per_svc * shape.services, shape.services, shape.namespaces, shape.services + shape.namespaces, clients, sync_ms,
        latencies.size(), percentile(latencies, 0.5), percentile(latencies, 0.9),
        latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()), percentile(medians, 0.5),
        pushed.empty() ? 0.0 : *std::max_element(pushed.begin(), pushed.end()), rss_idle / 1024.0,
        rss_synced / 1024.0, rss_end / 1024.0, std::max({hwm_idle, hwm_synced, hwm_end}) / 1024.0, incomplete);
    std::cout << table;
    if (!out_file.empty()) std::ofstream(out_file) << table;
  }
  fs::remove_all(work);
  return rc;
}
