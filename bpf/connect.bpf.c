// cgroup/connect4 and connect6: an enrolled pod's outbound TCP connect() goes
// to ztunnel's outbound listener in the same namespace (127.0.0.1 / ::1 :
// 15001); the address the app asked for is kept by socket cookie (sockops.bpf.c
// turns it into a 4-tuple record once the local port is known).
#include "maps.bpf.h"

static __always_inline int redirect(struct bpf_sock_addr* ctx, struct ambit_addr* orig, int v6) {
  if (ctx->protocol != IPPROTO_TCP) return 1;
  __u64 ns = bpf_get_netns_cookie(ctx);
  struct ambit_pod* pod = bpf_map_lookup_elem(&ambit_pods, &ns);
  if (!pod) {
    ambit_count(AMBIT_V_CONNECT_NOT_ENROLLED);
    return 1;
  }
  struct bpf_sock* sk = ctx->sk;
  if (sk && sk->mark == AMBIT_PROXY_MARK) {
    ambit_count(AMBIT_V_CONNECT_PROXY);
    return 1;
  }
  __u64 cookie = bpf_get_socket_cookie(ctx);
  if (bpf_map_update_elem(&ambit_orig_ck, &cookie, orig, BPF_ANY) != 0) {
    // Without the record the proxy could not tell where it was going: refuse
    // rather than let it through uncaptured.
    ambit_count(AMBIT_V_CONNECT_NO_RECORD);
    return 0;
  }
  if (v6) {
    ctx->user_ip6[0] = 0;
    ctx->user_ip6[1] = 0;
    ctx->user_ip6[2] = 0;
    ctx->user_ip6[3] = bpf_htonl(1);
  } else {
    ctx->user_ip4 = bpf_htonl(0x7f000001);
  }
  ctx->user_port = bpf_htons(pod->outbound_port);
  ambit_count(AMBIT_V_CONNECT_REDIRECTED);
  return 1;
}

SEC("cgroup/connect4")
int ambit_connect4(struct bpf_sock_addr* ctx) {
  __u32 dst = ctx->user_ip4;
  if ((bpf_ntohl(dst) >> 24) == 127) {
    ambit_count(AMBIT_V_CONNECT_LOCAL);
    return 1;
  }
  struct ambit_addr orig = {};
  orig.ip[0] = dst;
  orig.port = bpf_ntohs(ctx->user_port);
  orig.family = AF_INET;
  return redirect(ctx, &orig, 0);
}

SEC("cgroup/connect6")
int ambit_connect6(struct bpf_sock_addr* ctx) {
  struct ambit_addr orig = {};
  orig.ip[0] = ctx->user_ip6[0];
  orig.ip[1] = ctx->user_ip6[1];
  orig.ip[2] = ctx->user_ip6[2];
  orig.ip[3] = ctx->user_ip6[3];
  // ::1 and v4-mapped loopback stay local.
  if ((orig.ip[0] | orig.ip[1] | orig.ip[2]) == 0 && orig.ip[3] == bpf_htonl(1)) {
    ambit_count(AMBIT_V_CONNECT_LOCAL);
    return 1;
  }
  if (orig.ip[0] == 0 && orig.ip[1] == 0 && orig.ip[2] == bpf_htonl(0xffff) && (bpf_ntohl(orig.ip[3]) >> 24) == 127) {
    ambit_count(AMBIT_V_CONNECT_LOCAL);
    return 1;
  }
  orig.port = bpf_ntohs(ctx->user_port);
  orig.family = AF_INET6;
  return redirect(ctx, &orig, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
