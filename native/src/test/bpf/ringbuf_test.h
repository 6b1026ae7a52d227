/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The record ringbuf_test.bpf.c writes; RingbufTestRecord in the Java tests mirrors it. */
#ifndef RINGBUF_TEST_H
#define RINGBUF_TEST_H

#define RINGBUF_TEST_MARKER "droptrace-ringbuf-test!" /* 23 chars + NUL = 24 bytes */

/* 40 bytes: with the 8-byte header a record takes 48 bytes, which does not divide the ring's
 * size, so records regularly straddle the end of the data area (the wrap-around case). */
struct ringbuf_test_record {
	__u64 seq;      /* 0, 1, 2... per trigger on the target thread */
	__u32 tid;      /* the thread that triggered */
	__u32 cpu;
	char marker[24];
};

/* Value of the settings map at key 0, written by the test. */
struct ringbuf_test_config {
	__u32 tid;      /* only this thread's getpid() calls are recorded; 0: none */
	__u32 pad;
	__u64 next_seq; /* advanced by the program */
};

#endif
