/* The maps every program shares. Each object declares them; all are pinned
 * by name, so objects loaded with the same pin directory share one set. */
#ifndef AMBIT_MAPS_BPF_H
#define AMBIT_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "abi.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, AMBIT_MAX_PODS);
  __type(key, __u64);
  __type(value, struct ambit_pod);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_pods SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, AMBIT_MAX_FLOWS);
  __type(key, __u64);
  __type(value, struct ambit_addr);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_orig_ck SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, AMBIT_MAX_FLOWS);
  __type(key, struct ambit_tuple);
  __type(value, struct ambit_addr);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_orig_tp SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, AMBIT_MAX_PODS * 2);
  __type(key, struct ambit_addr);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_pod_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, AMBIT_MAX_PODS * 2);
  __type(key, struct ambit_inbound_key);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_inbound SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, AMBIT_V_MAX);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ambit_verdicts SEC(".maps");

/* Addresses are copied out of contexts field by field in each program, on
 * purpose: a shared helper or macro indexing a context array let clang form
 * a pointer into the context, which the verifier refuses ("dereference of
 * modified ctx ptr"). */

static __always_inline void ambit_count(__u32 verdict) {
  __u64* n = bpf_map_lookup_elem(&ambit_verdicts, &verdict);
  if (n) *n += 1;
}

#endif
