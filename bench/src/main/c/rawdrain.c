// SPDX-License-Identifier: Apache-2.0
/*
 * rawdrain: the baseline consumer for the throughput harness. Loads the agent's own
 * kfree_skb.bpf.o with libbpf, sets the same wakeup watermark (ring size / 4) in `settings`,
 * attaches tp_btf/kfree_skb and drains the ring with ring_buffer__poll(rb, 10) and a callback that
 * only counts: the agent's drain interval (KernelDropSource.DRAIN_INTERVAL_MS). Stops after SECONDS or on SIGINT/SIGTERM, then
 * detaches, drains what is left and prints key=value lines: events counted, the program's counters
 * (seen, submitted, lost, summed over CPUs), its own CPU time (getrusage) and the program's run
 * count and run time (bpf_prog_info; zero unless kernel.bpf_stats_enabled is 1).
 *
 * With DST_IP and DST_PORT it also counts the records of that one flow (flow_events=), so drops
 * made elsewhere on the machine at the same time do not blur the comparison.
 *
 * RAWDRAIN_INTERVAL_MS in the environment changes the poll timeout (default 10 ms).
 *
 * usage: rawdrain KFREE_SKB_BPF_O [SECONDS (0: until a signal)] [DST_IP DST_PORT]
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct tally {
	unsigned long long events;
	unsigned long long flow_events;
	__u32 daddr; /* network order; 0: no flow filter */
	__u16 dport;
};

/* offsets in struct drop_event (bpf/src/main/bpf/kfree_skb.h) */
#define DE_FAMILY 42
#define DE_DPORT 46
#define DE_DADDR 72

static int count_record(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	const unsigned char *r = data;
	t->events++;
	if (t->daddr && size >= 104 && r[DE_FAMILY] == 4 && *(const __u16 *)(r + DE_DPORT) == t->dport &&
	    *(const __u32 *)(r + DE_DADDR) == t->daddr)
		t->flow_events++;
	return 0;
}

static unsigned long long counter_sum(int fd, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1];
	unsigned long long sum = 0;
	if (bpf_map_lookup_elem(fd, &idx, vals) != 0)
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s KFREE_SKB_BPF_O [SECONDS]\n", argv[0]);
		return 2;
	}
	double seconds = argc > 2 ? atof(argv[2]) : 0;
	struct tally tally = {0};
	if (argc > 4) {
		if (inet_pton(AF_INET, argv[3], &tally.daddr) != 1) {
			fprintf(stderr, "rawdrain: bad IPv4 address %s\n", argv[3]);
			return 2;
		}
		tally.dport = (__u16)atoi(argv[4]);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "rawdrain: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *classic = bpf_object__find_program_by_name(obj, "kfree_skb_classic");
	struct bpf_program *btf = bpf_object__find_program_by_name(obj, "kfree_skb_btf");
	if (!classic || !btf) {
		fprintf(stderr, "rawdrain: programs kfree_skb_btf/kfree_skb_classic not found\n");
		return 1;
	}
	bpf_program__set_autoload(classic, false);
	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "rawdrain: load: %s\n", strerror(-err));
		return 1;
	}
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	int settings = bpf_object__find_map_fd_by_name(obj, "settings");
	int counters = bpf_object__find_map_fd_by_name(obj, "counters");
	__u32 key = 0; /* DT_SET_WAKEUP_WATERMARK */
	__u64 watermark = bpf_map__max_entries(events) / 4;
	if (bpf_map_update_elem(settings, &key, &watermark, BPF_ANY) != 0) {
		fprintf(stderr, "rawdrain: settings: %s\n", strerror(errno));
		return 1;
	}
		struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(events), count_record, &tally, NULL);
	if (!rb) {
		fprintf(stderr, "rawdrain: ring_buffer__new: %s\n", strerror(errno));
		return 1;
	}
	struct bpf_link *link = bpf_program__attach(btf);
	if (!link) {
		fprintf(stderr, "rawdrain: attach tp_btf/kfree_skb: %s\n", strerror(errno));
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	const char *iv = getenv("RAWDRAIN_INTERVAL_MS");
	int interval_ms = iv && atoi(iv) > 0 ? atoi(iv) : 10;
	double end = seconds > 0 ? now() + seconds : 0;
	while (!stop && (end == 0 || now() < end)) {
		err = ring_buffer__poll(rb, interval_ms);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "rawdrain: ring_buffer__poll: %s\n", strerror(-err));
			break;
		}
	}
	/* the program's own run statistics (zero unless kernel.bpf_stats_enabled is 1) */
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(btf), &info, &info_len) != 0)
		memset(&info, 0, sizeof(info));
	bpf_link__destroy(link); /* first, so the last drain sees every record written */
	ring_buffer__consume(rb);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("run_cnt=%llu\nrun_time_ns=%llu\n", (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
	printf("events=%llu\nflow_events=%llu\nseen=%llu\nsubmitted=%llu\nlost=%llu\ncpu_user_s=%.3f\ncpu_sys_s=%.3f\nmaxrss_kb=%ld\n", tally.events, tally.flow_events,
	       counter_sum(counters, 0), counter_sum(counters, 1), counter_sum(counters, 2),
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
