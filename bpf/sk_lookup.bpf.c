// sk_lookup (attached to each enrolled pod's namespace): inbound TCP for the
// pod's addresses goes to ztunnel's inbound plaintext socket (15006) in that
// pod, whatever the port, except HBONE (15008, ztunnel's own listener) and
// local traffic (loopback, or from the pod's own address). The accepted socket's local address is the
// original destination. A pod address without a proxy socket, and any address
// of the pod's that the agent did not list, is refused.
#include "maps.bpf.h"

#define SK_DROP 0
#define SK_PASS 1
#define LOOPBACK_IFINDEX 1
#define HBONE_PORT 15008 /* when the pod's entry is gone mid-release */

SEC("sk_lookup")
int ambit_sk_lookup(struct bpf_sk_lookup* ctx) {
  if (ctx->protocol != IPPROTO_TCP) return SK_PASS;
  // Local traffic is never inbound capture: it arrives on loopback, and its
  // source is the pod's own address (ztunnel dialling the app from inside the
  // pod). For a packet to a local address the kernel reports the interface
  // the address lives on, not lo, so the source is what tells; from outside,
  // a local source address is a martian the kernel drops before this.
  int local = ctx->ingress_ifindex == LOOPBACK_IFINDEX;
  if (ctx->family == AF_INET) {
    local = local || ctx->remote_ip4 == ctx->local_ip4;
  } else {
    local = local || (ctx->remote_ip6[0] == ctx->local_ip6[0] && ctx->remote_ip6[1] == ctx->local_ip6[1] &&
                      ctx->remote_ip6[2] == ctx->local_ip6[2] && ctx->remote_ip6[3] == ctx->local_ip6[3]);
  }
  if (local) {
    ambit_count(AMBIT_V_INBOUND_EXEMPT);
    return SK_PASS;
  }
  struct ambit_addr key = {};
  key.family = (__u16)ctx->family;
  if (ctx->family == AF_INET) {
    key.ip[0] = ctx->local_ip4;
  } else {
    key.ip[0] = ctx->local_ip6[0];
    key.ip[1] = ctx->local_ip6[1];
    key.ip[2] = ctx->local_ip6[2];
    key.ip[3] = ctx->local_ip6[3];
  }
  __u64* cookie = bpf_map_lookup_elem(&ambit_pod_addrs, &key);
  if (!cookie) {
    // This program runs only in enrolled pods' namespaces: TCP to an address
    // the agent did not list (IPv6 link-local, a secondary address) must not
    // reach the app around the proxy.
    ambit_count(AMBIT_V_INBOUND_NOT_POD);
    return SK_DROP;
  }
  // HBONE goes to ztunnel's own listener (the pod's configured port).
  struct ambit_pod* pod = bpf_map_lookup_elem(&ambit_pods, cookie);
  __u32 hbone = pod ? pod->hbone_port : HBONE_PORT;
  if (ctx->local_port == hbone) {
    ambit_count(AMBIT_V_INBOUND_EXEMPT);
    return SK_PASS;
  }
  struct ambit_inbound_key ik = {};
  ik.netns_cookie = *cookie;
  ik.family = ctx->family;
  struct bpf_sock* sk = bpf_map_lookup_elem(&ambit_inbound, &ik);
  if (!sk) {
    ambit_count(AMBIT_V_INBOUND_NO_PROXY);
    return SK_DROP;  // fail closed: never to the app uncaptured
  }
  long err = bpf_sk_assign(ctx, sk, 0);
  bpf_sk_release(sk);
  if (err) {
    ambit_count(AMBIT_V_INBOUND_NO_PROXY);
    return SK_DROP;
  }
  ambit_count(AMBIT_V_INBOUND_STEERED);
  return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
