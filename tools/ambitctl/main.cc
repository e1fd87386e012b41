// ambitctl: the operator's CLI. `lab ...` runs a whole mesh on this machine;
// `ztunnel-config` reads a ztunnel's /config_dump; `validate` checks YAML as
// ambitd would; `version`.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "controlplane/validate/report.h"
#include "tools/ambitctl/ztunnel_config.h"
#include "tools/lab/admin_client.h"
#include "tools/lab/lab.h"
#include "tools/lab/manifest.h"

namespace fs = std::filesystem;
using namespace ambit;

namespace {

// The components: --bin-dir, else beside ambitctl (an installed layout), else
// where this build tree put them.
lab::Binaries findBinaries(const std::string& bin_dir) {
  std::string dir = bin_dir.empty() ? "" : std::filesystem::absolute(bin_dir).string();
  if (dir.empty()) {
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec).parent_path();
    if (!ec && fs::exists(self / "ambitd") && fs::exists(self / "ztunnel")) dir = self.string();
  }
  if (!dir.empty()) {
    return {dir + "/ambitd", dir + "/ztunnel", dir + "/ambit-agent", dir + "/ambit-demo-app", dir + "/waypoint"};
  }
  return {AMBIT_BUILD_AMBITD, AMBIT_BUILD_ZTUNNEL, AMBIT_BUILD_AGENT, AMBIT_BUILD_DEMO_APP, AMBIT_BUILD_WAYPOINT};
}

std::string defaultLabConfig() {
  for (std::string d : {std::string(AMBIT_SOURCE_DIR) + "/deploy/lab/mesh", std::string("/usr/share/ambit/lab/mesh")}) {
    if (fs::is_directory(d)) return d;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("ambitctl: Ambit's command-line tool");
  cli.require_subcommand(1);

  auto* version = cli.add_subcommand("version", "print the version");

  std::string validate_dir;
  auto* validate = cli.add_subcommand("validate", "check a directory of YAML as ambitd would (errors name file:line and field)");
  validate->add_option("dir", validate_dir, "directory of YAML")->required();

  lab::LabOptions lab_opt;
  if (const char* d = std::getenv("AMBIT_LAB_DIR")) lab_opt.lab_dir = d;
  std::string kind, node, admin, output = "table";
  auto* zc = cli.add_subcommand("ztunnel-config", "a ztunnel's workloads, services, policies, certificates or connections");
  zc->add_option("kind", kind, "workloads | services | policies | certificates | connections")->required();
  zc->add_option("--node", node, "a lab node's ztunnel (node1, node2, ...)");
  zc->add_option("--admin", admin, "a ztunnel admin address instead (HOST:PORT, default 127.0.0.1:15000)");
  zc->add_option("--name", lab_opt.name, "lab name")->capture_default_str();
  zc->add_option("--lab-dir", lab_opt.lab_dir, "where labs keep their state ($AMBIT_LAB_DIR)")->capture_default_str();
  zc->add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();

  auto* labc = cli.add_subcommand("lab", "a whole mesh on this machine (network namespaces; needs root)");
  labc->require_subcommand(1);

  lab::UpOptions up;
  up.config = defaultLabConfig();
  std::string bin_dir;
  auto* lab_up = labc->add_subcommand("up", "build the lab: network, nodes, ambitd, agents, ztunnels, pods");
  lab_up->add_option("--nodes", up.nodes, "nodes")->capture_default_str()->check(CLI::Range(1, 100));
  lab_up->add_option("--config", up.config, "directory of Kubernetes/Istio YAML (pods, services, policies)")->capture_default_str();
  lab_up->add_option("--capture", up.capture, "capture mode of the agents")->check(CLI::IsMember({"auto", "ebpf", "iptables"}))->capture_default_str();
  lab_up->add_option("--bin-dir", bin_dir, "directory holding ambitd, ztunnel, ambit-agent, ambit-demo-app and waypoint");
  auto* lab_down = labc->add_subcommand("down", "remove everything the lab made (also after a crash)");
  bool status_json = false;
  auto* lab_status = labc->add_subcommand("status", "nodes, pods, enrolment, component health");
  lab_status->add_flag("--json", status_json, "as JSON");
  std::string file;
  auto* lab_apply = labc->add_subcommand("apply", "apply a YAML file to the running lab (replaces a file of the same name)");
  lab_apply->add_option("file", file, "YAML file")->required()->check(CLI::ExistingFile);
  auto* lab_delete = labc->add_subcommand("delete", "remove an applied file (its pods, services and policies)");
  lab_delete->add_option("file", file, "file name (as applied)")->required();
  std::string pod;
  std::vector<std::string> cmd;
  auto* lab_exec = labc->add_subcommand("exec", "run a command inside a pod: lab exec POD -- CMD [ARGS...]");
  lab_exec->add_option("pod", pod, "POD or NAMESPACE/POD")->required();
  lab_exec->add_option("cmd", cmd, "command and arguments (after --)")->required();
  std::string what;
  auto* lab_logs = labc->add_subcommand("logs", "a component's or a pod's log: ambitd | agent | ztunnel | POD");
  lab_logs->add_option("what", what, "ambitd, agent, ztunnel or a pod")->required();
  lab_logs->add_option("--node", node, "the node (agent, ztunnel)");
  std::string filter;
  auto* lab_metrics =
      labc->add_subcommand("metrics", "a component's Prometheus metrics: ambitd | agent | ztunnel | waypoint");
  lab_metrics->add_option("component", what, "ambitd, agent, ztunnel or waypoint")->required();
  lab_metrics->add_option("--node", node, "the node (agent, ztunnel)");
  lab_metrics->add_option("--pod", pod, "the waypoint's pod (when the lab runs more than one)");
  lab_metrics->add_option("--filter", filter, "only samples whose line contains this");
  std::string label_kind, label_name, label_ns = "default";
  std::vector<std::string> label_changes;
  auto* lab_label = labc->add_subcommand(
      "label", "set (KEY=VALUE) or remove (KEY-) labels, as kubectl label: lab label ns demo istio.io/use-waypoint=waypoint");
  lab_label->add_option("kind", label_kind, "namespace | service | pod | gateway | ... (a kind in an applied file)")->required();
  lab_label->add_option("object", label_name, "its name")->required();
  lab_label->add_option("labels", label_changes, "KEY=VALUE or KEY-")->required();
  lab_label->add_option("-n,--namespace", label_ns, "its namespace")->capture_default_str();
  auto* lab_restart = labc->add_subcommand("restart", "restart a node's ztunnel (rolling) or agent");
  lab_restart->add_option("component", what, "ztunnel or agent")->required()->check(CLI::IsMember({"ztunnel", "agent"}));
  lab_restart->add_option("--node", node, "the node")->required();

  // Every lab command takes the lab's name and state directory (after the verb:
  // `ambitctl lab down --name demo`).
  for (auto* sub : labc->get_subcommands({})) {
    sub->add_option("--name", lab_opt.name, "lab name (several labs can run side by side)")->capture_default_str();
    sub->add_option("--lab-dir", lab_opt.lab_dir, "where labs keep their state ($AMBIT_LAB_DIR)")->capture_default_str();
  }

  CLI11_PARSE(cli, argc, argv);
  // Absolute, so that what a lab records (its bpffs mount, its paths) is found
  // again from any working directory.
  if (!lab_opt.lab_dir.empty()) lab_opt.lab_dir = std::filesystem::absolute(lab_opt.lab_dir).lexically_normal().string();
  while (lab_opt.lab_dir.size() > 1 && lab_opt.lab_dir.back() == '/') lab_opt.lab_dir.pop_back();

  try {
    if (*version) {
      std::cout << "ambitctl " << AMBIT_VERSION << " (" << AMBIT_GIT_COMMIT << ")\n";
      return 0;
    }
    if (*validate) return controlplane::printValidation(validate_dir, std::cout, std::cerr);
    if (*zc) {
      std::string netns, host = "127.0.0.1";
      int port = 15000;
      if (!node.empty()) {
        auto t = lab::ztunnelAdmin(lab_opt, node);
        netns = t.netns;
        host = t.host;
        port = t.port;
      } else if (!admin.empty()) {
        auto colon = admin.rfind(':');
        if (colon == std::string::npos) throw lab::LabError("--admin: HOST:PORT");
        host = admin.substr(0, colon);
        if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
        port = std::stoi(admin.substr(colon + 1));
      }
      auto answer = lab::httpGet(netns, host, port, "/config_dump");
      if (!answer) throw lab::LabError(answer.error().message + (node.empty() ? " (a lab node: --node N)" : ""));
      if (answer->status != 200) throw lab::LabError("/config_dump answered " + std::to_string(answer->status));
      auto dump = nlohmann::json::parse(answer->body, nullptr, false);
      if (dump.is_discarded()) throw lab::LabError("/config_dump is not JSON");
      auto text = ctl::renderZtunnelConfig(dump, kind, output == "json");
      if (!text) throw lab::LabError(text.error().message);
      std::cout << *text;
      return 0;
    }
    if (*lab_up) {
      if (up.config.empty()) throw lab::LabError("--config: no default lab config found; give a directory of YAML");
      up.bin = findBinaries(bin_dir);
      lab::labUp(lab_opt, up, std::cout);
    } else if (*lab_down) {
      lab::labDown(lab_opt, std::cout);
    } else if (*lab_status) {
      lab::labStatus(lab_opt, status_json, std::cout);
    } else if (*lab_apply) {
      lab::labApply(lab_opt, file, std::cout);
    } else if (*lab_delete) {
      lab::labDelete(lab_opt, file, std::cout);
    } else if (*lab_exec) {
      return lab::labExec(lab_opt, pod, cmd);
    } else if (*lab_logs) {
      lab::labLogs(lab_opt, what, node, std::cout);
    } else if (*lab_metrics) {
      lab::labMetrics(lab_opt, what, what == "waypoint" ? pod : node, filter, std::cout);
    } else if (*lab_label) {
      lab::labLabel(lab_opt, label_kind, label_name, label_ns, label_changes, std::cout);
    } else if (*lab_restart) {
      lab::labRestart(lab_opt, what, node, std::cout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
