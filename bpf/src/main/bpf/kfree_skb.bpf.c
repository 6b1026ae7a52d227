// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * droptrace kernel drop source: records of skbs freed with a real drop reason, aggregated per flow.
 *
 * Aggregation (when settings[DT_SET_AGGREGATE] != 0). The first drop of a flow is submitted to the
 * ring at once (count 1) and creates the flow's entry in the active flow table; later drops of the
 * flow only add 1 to the entry's count. Two flow tables (flows_a, flows_b) alternate as the active
 * one, chosen through the one-slot array of maps flow_tables. Once per interval user space
 *   1. copies the keys (with count 0) of the active table's flows into the inactive, empty table,
 *      so a flow that keeps dropping is not "first" again in the next interval;
 *   2. points flow_tables[0] at that table. Updating an array of maps from user space returns only
 *      after synchronize_rcu (kernel/bpf/syscall.c maybe_wait_bpf_programs), and every run of this
 *      program is inside rcu_read_lock, so when the update returns no run still holds a pointer
 *      into the old table;
 *   3. reads the old table, journals one record per flow with count > 0, and deletes its entries.
 * This program never deletes, and user space deletes only from a table no run can reach, so no
 * increment can land in a deleted entry: every drop is either in a ring record (or counted lost
 * when the ring is full) or in exactly one table's count, which is journaled exactly once.
 * A full table (or any failed insert) falls back to a record per drop, still exact.
 *
 * Two entry points share one body: tp_btf/kfree_skb (BTF-typed arguments) and the classic
 * tracepoint skb/kfree_skb, for kernels without BTF tracepoints. User space loads the one
 * that attaches and disables the other. The body takes a constant `direct`: with BTF-typed
 * arguments it reads kernel structs with plain loads, which the verifier allows on BTF pointers
 * and which cost a fraction of a bpf_probe_read_kernel call each (measured: the probe reads were
 * the largest part of this program's time per drop); the classic entry point has only an address
 * and reads through BPF_CORE_READ. Packet bytes are read with bpf_probe_read_kernel in both.
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
#define DT_FLOW_TABLE_SIZE 16384
#define EEXIST 17

/* A kernel field: a plain (CO-RE relocated) load when `direct`, else a BPF_CORE_READ. `direct` is a
 * constant in each inlined copy of the body, so only one side is compiled into each program. */
#define DT_READ(direct, plain, ...) ((direct) ? (plain) : BPF_CORE_READ(__VA_ARGS__))

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

/* Puts struct flow_key and flow_value into the object's BTF for the Java layout test. */
struct flow_value *const volatile flow_value_layout = 0;
struct flow_key *const volatile flow_key_layout = 0;

struct flow_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DT_FLOW_TABLE_SIZE);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
};

/* the two flow tables that alternate as the active one */
struct flow_table flows_a SEC(".maps"), flows_b SEC(".maps");

/* slot 0: the active flow table; switched by user space (see the top of this file) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_table);
} flow_tables SEC(".maps") = {
	.values = { [0] = &flows_a },
};

/* per-CPU scratch for the record being built (runs never nest on one CPU: the kernel skips a
 * recursive run of the same program and counts it as a miss) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_value);
} scratch SEC(".maps");

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

/* Bytes of an L4 header the record needs: TCP's flags are byte 13. */
#define DT_L4_BYTES 16

/* Ports, TCP flags or ICMP type and code from the first DT_L4_BYTES bytes of the L4 header. */
static __always_inline void parse_l4_bytes(struct drop_event *e, const __u8 *l4)
{
	switch (e->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		/* source and destination port lead all three headers */
		e->sport = ((__u16)l4[0] << 8) | l4[1];
		e->dport = ((__u16)l4[2] << 8) | l4[3];
		if (e->protocol == IPPROTO_TCP)
			e->tcp_flags = l4[13]; /* CWR..FIN */
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		e->icmp_type = l4[0];
		e->icmp_code = l4[1];
		break;
	}
}

/* The L4 fields from a header at a kernel address (after IPv4 options or IPv6 extension headers). */
static __always_inline void parse_l4(struct drop_event *e, unsigned char *l4)
{
	__u8 b[DT_L4_BYTES];
	if (bpf_probe_read_kernel(b, sizeof(b), l4))
		return;
	parse_l4_bytes(e, b);
}

/*
 * The common packet (IPv4 without options, IPv6 without extension headers) is read with one
 * bpf_probe_read_kernel of the L3 header and the first DT_L4_BYTES of L4; each call costs more than
 * the parsing. Bytes past a short packet's end come from the same skb head buffer and are only
 * looked at when the protocol says the header is there, as with a read per header.
 */
static __always_inline void parse_headers(struct drop_event *e, struct sk_buff *skb, const int direct)
{
	unsigned char *head = DT_READ(direct, skb->head, skb, head);
	__u16 nh = DT_READ(direct, skb->network_header, skb, network_header);
	__u16 proto = bpf_ntohs(DT_READ(direct, skb->protocol, skb, protocol));

	e->l3_proto = proto;
	if (nh == (__u16)~0U || !head)
		return;
	unsigned char *l3 = head + nh;

	if (proto == ETH_P_IP) {
		struct {
			struct iphdr ih;
			__u8 l4[DT_L4_BYTES];
		} pk;
		if (bpf_probe_read_kernel(&pk, sizeof(pk), l3) && bpf_probe_read_kernel(&pk.ih, sizeof(pk.ih), l3))
			return;
		if (pk.ih.version != 4)
			return;
		e->family = 4;
		e->protocol = pk.ih.protocol;
		__builtin_memcpy(e->saddr, &pk.ih.saddr, 4);
		__builtin_memcpy(e->daddr, &pk.ih.daddr, 4);
		/* later fragments carry no L4 header */
		if (pk.ih.frag_off & bpf_htons(0x1fff))
			return;
		if (pk.ih.ihl == 5)
			parse_l4_bytes(e, pk.l4);
		else
			parse_l4(e, l3 + pk.ih.ihl * 4);
	} else if (proto == ETH_P_IPV6) {
		struct {
			struct ipv6hdr ih;
			__u8 l4[DT_L4_BYTES];
		} pk;
		if (bpf_probe_read_kernel(&pk, sizeof(pk), l3) && bpf_probe_read_kernel(&pk.ih, sizeof(pk.ih), l3))
			return;
		if (pk.ih.version != 6)
			return;
		e->family = 6;
		__builtin_memcpy(e->saddr, &pk.ih.saddr, 16);
		__builtin_memcpy(e->daddr, &pk.ih.daddr, 16);
		__u8 next = pk.ih.nexthdr;
		if (next != NEXTHDR_HOP && next != NEXTHDR_ROUTING && next != NEXTHDR_DEST && next != NEXTHDR_FRAGMENT) {
			e->protocol = next;
			parse_l4_bytes(e, pk.l4);
			return;
		}
		unsigned char *p = l3 + sizeof(pk.ih);
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

static __always_inline __u32 netns_of(struct sk_buff *skb, struct net_device *dev, const int direct)
{
	if (dev)
		return DT_READ(direct, dev->nd_net.net->ns.inum, dev, nd_net.net, ns.inum);
	struct sock *sk = DT_READ(direct, skb->sk, skb, sk);
	if (sk)
		return DT_READ(direct, sk->__sk_common.skc_net.net->ns.inum, sk, __sk_common.skc_net.net, ns.inum);
	return 0;
}

/* Submits a copy of the record to the ring, or counts it lost when the ring is full. */
static __always_inline void submit(struct drop_event *e)
{
	/* Wake the reader only when the ring fills past the watermark; otherwise it drains on a timer.
	 * A wakeup per record costs the dropping CPU more than the program itself. */
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 key = DT_SET_WAKEUP_WATERMARK;
	__u64 *watermark = bpf_map_lookup_elem(&settings, &key);
	if (watermark && *watermark && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= *watermark)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags)) {
		count(DT_CNT_LOST);
		return;
	}
	count(DT_CNT_SUBMITTED);
}

static __always_inline int aggregating(void)
{
	__u32 key = DT_SET_AGGREGATE;
	__u64 *interval = bpf_map_lookup_elem(&settings, &key);
	return interval && *interval;
}

static __always_inline int handle_drop(struct sk_buff *skb, void *location, __u32 reason, const int direct)
{
	/* NOT_DROPPED_YET (0), CONSUMED (1): normal frees; NOT_SPECIFIED (2): no reason given */
	if (reason <= 2)
		return 0;
	count(DT_CNT_SEEN);
	count_reason(reason);

	__u32 zero = 0;
	struct flow_value *fv = bpf_map_lookup_elem(&scratch, &zero);
	if (!fv) { /* cannot happen (array slot 0); still counted */
		count(DT_CNT_LOST);
		return 0;
	}
	struct drop_event *e = &fv->first;
	__builtin_memset(fv, 0, sizeof(*fv));
	e->ktime_ns = bpf_ktime_get_ns();
	e->location = (__u64)location;
	e->reason = reason;
	e->cpu = bpf_get_smp_processor_id();
	e->count = 1;
	e->length = DT_READ(direct, skb->len, skb, len);

	/* a received packet carries the index of the device it came in on; one made here has none */
	e->direction = DT_READ(direct, skb->skb_iif, skb, skb_iif) ? 1 : 2;

	struct net_device *dev = DT_READ(direct, skb->dev, skb, dev);
	if (dev) {
		e->ifindex = DT_READ(direct, dev->ifindex, dev, ifindex);
		if (direct) {
			/* IFNAMSIZ bytes as two loads; what follows the NUL is ignored by the reader */
			__builtin_memcpy(e->ifname, dev->name, sizeof(e->ifname));
		} else {
			bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), &dev->name);
		}
	}
	e->netns = netns_of(skb, dev, direct);
	parse_headers(e, skb, direct);

	if (!aggregating()) {
		submit(e);
		return 0;
	}
	void *table = bpf_map_lookup_elem(&flow_tables, &zero);
	if (!table) {
		count(DT_CNT_FLOW_FULL);
		submit(e);
		return 0;
	}
	struct flow_key k;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.saddr, e->saddr, 16);
	__builtin_memcpy(k.daddr, e->daddr, 16);
	k.sport = e->sport;
	k.dport = e->dport;
	k.family = e->family;
	k.protocol = e->protocol;
	k.reason = e->reason;
	k.netns = e->netns;
	k.ifindex = e->ifindex;

	struct flow_value *v = bpf_map_lookup_elem(table, &k);
	if (!v) {
		fv->last_ktime_ns = e->ktime_ns;
		long rc = bpf_map_update_elem(table, &k, fv, BPF_NOEXIST);
		if (rc == 0) {
			submit(e); /* the first drop of the flow: a record at once */
			return 0;
		}
		if (rc == -EEXIST) /* another CPU created it first: count there */
			v = bpf_map_lookup_elem(table, &k);
		if (!v) {
			/* full (or the insert failed otherwise): one record per drop, still exact */
			count(DT_CNT_FLOW_FULL);
			submit(e);
			return 0;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	v->last_ktime_ns = e->ktime_ns; /* racy between CPUs, only a time stamp */
	count(DT_CNT_AGGREGATED);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(kfree_skb_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return handle_drop(skb, location, (__u32)reason, 1);
}

SEC("tracepoint/skb/kfree_skb")
int kfree_skb_classic(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)BPF_CORE_READ(ctx, skbaddr);
	void *location = BPF_CORE_READ(ctx, location);
	__u32 reason = 0;
	if (bpf_core_field_exists(ctx->reason))
		reason = BPF_CORE_READ(ctx, reason);
	return handle_drop(skb, location, reason, 0);
}
