// cgroup/getsockopt: answers SO_ORIGINAL_DST (IPv4) and IP6T_SO_ORIGINAL_DST
// (IPv6) on the proxy's accepted socket from the 4-tuple record, so ztunnel
// asks the same question with eBPF capture as with iptables REDIRECT.
#include "maps.bpf.h"

#define SOL_IP 0
#define SOL_IPV6 41
#define SO_ORIGINAL_DST 80

struct sockaddr_in_ {
  __u16 family;
  __u16 port; /* network order */
  __u32 addr;
  __u8 zero[8];
};

struct sockaddr_in6_ {
  __u16 family;
  __u16 port;
  __u32 flowinfo;
  __u32 addr[4];
  __u32 scope_id;
};

SEC("cgroup/getsockopt")
int ambit_getsockopt(struct bpf_sockopt* ctx) {
  if (ctx->optname != SO_ORIGINAL_DST || (ctx->level != SOL_IP && ctx->level != SOL_IPV6)) return 1;
  struct bpf_sock* sk = ctx->sk;
  if (!sk) return 1;
  // The client's view of the connection: its local end is our peer.
  struct ambit_tuple key = {};
  key.netns_cookie = bpf_get_netns_cookie(ctx);
  key.local.family = key.remote.family = (__u16)sk->family;
  if (sk->family == AF_INET) {
    key.local.ip[0] = sk->dst_ip4;
    key.remote.ip[0] = sk->src_ip4;
  } else {
    key.local.ip[0] = sk->dst_ip6[0];
    key.local.ip[1] = sk->dst_ip6[1];
    key.local.ip[2] = sk->dst_ip6[2];
    key.local.ip[3] = sk->dst_ip6[3];
    key.remote.ip[0] = sk->src_ip6[0];
    key.remote.ip[1] = sk->src_ip6[1];
    key.remote.ip[2] = sk->src_ip6[2];
    key.remote.ip[3] = sk->src_ip6[3];
  }
  key.local.port = bpf_ntohs((__u16)sk->dst_port);
  key.remote.port = (__u16)sk->src_port;
  struct ambit_addr* orig = bpf_map_lookup_elem(&ambit_orig_tp, &key);
  if (!orig) {
    ambit_count(AMBIT_V_ORIGDST_MISS);
    return 1;  // the kernel's own answer stands (iptables, or ENOENT)
  }
  void* optval = ctx->optval;
  void* end = ctx->optval_end;
  if (ctx->level == SOL_IP && orig->family == AF_INET) {
    struct sockaddr_in_* sa = optval;
    if ((void*)(sa + 1) > end) return 1;
    sa->family = AF_INET;
    sa->port = bpf_htons(orig->port);
    sa->addr = orig->ip[0];
    __builtin_memset(sa->zero, 0, sizeof(sa->zero));
    ctx->optlen = sizeof(*sa);
  } else if (ctx->level == SOL_IPV6 && orig->family == AF_INET6) {
    struct sockaddr_in6_* sa = optval;
    if ((void*)(sa + 1) > end) return 1;
    sa->family = AF_INET6;
    sa->port = bpf_htons(orig->port);
    sa->flowinfo = 0;
    sa->addr[0] = orig->ip[0];
    sa->addr[1] = orig->ip[1];
    sa->addr[2] = orig->ip[2];
    sa->addr[3] = orig->ip[3];
    sa->scope_id = 0;
    ctx->optlen = sizeof(*sa);
  } else {
    return 1;
  }
  ctx->retval = 0;
  ambit_count(AMBIT_V_ORIGDST_ANSWERED);
  return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
