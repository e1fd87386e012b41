// zds_agent: a stand-in for the node agent's hand-over half, for benchmarks
// until ambit-agent exists: serves the ZDS socket and hands ztunnel the
// network namespaces named on the command line. It does no capture and
// watches nothing; bench/l4.py installs the in-pod iptables rules itself.
//
//   zds_agent --socket /tmp/x/a.sock --pod UID,NAMESPACE,NAME,SERVICE_ACCOUNT,/run/netns/NAME ...
#include <csignal>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/netns/netns.h"
#include "common/zds/server.h"

namespace {
volatile std::sig_atomic_t stop = 0;
void onSignal(int) { stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  using namespace ambit;
  CLI::App app("zds_agent: hands pods' network namespaces to ztunnel (benchmark stand-in for ambit-agent)");
  std::string socket;
  std::vector<std::string> pods;
  app.add_option("--socket", socket, "unix socket path ztunnel connects to")->required();
  app.add_option("--pod", pods, "UID,NAMESPACE,NAME,SERVICE_ACCOUNT,NETNS_PATH")->required();
  CLI11_PARSE(app, argc, argv);

  auto server = zds::Server::listen(zds::ServerOptions{.path = socket});
  if (!server) {
    std::fprintf(stderr, "zds_agent: %s\n", server.error().message.c_str());
    return 1;
  }
  for (const auto& spec : pods) {
    std::vector<std::string> f;
    std::stringstream ss(spec);
    for (std::string part; std::getline(ss, part, ',');) f.push_back(part);
    if (f.size() != 5) {
      std::fprintf(stderr, "zds_agent: --pod %s: want UID,NAMESPACE,NAME,SERVICE_ACCOUNT,NETNS_PATH\n", spec.c_str());
      return 2;
    }
    auto ns = netns::Netns::open(f[4]);
    if (!ns) {
      std::fprintf(stderr, "zds_agent: %s\n", ns.error().message.c_str());
      return 1;
    }
    zds::Pod pod;
    pod.uid = f[0];
    pod.info.set_namespace_(f[1]);
    pod.info.set_name(f[2]);
    pod.info.set_service_account(f[3]);
    pod.netns = *ns;
    if (auto st = (*server)->add(pod); !st) std::fprintf(stderr, "zds_agent: %s\n", st.error().message.c_str());
  }
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::fprintf(stderr, "zds_agent: serving %zu pod(s) on %s\n", pods.size(), socket.c_str());
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}
