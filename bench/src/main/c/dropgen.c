// SPDX-License-Identifier: Apache-2.0
/*
 * dropgen: sends UDP datagrams to IP:PORT as fast as one thread can, in sendmmsg batches, for a
 * number of seconds, and prints how many the kernel accepted. Run it inside the sending network
 * namespace (ip netns exec NS ./dropgen 10.230.1.2 9999 10); the receiving namespace drops the port
 * with an iptables rule, so every datagram becomes one kfree_skb with a real drop reason.
 *
 * usage: dropgen IP PORT SECONDS [PAYLOAD_BYTES (default 64)] [BATCH (default 64)] [SRC_PORT (default: any)]
 *
 * A fixed SRC_PORT makes the flood one known flow (bench/storm/storm.sh looks it up in the journal).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s IP PORT SECONDS [PAYLOAD_BYTES] [BATCH] [SRC_PORT]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "dropgen: bad IPv4 address %s\n", argv[1]);
		return 2;
	}
	double seconds = atof(argv[3]);
	int payload = argc > 4 ? atoi(argv[4]) : 64;
	int batch = argc > 5 ? atoi(argv[5]) : 64;
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons((unsigned short)(argc > 6 ? atoi(argv[6]) : 0))};
	if (payload < 0 || payload > 1400 || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "dropgen: payload must be 0..1400 and batch 1..%d\n", MAX_BATCH);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
		perror("dropgen: socket/bind/connect");
		return 1;
	}
	static char buf[1400];
	memset(buf, 'd', sizeof(buf));
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	for (int i = 0; i < batch; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = payload;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0, errors = 0;
	double start = now(), end = start + seconds, t = start;
	unsigned int loops = 0;
	while (t < end) {
		int n = sendmmsg(fd, msgs, batch, 0);
		if (n > 0)
			sent += n;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
			errors++;
		if ((++loops & 15) == 0)
			t = now();
	}
	t = now();
	printf("sent=%llu seconds=%.3f rate=%.0f errors=%llu\n", sent, t - start, sent / (t - start), errors);
	close(fd);
	return 0;
}
