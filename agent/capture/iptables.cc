#include "agent/capture/iptables.h"

#include <fmt/format.h>

#include <sstream>

#include "agent/capture/command.h"
#include "common/netns/netns.h"

namespace ambit::agent {

namespace {

constexpr const char* kOutbound = "AMBIT_OUTBOUND";
constexpr const char* kInbound = "AMBIT_INBOUND";

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Sums the packet counters of REDIRECT rules in `iptables -t nat -L CHAIN -v -x -n` output.
uint64_t redirectedPackets(const std::string& listing) {
  uint64_t sum = 0;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("REDIRECT") == std::string::npos) continue;
    std::istringstream fields(line);
    uint64_t pkts = 0;
    if (fields >> pkts) sum += pkts;
  }
  return sum;
}

}  // namespace

std::string iptablesRules(const IptablesOptions& o) {
  std::string r = "*nat\n";
  // Declaring a chain that exists flushes it (with --noflush): applying the
  // same rules again is idempotent.
  r += fmt::format(":{} - [0:0]\n:{} - [0:0]\n", kOutbound, kInbound);
  r += fmt::format("-A {} -p tcp -m mark --mark {:#x} -j RETURN\n", kOutbound, netns::kProxyMark);
  r += fmt::format("-A {} -p tcp -o lo -j RETURN\n", kOutbound);
  r += fmt::format("-A {} -p tcp -j REDIRECT --to-ports {}\n", kOutbound, o.outbound_port);
  r += fmt::format("-A {} -p tcp -i lo -j RETURN\n", kInbound);
  r += fmt::format("-A {} -p tcp --dport {} -j RETURN\n", kInbound, o.hbone_port);
  // Every address of the pod, listed or not (IPv6 link-local, secondary
  // addresses): nothing reaches the app around the proxy, which serves only
  // the pod's own addresses and refuses the rest.
  r += fmt::format("-A {} -p tcp -j REDIRECT --to-ports {}\n", kInbound, o.inbound_port);
  r += "COMMIT\n";
  return r;
}

Result<std::unique_ptr<IptablesCapture>> IptablesCapture::create(const IptablesOptions& options) {
  std::unique_ptr<IptablesCapture> c(new IptablesCapture());
  c->options_ = options;
  auto find = [](const std::string& name) { return findExecutable({"/usr/sbin/" + name, "/sbin/" + name}); };
  c->v4_ = {find("iptables"), find("iptables-restore")};
  c->v6_ = {find("ip6tables"), find("ip6tables-restore")};
  for (const auto* t : {&c->v4_, &c->v6_}) {
    if (t->iptables.empty() || t->restore.empty()) {
      return makeError(ErrorCode::kUnavailable, "iptables capture needs iptables, ip6tables and their -restore tools");
    }
  }
  return c;
}

Status IptablesCapture::apply(const netns::Netns& ns, const Tool& tool, const std::string& rules) const {
  auto r = runCommandIn(ns, {tool.restore, "-w", "5", "--noflush"}, rules);
  if (!r) return r.error();
  if (r->exit_code != 0) {
    return makeError(ErrorCode::kUnavailable, "{} in the pod: {}", tool.restore, trimmed(r->output));
  }
  // The jumps into Ambit's chains, once each.
  for (auto [from, to] : {std::pair{"OUTPUT", kOutbound}, std::pair{"PREROUTING", kInbound}}) {
    auto check = runCommandIn(ns, {tool.iptables, "-w", "5", "-t", "nat", "-C", from, "-p", "tcp", "-j", to});
    if (!check) return check.error();
    if (check->exit_code == 0) continue;
    auto add = runCommandIn(ns, {tool.iptables, "-w", "5", "-t", "nat", "-I", from, "1", "-p", "tcp", "-j", to});
    if (!add) return add.error();
    if (add->exit_code != 0) {
      return makeError(ErrorCode::kUnavailable, "{} -I {}: {}", tool.iptables, from, trimmed(add->output));
    }
  }
  return {};
}

void IptablesCapture::remove(const netns::Netns& ns, const Tool& tool) const {
  // Jumps first (capture stops at once), then the chains.
  for (auto [from, to] : {std::pair{"OUTPUT", kOutbound}, std::pair{"PREROUTING", kInbound}}) {
    for (int i = 0; i < 8; ++i) {  // a jump inserted twice by hand is removed too
      auto del = runCommandIn(ns, {tool.iptables, "-w", "5", "-t", "nat", "-D", from, "-p", "tcp", "-j", to});
      if (!del || del->exit_code != 0) break;
    }
  }
  for (const char* chain : {kOutbound, kInbound}) {
    (void)runCommandIn(ns, {tool.iptables, "-w", "5", "-t", "nat", "-F", chain});
    (void)runCommandIn(ns, {tool.iptables, "-w", "5", "-t", "nat", "-X", chain});
  }
}

Status IptablesCapture::enroll(const PodCapture& pod) {
  // Already captured (e.g. by the agent before a restart): a failure now must
  // not take working rules away.
  bool was_enrolled = isEnrolled(*pod.netns);
  for (bool v6 : {false, true}) {
    if (auto st = apply(*pod.netns, v6 ? v6_ : v4_, iptablesRules(options_)); !st) {
      if (!was_enrolled) {
        // Half a capture is no capture: undo what went in.
        remove(*pod.netns, v4_);
        remove(*pod.netns, v6_);
      }
      return st;
    }
  }
  std::lock_guard lock(mu_);
  pods_[pod.netns->inode()] = pod;
  return {};
}

Status IptablesCapture::release(const PodCapture& pod) {
  remove(*pod.netns, v4_);
  remove(*pod.netns, v6_);
  std::lock_guard lock(mu_);
  pods_.erase(pod.netns->inode());
  if (isEnrolled(*pod.netns)) return makeError(ErrorCode::kUnavailable, "capture rules still in the pod after release");
  return {};
}

bool IptablesCapture::isEnrolled(const netns::Netns& ns) const {
  auto r = runCommandIn(ns, {v4_.iptables, "-w", "5", "-t", "nat", "-C", "OUTPUT", "-p", "tcp", "-j", kOutbound});
  return r && r->exit_code == 0;
}

void IptablesCapture::forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) {
  std::lock_guard lock(mu_);
  for (auto it = pods_.begin(); it != pods_.end();) {
    bool keep = false;
    for (const auto& ns : live) keep = keep || ns->inode() == it->first;
    it = keep ? std::next(it) : pods_.erase(it);
  }
}

std::map<std::string, uint64_t> IptablesCapture::counters() const {
  std::map<std::string, uint64_t> out{{"outbound_redirected_packets", 0}, {"inbound_redirected_packets", 0}};
  std::lock_guard lock(mu_);
  for (const auto& [inode, pod] : pods_) {
    for (const auto* tool : {&v4_, &v6_}) {
      for (auto [chain, name] : {std::pair{kOutbound, "outbound_redirected_packets"},
                                 std::pair{kInbound, "inbound_redirected_packets"}}) {
        auto r = runCommandIn(*pod.netns, {tool->iptables, "-w", "5", "-t", "nat", "-L", chain, "-v", "-x", "-n"});
        if (r && r->exit_code == 0) out[name] += redirectedPackets(r->output);
      }
    }
  }
  return out;
}

nlohmann::json IptablesCapture::dump() const {
  nlohmann::json pods = nlohmann::json::array();
  std::lock_guard lock(mu_);
  for (const auto& [inode, pod] : pods_) {
    nlohmann::json ips = nlohmann::json::array();
    for (const auto& a : pod.addresses) ips.push_back(a.to_string());
    pods.push_back({{"netns_inode", inode}, {"addresses", ips}});
  }
  return {{"chains", {kOutbound, kInbound}}, {"enrolled", pods}};
}

}  // namespace ambit::agent
