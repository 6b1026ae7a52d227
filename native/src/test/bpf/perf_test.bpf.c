// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test program for the native perf reader: each getpid() of one chosen thread writes a sample into
 * the perf event array `events` on the current CPU, and counts the outcome in `outputs`.
 * Attaches to the raw tracepoint sys_enter, as ringbuf_test.bpf.c does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "perf_test.h"

#if defined(__TARGET_ARCH_x86)
#define NR_getpid 39
#elif defined(__TARGET_ARCH_arm64)
#define NR_getpid 172
#else
#error "define NR_getpid for this architecture"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} outputs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct perf_test_config);
} settings SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int on_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct perf_test_config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (cfg->tid == 0 || tid != cfg->tid || ctx->args[1] != NR_getpid)
		return 0;

	struct perf_test_record r = {};
	r.seq = cfg->next_seq++; /* one thread triggers: no atomics needed */
	r.tid = tid;
	r.cpu = bpf_get_smp_processor_id();
	__builtin_memcpy(r.marker, PERF_TEST_MARKER, sizeof(r.marker));
	long rc = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &r, sizeof(r));

	__u32 index = rc == 0 ? PT_OUTPUT_OK : PT_OUTPUT_ERROR;
	__u64 *n = bpf_map_lookup_elem(&outputs, &index);
	if (n)
		(*n)++;
	return 0;
}
