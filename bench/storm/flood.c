// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One UDP flow at full rate: sendmmsg batches of 64 small datagrams from one fixed source port to
 * one destination, for a number of seconds. Used by bench/storm/storm.sh (run it inside a network
 * namespace whose peer drops the port). Prints the datagrams sent.
 *
 *   flood DST_IPV4 DST_PORT SRC_PORT SECONDS
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

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s DST_IPV4 DST_PORT SRC_PORT SECONDS\n", argv[0]);
		return 2;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "flood: bad address %s\n", argv[1]);
		return 2;
	}
	double seconds = atof(argv[4]);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) || connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		perror("flood: socket");
		return 1;
	}
	char payload[32] = "droptrace storm";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0;
	double end = now() + seconds;
	unsigned int loops = 0;
	for (;;) {
		if ((++loops & 63) == 0 && now() >= end)
			break;
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
				continue;
			perror("flood: sendmmsg");
			return 1;
		}
		sent += n;
	}
	printf("%llu\n", sent);
	return 0;
}
