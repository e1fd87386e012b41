/* The contract between Ambit's eBPF programs (bpf/NAME.bpf.c) and user space
 * (the node agent, ztunnel, tests): map names, key and value layouts, verdict
 * codes, constants. Included by both BPF C (with vmlinux.h) and C++; the C++
 * side checks the layouts with static_asserts (agent/bpf_abi_check.cc). */
#ifndef AMBIT_BPF_ABI_H
#define AMBIT_BPF_ABI_H

#ifdef __BPF__
/* vmlinux.h defines __u8 .. __u64. */
#else
#include <linux/types.h>
#endif

/* ztunnel's own sockets carry this mark: capture lets them through. Equals
 * netns::kProxyMark in common/netns/netns.h. */
#define AMBIT_PROXY_MARK 0x539

/* Map names, as pinned under the agent's bpffs directory. */
#define AMBIT_MAP_PODS "ambit_pods"
#define AMBIT_MAP_ORIG_BY_COOKIE "ambit_orig_ck"
#define AMBIT_MAP_ORIG_BY_TUPLE "ambit_orig_tp"
#define AMBIT_MAP_INBOUND "ambit_inbound"
#define AMBIT_MAP_POD_ADDRS "ambit_pod_addrs"
#define AMBIT_MAP_VERDICTS "ambit_verdicts"

#define AMBIT_MAX_PODS 4096
#define AMBIT_MAX_FLOWS 65536

/* ambit_pods: enrolled pods' network namespaces. Key: the netns cookie
 * (__u64). Outbound TCP connects in an enrolled namespace are sent to
 * 127.0.0.1 / ::1 : outbound_port. */
struct ambit_pod {
  __u16 outbound_port; /* 15001 */
  __u16 inbound_port;  /* 15006 (documentation: sk_lookup uses ambit_inbound) */
  __u16 hbone_port;    /* 15008: never steered inbound */
  __u16 flags;
};

/* An address of either family: IPv4 in ip[0] (network order), the rest 0. */
struct ambit_addr {
  __u32 ip[4]; /* network order */
  __u16 port;  /* host order */
  __u16 family; /* AF_INET (2) or AF_INET6 (10) */
};

/* ambit_orig_tp: the original destination of a redirected connection, keyed
 * by its pod's netns cookie and the connection's 4-tuple as the client sees
 * it (local -> the proxy's 127.0.0.1:15001); the proxy looks it up from the
 * accepted socket's netns, peer and local address (or SO_ORIGINAL_DST,
 * answered from it by cgroup/getsockopt). */
struct ambit_tuple {
  __u64 netns_cookie; /* every pod's redirected connects look alike (127.0.0.1:eph -> :15001): the netns tells them apart */
  struct ambit_addr local;
  struct ambit_addr remote;
};

/* ambit_pod_addrs (HASH): key = an enrolled pod's address (struct ambit_addr,
 * port 0), value = the pod's netns cookie (__u64). Filled by the agent on
 * enrolment. */

/* ambit_inbound (SOCKHASH): key = {netns cookie, family}, value = ztunnel's
 * inbound plaintext (15006) listening socket of that family in that pod, put
 * there by ztunnel when it opens the pod's listeners (the kernel drops the
 * entry when the socket closes). A pod address whose namespace has no socket
 * (ztunnel gone) is refused, never passed to the app. */
struct ambit_inbound_key {
  __u64 netns_cookie;
  __u32 family; /* AF_INET or AF_INET6 */
  __u32 pad;    /* 0 */
};

/* Per-CPU counters (ambit_verdicts, PERCPU_ARRAY indexed by verdict). */
enum ambit_verdict {
  AMBIT_V_CONNECT_REDIRECTED = 0, /* connect rewritten to the outbound listener */
  AMBIT_V_CONNECT_NOT_ENROLLED,   /* namespace not enrolled: untouched */
  AMBIT_V_CONNECT_PROXY,          /* ztunnel's own socket (mark): untouched */
  AMBIT_V_CONNECT_LOCAL,          /* loopback destination: untouched */
  AMBIT_V_CONNECT_NO_RECORD,      /* original destination could not be recorded: refused */
  AMBIT_V_ORIGDST_ANSWERED,       /* SO_ORIGINAL_DST answered from ambit_orig_tp */
  AMBIT_V_ORIGDST_MISS,           /* SO_ORIGINAL_DST asked, nothing recorded */
  AMBIT_V_PEERNAME_REWRITTEN,     /* getpeername shows the address the app dialled */
  AMBIT_V_INBOUND_STEERED,        /* inbound TCP steered to the 15006 socket */
  AMBIT_V_INBOUND_NOT_POD,        /* not one of the pod's listed addresses: refused (fail closed) */
  AMBIT_V_INBOUND_EXEMPT,         /* HBONE port or loopback: untouched */
  AMBIT_V_INBOUND_NO_PROXY,       /* enrolled pod, no proxy socket: dropped (fail closed) */
  AMBIT_V_MAX
};

#endif
