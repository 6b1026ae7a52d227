// SPDX-License-Identifier: Apache-2.0
/*
 * reasononly: loads bench/target/bpf/reason_only.bpf.o (the minimal reason-only tracer), attaches
 * it to tp_btf/kfree_skb, prints "attached", and on SIGINT/SIGTERM detaches and prints key=value
 * lines: drops counted (summed over reasons and CPUs) and, when kernel.bpf_stats_enabled is 1, the
 * program's run count and run time. The throughput harness's reference phase.
 *
 * usage: reasononly REASON_ONLY_BPF_O
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_REASONS 4096

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s REASON_ONLY_BPF_O\n", argv[0]);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "reasononly: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "reasononly: load: %s\n", strerror(-err));
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "reason_only");
	struct bpf_link *link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		fprintf(stderr, "reasononly: attach tp_btf/kfree_skb: %s\n", strerror(errno));
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
		memset(&info, 0, sizeof(info));
	bpf_link__destroy(link);
	int fd = bpf_object__find_map_fd_by_name(obj, "reason_counts");
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1];
	unsigned long long drops = 0;
	for (__u32 r = 0; r < MAX_REASONS; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals) != 0)
			continue;
		for (int i = 0; i < ncpu; i++)
			drops += vals[i];
	}
	printf("seen=%llu\nrun_cnt=%llu\nrun_time_ns=%llu\n", drops, (unsigned long long)info.run_cnt,
	       (unsigned long long)info.run_time_ns);
	bpf_object__close(obj);
	return 0;
}
