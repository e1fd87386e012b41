#include "agent/reconciler.h"

#include <set>

#include "common/log/log.h"

namespace ambit::agent {

namespace {

zds::Pod handoverPod(const NodePod& p, std::shared_ptr<netns::Netns> ns) {
  zds::Pod z;
  z.uid = p.uid;
  z.info.set_name(p.name);
  z.info.set_namespace_(p.ns);
  z.info.set_service_account(p.service_account);
  z.netns = std::move(ns);
  return z;
}

}  // namespace

Reconciler::Reconciler(Capture& capture, Handover& handover, NetnsFinder finder)
    : capture_(capture), handover_(handover), finder_(std::move(finder)) {}

void Reconciler::enroll(const NodePod& pod, PodStatus& st) {
  static auto logger = log::scope("agent");
  // st.pod is what is in place: it changes only once the new pod is captured,
  // so a failure is retried on the next pass.
  bool changed = !(st.pod == pod);
  if (st.captured && st.handed_over && !changed) return;
  std::shared_ptr<netns::Netns> ns = st.netns;
  if (!ns || changed) {
    auto found = finder_(pod);
    if (!found) {
      st.error = found.error().message;
      if (st.pod.uid.empty()) st.pod = pod;  // first sight: named in status
      log::warn(*logger, "pod_netns_not_found", "pod", pod.uid, "error", st.error);
      return;
    }
    ns = *found;
  }
  if (st.netns && st.captured && ns->inode() != st.netns->inode()) {
    // The pod was recreated under the same name: the old namespace goes first.
    release(st);
  }
  if (auto s = capture_.enroll(PodCapture{ns, pod.addresses}); !s) {
    st.error = "capture: " + s.error().message;
    if (st.pod.uid.empty()) st.pod = pod;
    log::warn(*logger, "pod_capture_failed", "pod", pod.uid, "mode", capture_.mode(), "error", st.error);
    return;
  }
  st.netns = ns;
  st.pod = pod;
  st.captured = true;
  if (auto s = handover_.add(handoverPod(pod, st.netns)); !s) {
    // Still captured (fail closed): its connections are refused until a
    // ztunnel takes it; a reconnecting ztunnel gets it in the replay.
    st.error = "ztunnel: " + s.error().message;
    st.handed_over = false;
    log::warn(*logger, "pod_handover_failed", "pod", pod.uid, "error", st.error);
    return;
  }
  st.handed_over = true;
  st.error.clear();
  log::info(*logger, "pod_enrolled", "pod", pod.uid, "mode", capture_.mode(), "netns_inode", st.netns->inode());
}

void Reconciler::release(PodStatus& st) {
  static auto logger = log::scope("agent");
  if (st.netns) {  // idempotent: also undoes a capture that failed part-way
    if (auto s = capture_.release(PodCapture{st.netns, st.pod.addresses}); !s) {
      log::warn(*logger, "pod_release_failed", "pod", st.pod.uid, "error", s.error().message);
    }
  }
  st.captured = false;
  if (auto s = handover_.remove(st.pod.uid); !s) {
    log::warn(*logger, "pod_takeback_failed", "pod", st.pod.uid, "error", s.error().message);
  }
  st.handed_over = false;
  log::info(*logger, "pod_released", "pod", st.pod.uid);
}

void Reconciler::apply(const std::vector<NodePod>& pods) {
  static auto logger = log::scope("agent");
  std::lock_guard pass(apply_mu_);
  std::map<std::string, PodStatus> current;
  {
    std::lock_guard lock(mu_);
    current = pods_;
  }
  std::set<std::string> wanted;
  for (const auto& p : pods) {
    if (!p.enrolled) continue;
    wanted.insert(p.uid);
    auto& st = current[p.uid];
    enroll(p, st);
  }
  for (auto it = current.begin(); it != current.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    release(it->second);
    it = current.erase(it);
  }
  if (first_pass_) {
    // An earlier run may have enrolled pods that are no longer enrolled
    // (changed while the agent was down): release those it can still find.
    for (const auto& p : pods) {
      if (p.enrolled) continue;
      auto ns = finder_(p);
      if (!ns || !capture_.isEnrolled(**ns)) continue;
      log::info(*logger, "stale_enrollment_released", "pod", p.uid);
      (void)capture_.release(PodCapture{*ns, p.addresses});
    }
    std::vector<std::shared_ptr<netns::Netns>> live;
    for (const auto& [uid, st] : current) {
      if (st.netns) live.push_back(st.netns);
    }
    capture_.forgetExcept(live);
    first_pass_ = false;  // only once it all went through (a throw retries it next pass)
  }
  std::lock_guard lock(mu_);
  pods_ = std::move(current);
}

std::vector<PodStatus> Reconciler::status() const {
  std::lock_guard lock(mu_);
  std::vector<PodStatus> out;
  for (const auto& [uid, st] : pods_) out.push_back(st);
  return out;
}

Reconciler::Counts Reconciler::counts() const {
  Counts c;
  std::lock_guard lock(mu_);
  for (const auto& [uid, st] : pods_) {
    c.captured += st.captured;
    c.handed_over += st.handed_over;
    c.failed += !st.error.empty();
  }
  return c;
}

nlohmann::json Reconciler::dump() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& st : status()) {
    nlohmann::json ips = nlohmann::json::array();
    for (const auto& a : st.pod.addresses) ips.push_back(a.to_string());
    out.push_back({{"uid", st.pod.uid},
                   {"name", st.pod.name},
                   {"namespace", st.pod.ns},
                   {"service_account", st.pod.service_account},
                   {"addresses", ips},
                   {"netns_inode", st.netns ? st.netns->inode() : 0},
                   {"captured", st.captured},
                   {"handed_over", st.handed_over},
                   {"error", st.error}});
  }
  return out;
}

}  // namespace ambit::agent
