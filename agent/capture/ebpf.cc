#include "agent/capture/ebpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include "bpf/connect.skel.h"
#include "bpf/getpeername.skel.h"
#include "bpf/getsockopt.skel.h"
#include "bpf/sk_lookup.skel.h"
#include "bpf/sockops.skel.h"
#include "bpf/user/maps.h"

namespace ambit::agent {

namespace fs = std::filesystem;

// The ABI's layouts as user space sees them: the BPF side is checked by the
// verifier against BTF, this side by the compiler.
static_assert(sizeof(ambit_pod) == 8);
static_assert(sizeof(ambit_addr) == 20 && offsetof(ambit_addr, port) == 16 && offsetof(ambit_addr, family) == 18);
static_assert(sizeof(ambit_tuple) == 48 && offsetof(ambit_tuple, local) == 8);
static_assert(sizeof(ambit_inbound_key) == 16 && offsetof(ambit_inbound_key, family) == 8);
static_assert(AMBIT_PROXY_MARK == netns::kProxyMark);
static_assert(AMBIT_V_MAX == 12);

struct EbpfCapture::Skeletons {
  ambit_connect* connect = nullptr;
  ambit_sockops* sockops = nullptr;
  ambit_getsockopt* getsockopt = nullptr;
  ambit_getpeername* getpeername = nullptr;
  ambit_sk_lookup* sk_lookup = nullptr;
  ~Skeletons() {
    if (connect) ambit_connect::destroy(connect);
    if (sockops) ambit_sockops::destroy(sockops);
    if (getsockopt) ambit_getsockopt::destroy(getsockopt);
    if (getpeername) ambit_getpeername::destroy(getpeername);
    if (sk_lookup) ambit_sk_lookup::destroy(sk_lookup);
  }
};

namespace {


Error bpfError(const std::string& what, int err) {
  return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", what, std::strerror(err < 0 ? -err : err))};
}

template <typename S>
Status openAndLoad(S*& s, const std::string& pin_dir, const char* what) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  s = S::open(&opts);
  if (s == nullptr) return bpfError(fmt::format("opening the {} program", what), errno);
  if (int err = S::load(s); err != 0) return bpfError(fmt::format("loading the {} program", what), err);
  return {};
}

// A cgroup that has a parent cgroup: never the root of a hierarchy.
Status checkNotRootCgroup(const std::string& dir) {
  std::error_code ec;
  auto real = fs::canonical(dir, ec);
  if (ec) return makeError(ErrorCode::kNotFound, "cgroup {}: {}", dir, ec.message());
  if (!fs::exists(real / "cgroup.procs", ec)) return makeError(ErrorCode::kInvalidArgument, "{} is not a cgroup v2 directory", dir);
  if (!fs::exists(real.parent_path() / "cgroup.procs", ec)) {
    return makeError(ErrorCode::kInvalidArgument, "{} is a root cgroup: Ambit attaches only below it", dir);
  }
  return {};
}

std::string linkPin(const std::string& dir, const std::string& name) { return dir + "/link_" + name; }
std::string netnsPin(const std::string& dir, uint64_t cookie) { return dir + "/netns_" + std::to_string(cookie); }

}  // namespace

Result<uint64_t> netnsCookie(const netns::Netns& ns) {
  auto fd = netns::socketIn(&ns, AF_INET, SOCK_DGRAM);
  if (!fd) return fd.error();
  auto cookie = bpf::socketNetnsCookie(*fd);
  ::close(*fd);
  return cookie;
}

const char* verdictName(int v) {
  switch (v) {
    case AMBIT_V_CONNECT_REDIRECTED: return "connect_redirected";
    case AMBIT_V_CONNECT_NOT_ENROLLED: return "connect_not_enrolled";
    case AMBIT_V_CONNECT_PROXY: return "connect_proxy";
    case AMBIT_V_CONNECT_LOCAL: return "connect_local";
    case AMBIT_V_CONNECT_NO_RECORD: return "connect_no_record";
    case AMBIT_V_ORIGDST_ANSWERED: return "origdst_answered";
    case AMBIT_V_ORIGDST_MISS: return "origdst_miss";
    case AMBIT_V_PEERNAME_REWRITTEN: return "peername_rewritten";
    case AMBIT_V_INBOUND_STEERED: return "inbound_steered";
    case AMBIT_V_INBOUND_NOT_POD: return "inbound_not_pod";
    case AMBIT_V_INBOUND_EXEMPT: return "inbound_exempt";
    case AMBIT_V_INBOUND_NO_PROXY: return "inbound_no_proxy";
    default: return "unknown";
  }
}

Result<std::unique_ptr<EbpfCapture>> EbpfCapture::load(const EbpfOptions& options) {
  std::unique_ptr<EbpfCapture> c(new EbpfCapture());
  c->options_ = options;
  // Refused before anything is loaded or pinned.
  if (!options.cgroup.empty()) {
    if (auto st = checkNotRootCgroup(options.cgroup); !st) return st.error();
  }
  std::error_code ec;
  fs::create_directories(options.pin_dir, ec);
  if (ec) return makeError(ErrorCode::kUnavailable, "bpffs directory {}: {}", options.pin_dir, ec.message());
  if (auto st = c->loadObjects(); !st) return st.error();
  if (!options.cgroup.empty()) {
    if (auto st = c->attachCgroup(); !st) return st.error();
  }
  return c;
}

EbpfCapture::~EbpfCapture() {
  for (auto* l : links_) bpf_link__destroy(l);  // the pins keep them attached
}

Status EbpfCapture::loadObjects() {
  skel_ = std::make_unique<Skeletons>();
  const auto& d = options_.pin_dir;
  if (auto st = openAndLoad(skel_->connect, d, "connect"); !st) return st;
  if (auto st = openAndLoad(skel_->sockops, d, "sockops"); !st) return st;
  if (auto st = openAndLoad(skel_->getsockopt, d, "getsockopt"); !st) return st;
  if (auto st = openAndLoad(skel_->getpeername, d, "getpeername"); !st) return st;
  if (auto st = openAndLoad(skel_->sk_lookup, d, "sk_lookup"); !st) return st;
  return {};
}

Status EbpfCapture::attachCgroup() {
  if (auto st = checkNotRootCgroup(options_.cgroup); !st) return st;
  int cg = ::open(options_.cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) return bpfError("cgroup " + options_.cgroup, errno);
  std::vector<std::pair<std::string, bpf_program*>> progs{
      {"connect4", skel_->connect->progs.ambit_connect4},
      {"connect6", skel_->connect->progs.ambit_connect6},
      {"sockops", skel_->sockops->progs.ambit_sockops},
      {"getsockopt", skel_->getsockopt->progs.ambit_getsockopt},
      {"getpeername4", skel_->getpeername->progs.ambit_getpeername4},
      {"getpeername6", skel_->getpeername->progs.ambit_getpeername6},
  };
  Status result;
  for (auto& [name, prog] : progs) {
    auto pin = linkPin(options_.pin_dir, name);
    // A restarted agent finds its links pinned: it moves them to the
    // programs it just loaded instead of attaching a second time.
    std::error_code ec;
    bpf_link* existing = fs::exists(pin, ec) ? bpf_link__open(pin.c_str()) : nullptr;
    if (existing != nullptr) {
      int err = bpf_link__update_program(existing, prog);
      links_.push_back(existing);
      if (err != 0) {
        result = bpfError("updating the pinned " + name + " link", err);
        break;
      }
      continue;
    }
    bpf_link* link = bpf_program__attach_cgroup(prog, cg);
    if (link == nullptr) {
      result = bpfError("attaching " + name + " to " + options_.cgroup, errno);
      break;
    }
    links_.push_back(link);
    if (int err = bpf_link__pin(link, pin.c_str()); err != 0) {
      result = bpfError("pinning the " + name + " link", err);
      break;
    }
  }
  ::close(cg);
  return result;
}

Status EbpfCapture::enroll(const PodCapture& pod) {
  auto cookie = netnsCookie(*pod.netns);
  if (!cookie) return cookie.error();
  ambit_pod value{};
  value.outbound_port = options_.outbound_port;
  value.inbound_port = options_.inbound_port;
  value.hbone_port = options_.hbone_port;
  ambit_pod before{};
  bool was_enrolled = bpf_map_lookup_elem(mapFd(AMBIT_MAP_PODS), &*cookie, &before) == 0;
  // A failure part-way leaves a new pod with nothing (an enrolled one, e.g.
  // after an agent restart, keeps what it had: capture must not lapse).
  auto fail = [&](Error e) -> Status {
    if (!was_enrolled) (void)releaseCookie(*cookie);
    return e;
  };
  // Inbound first (sk_lookup refuses what is not yet listed), then the
  // addresses, then outbound: no moment with a direction uncaptured.
  std::error_code ec;
  auto pin = netnsPin(options_.pin_dir, *cookie);
  if (fs::exists(pin, ec)) {
    bpf_link* existing = bpf_link__open(pin.c_str());
    if (existing == nullptr) return fail(bpfError("opening the pod's sk_lookup link", errno));
    int err = bpf_link__update_program(existing, skel_->sk_lookup->progs.ambit_sk_lookup);
    bpf_link__destroy(existing);  // the pin keeps it
    if (err != 0) return fail(bpfError("updating the pod's sk_lookup link", err));
  } else {
    bpf_link* link = bpf_program__attach_netns(skel_->sk_lookup->progs.ambit_sk_lookup, pod.netns->fd());
    if (link == nullptr) return fail(bpfError("attaching sk_lookup to the pod's namespace", errno));
    int err = bpf_link__pin(link, pin.c_str());
    bpf_link__destroy(link);  // attached while pinned; gone if the pin failed
    if (err != 0) return fail(bpfError("pinning the pod's sk_lookup link", err));
  }
  std::vector<ambit_addr> keys;
  for (const auto& ip : pod.addresses) {
    keys.push_back(bpf::addrKey(ip));
    if (bpf_map_update_elem(mapFd(AMBIT_MAP_POD_ADDRS), &keys.back(), &*cookie, BPF_ANY) != 0) {
      return fail(bpfError("ambit_pod_addrs update", errno));
    }
  }
  // Addresses the pod no longer has (a new pod has none: no walk of the map).
  for (const auto& [key, owner] : was_enrolled ? podAddresses() : std::vector<std::pair<ambit_addr, uint64_t>>{}) {
    if (owner != *cookie) continue;
    bool listed = std::any_of(keys.begin(), keys.end(),
                              [&](const ambit_addr& k) { return std::memcmp(&k, &key, sizeof(k)) == 0; });
    if (!listed) bpf_map_delete_elem(mapFd(AMBIT_MAP_POD_ADDRS), &key);
  }
  if (bpf_map_update_elem(mapFd(AMBIT_MAP_PODS), &*cookie, &value, BPF_ANY) != 0) {
    return fail(bpfError("ambit_pods update", errno));
  }
  return {};
}

Status EbpfCapture::release(const PodCapture& pod) {
  auto cookie = netnsCookie(*pod.netns);
  if (!cookie) return cookie.error();
  return releaseCookie(*cookie);
}

Status EbpfCapture::releaseCookie(uint64_t cookie) {
  // The sk_lookup link first (inbound stops being steered), then the
  // namespace (outbound), then its addresses.
  auto pin = netnsPin(options_.pin_dir, cookie);
  if (::unlink(pin.c_str()) != 0 && errno != ENOENT) return bpfError("unpinning " + pin, errno);
  bpf_map_delete_elem(mapFd(AMBIT_MAP_PODS), &cookie);
  for (const auto& [key, owner] : podAddresses()) {
    if (owner == cookie) bpf_map_delete_elem(mapFd(AMBIT_MAP_POD_ADDRS), &key);
  }
  return {};
}

std::vector<std::pair<ambit_addr, uint64_t>> EbpfCapture::podAddresses() const {
  std::vector<std::pair<ambit_addr, uint64_t>> out;
  int fd = mapFd(AMBIT_MAP_POD_ADDRS);
  ambit_addr key{}, next{};
  ambit_addr* prev = nullptr;
  for (int i = 0; i < AMBIT_MAX_PODS * 2 && bpf_map_get_next_key(fd, prev, &next) == 0; ++i) {
    uint64_t cookie = 0;
    if (bpf_map_lookup_elem(fd, &next, &cookie) == 0) out.emplace_back(next, cookie);
    key = next;
    prev = &key;
  }
  return out;
}

bool EbpfCapture::namespaceAlive(uint64_t cookie) const {
  // The pod's pinned sk_lookup link names its namespace until the namespace
  // is destroyed (the kernel detaches the link then: netns_ino 0).
  auto pin = netnsPin(options_.pin_dir, cookie);
  int fd = bpf_obj_get(pin.c_str());
  if (fd < 0) return false;
  bpf_link_info info{};
  __u32 len = sizeof(info);
  bool alive = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.netns.netns_ino != 0;
  ::close(fd);
  return alive;
}

bool EbpfCapture::isEnrolled(const netns::Netns& ns) const {
  auto cookie = netnsCookie(ns);
  ambit_pod value{};
  return cookie && bpf_map_lookup_elem(mapFd(AMBIT_MAP_PODS), &*cookie, &value) == 0;
}

void EbpfCapture::forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) {
  std::vector<uint64_t> keep;
  for (const auto& ns : live) {
    if (auto c = netnsCookie(*ns)) keep.push_back(*c);
  }
  for (uint64_t cookie : enrolled()) {
    if (std::find(keep.begin(), keep.end(), cookie) != keep.end()) continue;
    // Only a namespace that is provably gone is forgotten: a pod whose
    // namespace could not be found just now must keep its capture.
    if (namespaceAlive(cookie)) continue;
    (void)releaseCookie(cookie);
  }
  // Pins of namespaces no longer in the map (a release cut short).
  std::error_code ec;
  for (fs::directory_iterator it(options_.pin_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& e = *it;
    auto name = e.path().filename().string();
    if (name.rfind("netns_", 0) != 0) continue;
    uint64_t cookie = std::strtoull(name.c_str() + 6, nullptr, 10);
    ambit_pod value{};
    if (bpf_map_lookup_elem(mapFd(AMBIT_MAP_PODS), &cookie, &value) != 0) fs::remove(e.path(), ec);
  }
}

nlohmann::json EbpfCapture::dump() const {
  nlohmann::json pods = nlohmann::json::array();
  auto addrs = podAddresses();
  for (uint64_t cookie : enrolled()) {
    nlohmann::json ips = nlohmann::json::array();
    for (const auto& [key, owner] : addrs) {
      if (owner != cookie) continue;
      char buf[64] = {};
      inet_ntop(key.family, key.ip, buf, sizeof(buf));
      ips.push_back(buf);
    }
    pods.push_back({{"netns_cookie", cookie},
                    {"addresses", ips},
                    {"sk_lookup_pinned", namespaceAlive(cookie)}});
  }
  nlohmann::json links = nlohmann::json::array();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.pin_dir, ec)) {
    auto name = e.path().filename().string();
    if (name.rfind("link_", 0) == 0) links.push_back(name.substr(5));
  }
  return {{"pin_dir", options_.pin_dir},
          {"cgroup", options_.cgroup},
          {"cgroup_links", links},
          {"enrolled", pods},
          {"counters", counters()}};
}

std::vector<uint64_t> EbpfCapture::enrolled() const {
  std::vector<uint64_t> out;
  int fd = mapFd(AMBIT_MAP_PODS);
  uint64_t key = 0, next = 0;
  uint64_t* prev = nullptr;
  for (int i = 0; i < AMBIT_MAX_PODS && bpf_map_get_next_key(fd, prev, &next) == 0; ++i) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

std::map<std::string, uint64_t> EbpfCapture::counters() const {
  std::map<std::string, uint64_t> out;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  for (uint32_t v = 0; v < AMBIT_V_MAX; ++v) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(mapFd(AMBIT_MAP_VERDICTS), &v, per_cpu.data()) == 0) {
      for (auto n : per_cpu) sum += n;
    }
    out[verdictName(static_cast<int>(v))] = sum;
  }
  return out;
}

Status EbpfCapture::unload() {
  for (auto* l : links_) {
    bpf_link__unpin(l);
    bpf_link__destroy(l);
  }
  links_.clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.pin_dir, ec)) {
    // Links (ours, pods') and maps: every pin here is Ambit's.
    fs::remove(e.path(), ec);
  }
  skel_.reset();
  fs::remove(options_.pin_dir, ec);
  if (ec) return makeError(ErrorCode::kUnavailable, "removing {}: {}", options_.pin_dir, ec.message());
  return {};
}

int EbpfCapture::mapFd(const char* name) const {
  auto* m = bpf_object__find_map_by_name(skel_->sk_lookup->obj, name);
  return m ? bpf_map__fd(m) : -1;
}

int EbpfCapture::programFd(const char* name) const {
  for (bpf_object* obj : {skel_->connect->obj, skel_->sockops->obj, skel_->getsockopt->obj, skel_->getpeername->obj,
                          skel_->sk_lookup->obj}) {
    if (auto* p = bpf_object__find_program_by_name(obj, name)) return bpf_program__fd(p);
  }
  return -1;
}

}  // namespace ambit::agent
