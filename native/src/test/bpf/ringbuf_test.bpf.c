// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test program for the native module: each getpid() of one chosen thread writes a record into
 * the ring buffer `rb` and counts a hit in the per-CPU array `hits`.
 *
 * It attaches to the raw tracepoint sys_enter, which needs no tracefs mount (a classic
 * tracepoint/syscalls/... program does), and filters on the syscall number.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ringbuf_test.h"

#if defined(__TARGET_ARCH_x86)
#define NR_getpid 39
#elif defined(__TARGET_ARCH_arm64)
#define NR_getpid 172
#else
#error "define NR_getpid for this architecture"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ringbuf_test_config);
} settings SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int on_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct ringbuf_test_config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (cfg->tid == 0 || tid != cfg->tid || ctx->args[1] != NR_getpid)
		return 0;

	struct ringbuf_test_record r = {};
	r.seq = cfg->next_seq++; /* one thread triggers: no atomics needed */
	r.tid = tid;
	r.cpu = bpf_get_smp_processor_id();
	__builtin_memcpy(r.marker, RINGBUF_TEST_MARKER, sizeof(r.marker));
	bpf_ringbuf_output(&rb, &r, sizeof(r), 0);

	__u64 *hit = bpf_map_lookup_elem(&hits, &zero);
	if (hit)
		(*hit)++;
	return 0;
}

/*
 * Rejected by the verifier on purpose: reads 8 bytes past the end of an 8-byte map value. The
 * '?' makes libbpf leave it out of a load unless a test turns its autoload on. (A missing NULL
 * check is no longer a sure rejection: recent verifiers know that an array lookup with a
 * constant in-range key cannot return NULL.)
 */
SEC("?raw_tracepoint/sys_enter")
int rejected_by_verifier(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	volatile __u64 *hit = bpf_map_lookup_elem(&hits, &zero);
	if (!hit)
		return 0;
	return (int)hit[1];
}
