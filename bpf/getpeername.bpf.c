// cgroup/getpeername4 and getpeername6: a redirected socket still shows the
// app the address it dialled, not the proxy's loopback listener.
#include "maps.bpf.h"

static __always_inline int rewrite(struct bpf_sock_addr* ctx, int v6) {
  __u64 cookie = bpf_get_socket_cookie(ctx);
  struct ambit_addr* orig = bpf_map_lookup_elem(&ambit_orig_ck, &cookie);
  if (!orig) return 1;
  if (v6 && orig->family == AF_INET6) {
    ctx->user_ip6[0] = orig->ip[0];
    ctx->user_ip6[1] = orig->ip[1];
    ctx->user_ip6[2] = orig->ip[2];
    ctx->user_ip6[3] = orig->ip[3];
  } else if (!v6 && orig->family == AF_INET) {
    ctx->user_ip4 = orig->ip[0];
  } else {
    return 1;
  }
  ctx->user_port = bpf_htons(orig->port);
  ambit_count(AMBIT_V_PEERNAME_REWRITTEN);
  return 1;
}

SEC("cgroup/getpeername4")
int ambit_getpeername4(struct bpf_sock_addr* ctx) { return rewrite(ctx, 0); }

SEC("cgroup/getpeername6")
int ambit_getpeername6(struct bpf_sock_addr* ctx) { return rewrite(ctx, 1); }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
