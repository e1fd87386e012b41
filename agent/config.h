// ambit-agent's typed configuration (file + AMBIT_* environment + flags).
#pragma once

#include <chrono>
#include <string>

#include "common/app/service.h"
#include "common/config/schema.h"

namespace ambit::agent {

struct AgentConfig {
  app::ServiceConfig service;
  std::string node_name;
  std::string config_dir;  // the YAML directory the pods come from (the lab; ambitd reads the same)
  std::string cluster_id = "Kubernetes";
  std::string capture_mode = "auto";  // auto | ebpf | iptables
  std::string bpf_pin_dir = "/sys/fs/bpf/ambit";
  std::string bpf_cgroup;  // cgroup v2 directory the programs attach to (never the root)
  std::string zds_socket = "/var/run/ambit/ztunnel.sock";
  uint16_t outbound_port = 15001;
  uint16_t inbound_port = 15006;
  uint16_t hbone_port = 15008;
  std::chrono::milliseconds resync{std::chrono::seconds(5)};
  std::chrono::milliseconds ack_timeout{std::chrono::seconds(5)};
  AgentConfig();
};

config::Schema<AgentConfig> agentSchema();

}  // namespace ambit::agent
