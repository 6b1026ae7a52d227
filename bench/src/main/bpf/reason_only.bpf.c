// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The minimal reason-only drop tracer DESIGN.md section 7 measures droptrace's program against:
 * on tp_btf/kfree_skb it skips the same normal frees (reason <= NOT_SPECIFIED) and adds one to a
 * per-CPU counter for the reason, nothing else (no headers, no ring). bench/throughput.sh loads it
 * with bpftool for its "reason-only" phase. Compiled by bench/build-bpf.sh, not by the Maven build.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_REASONS 4096

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} reason_counts SEC(".maps");

SEC("tp_btf/kfree_skb")
int BPF_PROG(reason_only, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u32 r = (__u32)reason;
	if (r <= 2)
		return 0;
	if (r >= MAX_REASONS)
		r = MAX_REASONS - 1;
	__u64 *c = bpf_map_lookup_elem(&reason_counts, &r);
	if (c)
		*c += 1;
	return 0;
}
