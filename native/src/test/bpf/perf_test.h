/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sample perf_test.bpf.c writes; PerfTestProgram in the Java tests mirrors it. */
#ifndef PERF_TEST_H
#define PERF_TEST_H

#define PERF_TEST_MARKER "droptrace-perf-test-ok!" /* 23 chars + NUL = 24 bytes */

/* 40 bytes: the kernel pads the raw data to 44 (4 + 44 = 48), so a record takes 8 + 4 + 44 = 56
 * bytes, which does not divide a page: records regularly straddle the end of the data area. */
struct perf_test_record {
	__u64 seq;      /* 0, 1, 2... per trigger on the target thread */
	__u32 tid;
	__u32 cpu;
	char marker[24];
};

/* Value of the settings map at key 0, written by the test. */
struct perf_test_config {
	__u32 tid;      /* only this thread's getpid() calls are recorded; 0: none */
	__u32 pad;
	__u64 next_seq; /* advanced by the program */
};

/* Indexes of the per-CPU u64 array "outputs". */
enum perf_test_counter {
	PT_OUTPUT_OK = 0,    /* bpf_perf_event_output returned 0 */
	PT_OUTPUT_ERROR = 1, /* it failed: ring full (-ENOSPC) or no event installed for the CPU (-ENOENT) */
	PT_MAX = 2,
};

#endif
