// ambit-agent: the node agent. Learns the pods on its node from the YAML
// directory ambitd reads, captures the enrolled ones (eBPF, or in-pod
// iptables where BPF cannot be loaded) and hands their network namespaces to
// ztunnel over the ZDS socket. Admin: /config_dump (mode, pods, maps,
// counters), /stats/prometheus, /healthz/ready.
#include <csignal>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>

#include "agent/capture/ebpf.h"
#include "agent/capture/iptables.h"
#include "agent/config.h"
#include "agent/pods/netns_finder.h"
#include "agent/pods/node_pods.h"
#include "agent/reconciler.h"
#include "agent/zds_handover.h"
#include "common/app/service.h"
#include "common/log/log.h"
#include "controlplane/source/file_source.h"

namespace {

using namespace ambit;

// The capture in use: eBPF when asked or possible, else iptables (auto).
Result<std::unique_ptr<agent::Capture>> makeCapture(const agent::AgentConfig& cfg, std::string& why_fallback) {
  if (cfg.capture_mode != "iptables") {
    agent::EbpfOptions o;
    o.pin_dir = cfg.bpf_pin_dir;
    o.cgroup = cfg.bpf_cgroup;
    o.outbound_port = cfg.outbound_port;
    o.inbound_port = cfg.inbound_port;
    o.hbone_port = cfg.hbone_port;
    Result<std::unique_ptr<agent::EbpfCapture>> ebpf =
        cfg.bpf_cgroup.empty() ? Result<std::unique_ptr<agent::EbpfCapture>>(makeError(
                                     ErrorCode::kInvalidArgument, "bpf.cgroup is not set"))
                               : agent::EbpfCapture::load(o);
    if (ebpf) return std::unique_ptr<agent::Capture>(std::move(*ebpf));
    if (cfg.capture_mode == "ebpf") return ebpf.error();
    why_fallback = ebpf.error().message;
  }
  agent::IptablesOptions o;
  o.outbound_port = cfg.outbound_port;
  o.inbound_port = cfg.inbound_port;
  o.hbone_port = cfg.hbone_port;
  auto ipt = agent::IptablesCapture::create(o);
  if (!ipt) return ipt.error();
  return std::unique_ptr<agent::Capture>(std::move(*ipt));
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a capture command that exits early must not kill the agent
  auto schema = agent::agentSchema();
  CLI::App cli("ambit-agent: Ambit's node agent (traffic capture, pods handed to ztunnel)");
  config::CommandLine cmdline(cli, schema);
  CLI11_PARSE(cli, argc, argv);
  int exit_code = 0;
  auto loaded = app::loadConfig(schema, cmdline, exit_code);
  if (!loaded) return exit_code;
  auto logger = log::scope("agent");
  const agent::AgentConfig& cfg = *loaded->config;

  std::string why_fallback;
  auto capture = makeCapture(cfg, why_fallback);
  if (!capture) {
    log::error(*logger, "capture_failed", "mode", cfg.capture_mode, "error", capture.error().message);
    return 1;
  }
  if (!why_fallback.empty()) {
    log::warn(*logger, "capture_fallback", "mode", "iptables", "reason", why_fallback);
  }
  log::info(*logger, "capture_mode", "mode", (*capture)->mode(), "node", cfg.node_name);

  app::Service service("ambit-agent", cfg.service);
  controlplane::ModelStore store;
  controlplane::FileSource files(cfg.config_dir, store);
  agent::ZdsHandover handover;
  agent::Reconciler reconciler(**capture, handover, [](const agent::NodePod& p) { return agent::findNetns(p); });
  controlplane::MeshSettings mesh;
  mesh.cluster_id = cfg.cluster_id;

  std::mutex mu;
  std::condition_variable cv;
  bool changed = true, stopping = false, synced = false;
  std::vector<std::string> last_warnings;
  store.onChange([&](auto) {
    std::lock_guard lock(mu);
    changed = true;
    cv.notify_all();
  });
  if (auto st = files.start(); !st) {
    log::error(*logger, "config_source_failed", "error", st.error().message);
    return 1;
  }

  auto& registry = service.metrics();
  registry.callbackGauge("ambit_agent_pods", "pods of this node the agent manages, by state", {"state"}, [&] {
    auto c = reconciler.counts();
    return std::vector<metrics::CallbackSample>{{{"captured"}, double(c.captured)},
                                                {{"handed_over"}, double(c.handed_over)},
                                                {{"failed"}, double(c.failed)}};
  });
  registry.callbackGauge("ambit_agent_capture_events", "capture decisions (eBPF verdicts or iptables redirects)",
                         {"mode", "event"}, [&] {
                           std::vector<metrics::CallbackSample> out;
                           for (const auto& [name, n] : (*capture)->counters()) {
                             out.push_back({{(*capture)->mode(), name}, double(n)});
                           }
                           return out;
                         });
  registry.callbackGauge("ambit_agent_ztunnels_connected", "ztunnels connected over ZDS", {},
                         [&] { return std::vector<metrics::CallbackSample>{{{}, double(handover.connected())}}; });
  service.setReadiness([&]() -> admin::Readiness {
    std::lock_guard lock(mu);
    if (!synced) return {false, "pods not reconciled yet"};
    return {true, "ready"};
  });
  service.addConfigDump("config", [&, origins = loaded->origins] { return config::effectiveJson(schema, &cfg, origins); });
  service.addConfigDump("capture", [&] {
    auto j = (*capture)->dump();
    j["mode"] = (*capture)->mode();
    if (!why_fallback.empty()) j["fallback_reason"] = why_fallback;
    return j;
  });
  service.addConfigDump("pods", [&] { return reconciler.dump(); });
  service.addConfigDump("ztunnel", [&] {
    return nlohmann::json{{"socket", cfg.zds_socket}, {"connected", handover.connected()}};
  });
  service.addConfigDump("warnings", [&] {
    std::lock_guard lock(mu);
    return nlohmann::json(last_warnings);
  });
  if (auto st = service.start(); !st) {
    log::error(*logger, "start_failed", "error", st.error().message);
    return 1;
  }

  std::thread loop([&] {
    bool opened = false;
    for (;;) {
      {
        std::unique_lock lock(mu);
        // Until the directory is first read, look again soon.
        cv.wait_for(lock, synced ? cfg.resync : std::chrono::milliseconds(50), [&] { return changed || stopping; });
        if (stopping) return;
        changed = false;
      }
      if (!files.synced()) continue;
      std::vector<std::string> warnings;
      auto pods = agent::nodePods(*store.current(), cfg.node_name, mesh, &warnings);
      try {
        reconciler.apply(pods);
      } catch (const std::exception& e) {
        // A pass that threw (a filesystem race) is retried at the next resync.
        log::error(*logger, "reconcile_failed", "error", e.what());
        continue;
      }
      if (!opened) {
        zds::ServerOptions zo;
        zo.path = cfg.zds_socket;
        zo.ack_timeout = cfg.ack_timeout;
        if (auto st = handover.open(zo); !st) {
          log::error(*logger, "zds_listen_failed", "socket", cfg.zds_socket, "error", st.error().message);
          service.shutdown().request("zds socket failed");
          return;
        }
        opened = true;
        log::info(*logger, "zds_listening", "socket", cfg.zds_socket, "pods", pods.size());
      }
      std::lock_guard lock(mu);
      last_warnings = std::move(warnings);
      synced = true;
    }
  });
  int rc = service.runUntilShutdown();
  {
    std::lock_guard lock(mu);
    stopping = true;
    cv.notify_all();
  }
  loop.join();
  // Capture stays in place (pinned maps and links, in-pod rules): a restarted
  // agent takes over with no change for running pods.
  return rc;
}
