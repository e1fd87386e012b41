// sockops: when a redirected connection sends its SYN (the local port is known
// by then), its original destination is filed under the connection's 4-tuple,
// which the proxy can name from the socket it accepts.
#include "maps.bpf.h"

SEC("sockops")
int ambit_sockops(struct bpf_sock_ops* skops) {
  if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB) return 1;
  __u64 cookie = bpf_get_socket_cookie(skops);
  struct ambit_addr* orig = bpf_map_lookup_elem(&ambit_orig_ck, &cookie);
  if (!orig) return 1;
  struct ambit_tuple key = {};
  key.netns_cookie = bpf_get_netns_cookie(skops);
  key.local.family = key.remote.family = (__u16)skops->family;
  if (skops->family == AF_INET) {
    key.local.ip[0] = skops->local_ip4;
    key.remote.ip[0] = skops->remote_ip4;
  } else {
    key.local.ip[0] = skops->local_ip6[0];
    key.local.ip[1] = skops->local_ip6[1];
    key.local.ip[2] = skops->local_ip6[2];
    key.local.ip[3] = skops->local_ip6[3];
    key.remote.ip[0] = skops->remote_ip6[0];
    key.remote.ip[1] = skops->remote_ip6[1];
    key.remote.ip[2] = skops->remote_ip6[2];
    key.remote.ip[3] = skops->remote_ip6[3];
  }
  key.local.port = (__u16)skops->local_port;                 // host order
  // remote_port is the port in network order as a 32-bit value (the kernel
  // shifts it into the high half on little-endian): ntohl gives the port.
  key.remote.port = (__u16)bpf_ntohl(skops->remote_port);
  struct ambit_addr value = *orig;
  bpf_map_update_elem(&ambit_orig_tp, &key, &value, BPF_ANY);
  return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
