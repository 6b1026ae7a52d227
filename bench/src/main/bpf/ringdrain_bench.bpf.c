// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Producer for RingDrainBenchmark: each getpid() of the one thread named in `settings` writes
 * `records` records of 104 bytes (the size of struct drop_event) into the ring `rb` with bpf_loop,
 * submitted with BPF_RB_NO_WAKEUP as the kfree_skb program does. Records that find the ring full
 * are counted in `lost`. Compiled by bench/build-bpf.sh at benchmark time, not by the Maven build.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#if defined(__TARGET_ARCH_x86)
#define NR_getpid 39
#elif defined(__TARGET_ARCH_arm64)
#define NR_getpid 172
#else
#error "define NR_getpid for this architecture"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct bench_record {
	__u64 seq;
	__u64 ktime_ns;
	__u32 index;
	__u32 pad;
	__u8 body[80];
}; /* 104 bytes, like struct drop_event */

struct bench_config {
	__u32 tid;     /* the triggering thread */
	__u32 records; /* records per getpid() */
	__u64 next_seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static long emit(__u32 i, void *ctx)
{
	__u32 zero = 0;
	struct bench_config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg)
		return 1;
	struct bench_record *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		__u64 *l = bpf_map_lookup_elem(&lost, &zero);
		if (l)
			*l += 1;
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->seq = cfg->next_seq++;
	r->ktime_ns = bpf_ktime_get_ns();
	r->index = i;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int on_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct bench_config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || cfg->tid == 0 || (__u32)bpf_get_current_pid_tgid() != cfg->tid || ctx->args[1] != NR_getpid)
		return 0;
	bpf_loop(cfg->records, emit, NULL, 0);
	return 0;
}
