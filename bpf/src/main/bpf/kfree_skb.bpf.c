// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * droptrace kernel drop source: one record per skb freed with a real drop reason.
 *
 * Two entry points share one body: tp_btf/kfree_skb (BTF-typed arguments) and the classic
 * tracepoint skb/kfree_skb, for kernels without BTF tracepoints. User space loads the one
 * that attaches and disables the other.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "kfree_skb.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define MAX_REASONS 4096
#define IPPROTO_ICMPV6 58

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings written by user space after load, indexed by enum dt_setting. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DT_SET_MAX);
	__type(key, __u32);
	__type(value, __u64);
} settings SEC(".maps");

/* Puts struct drop_event into the object's BTF, so a test can check the Java layout against it. */
struct drop_event *const volatile drop_event_layout = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* per-CPU counters indexed by enum dt_counter */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* per-CPU drop count per reason code (subsystem reasons included), exact even when records are lost */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} reasons SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline void count_reason(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&reasons, &reason);
	if (v) {
		*v += 1;
		return;
	}
	__u64 one = 1;
	/* BPF_NOEXIST loses no count on a race: the loser retries the lookup */
	if (bpf_map_update_elem(&reasons, &reason, &one, BPF_NOEXIST) != 0) {
		v = bpf_map_lookup_elem(&reasons, &reason);
		if (v)
			*v += 1;
	}
}

static __always_inline void parse_l4(struct drop_event *e, unsigned char *l4)
{
	switch (e->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr th;
		if (bpf_probe_read_kernel(&th, sizeof(th), l4))
			return;
		e->sport = bpf_ntohs(th.source);
		e->dport = bpf_ntohs(th.dest);
		/* byte 13 of the TCP header holds CWR..FIN */
		e->tcp_flags = ((__u8 *)&th)[13];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr uh;
		if (bpf_probe_read_kernel(&uh, sizeof(uh), l4))
			return;
		e->sport = bpf_ntohs(uh.source);
		e->dport = bpf_ntohs(uh.dest);
		break;
	}
	case IPPROTO_SCTP: {
		__be16 ports[2];
		if (bpf_probe_read_kernel(ports, sizeof(ports), l4))
			return;
		e->sport = bpf_ntohs(ports[0]);
		e->dport = bpf_ntohs(ports[1]);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 tc[2];
		if (bpf_probe_read_kernel(tc, sizeof(tc), l4))
			return;
		e->icmp_type = tc[0];
		e->icmp_code = tc[1];
		break;
	}
	}
}

static __always_inline void parse_headers(struct drop_event *e, struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));

	e->l3_proto = proto;
	if (nh == (__u16)~0U || !head)
		return;
	unsigned char *l3 = head + nh;

	if (proto == ETH_P_IP) {
		struct iphdr ih;
		if (bpf_probe_read_kernel(&ih, sizeof(ih), l3) || ih.version != 4)
			return;
		e->family = 4;
		e->protocol = ih.protocol;
		__builtin_memcpy(e->saddr, &ih.saddr, 4);
		__builtin_memcpy(e->daddr, &ih.daddr, 4);
		/* later fragments carry no L4 header */
		if (ih.frag_off & bpf_htons(0x1fff))
			return;
		parse_l4(e, l3 + ih.ihl * 4);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ih;
		if (bpf_probe_read_kernel(&ih, sizeof(ih), l3) || ih.version != 6)
			return;
		e->family = 6;
		__builtin_memcpy(e->saddr, &ih.saddr, 16);
		__builtin_memcpy(e->daddr, &ih.daddr, 16);
		__u8 next = ih.nexthdr;
		unsigned char *p = l3 + sizeof(ih);
		/* skip a bounded number of extension headers */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (next == NEXTHDR_HOP || next == NEXTHDR_ROUTING || next == NEXTHDR_DEST) {
				__u8 ext[2];
				if (bpf_probe_read_kernel(ext, sizeof(ext), p))
					return;
				next = ext[0];
				p += (ext[1] + 1) * 8;
			} else if (next == NEXTHDR_FRAGMENT) {
				__u8 frag[4];
				if (bpf_probe_read_kernel(frag, sizeof(frag), p))
					return;
				next = frag[0];
				p += 8;
				/* a non-first fragment has no L4 header */
				if (((frag[2] << 8) | frag[3]) & 0xfff8) {
					e->protocol = next;
					return;
				}
			} else {
				break;
			}
		}
		e->protocol = next;
		parse_l4(e, p);
	}
}

static __always_inline __u32 netns_of(struct sk_buff *skb, struct net_device *dev)
{
	if (dev)
		return BPF_CORE_READ(dev, nd_net.net, ns.inum);
	struct sock *sk = BPF_CORE_READ(skb, sk);
	if (sk)
		return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return 0;
}

static __always_inline int handle_drop(struct sk_buff *skb, void *location, __u32 reason)
{
	/* NOT_DROPPED_YET (0), CONSUMED (1): normal frees; NOT_SPECIFIED (2): no reason given */
	if (reason <= 2)
		return 0;
	count(DT_CNT_SEEN);
	count_reason(reason);

	struct drop_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(DT_CNT_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ktime_ns = bpf_ktime_get_ns();
	e->location = (__u64)location;
	e->reason = reason;
	e->cpu = bpf_get_smp_processor_id();
	e->count = 1;
	e->length = BPF_CORE_READ(skb, len);

	/* a received packet carries the index of the device it came in on; one made here has none */
	e->direction = BPF_CORE_READ(skb, skb_iif) ? 1 : 2;

	struct net_device *dev = BPF_CORE_READ(skb, dev);
	if (dev) {
		e->ifindex = BPF_CORE_READ(dev, ifindex);
		bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), &dev->name);
	}
	e->netns = netns_of(skb, dev);
	parse_headers(e, skb);

	/* Wake the reader only when the ring fills past the watermark; otherwise it drains on a timer.
	 * A wakeup per record costs the dropping CPU more than the program itself. */
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 key = DT_SET_WAKEUP_WATERMARK;
	__u64 *watermark = bpf_map_lookup_elem(&settings, &key);
	if (watermark && *watermark && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= *watermark)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	count(DT_CNT_SUBMITTED);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return handle_drop(skb, location, (__u32)reason);
}

SEC("tracepoint/skb/kfree_skb")
int kfree_skb_classic(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)BPF_CORE_READ(ctx, skbaddr);
	void *location = BPF_CORE_READ(ctx, location);
	__u32 reason = 0;
	if (bpf_core_field_exists(ctx->reason))
		reason = BPF_CORE_READ(ctx, reason);
	return handle_drop(skb, location, reason);
}
