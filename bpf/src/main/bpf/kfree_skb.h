/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record the kfree_skb program hands to user space. The Java side
 * (dev.droptrace.agent.source.kernel.KernelDropRecord) mirrors this layout, and a
 * test checks every offset against the BTF of the compiled object.
 */
#ifndef DROPTRACE_KFREE_SKB_H
#define DROPTRACE_KFREE_SKB_H

#define DT_IFNAMSIZ 16

/* indexes of the per-CPU counter array "counters" */
enum dt_counter {
	DT_CNT_SEEN = 0,      /* kfree_skb calls with a real drop reason */
	DT_CNT_SUBMITTED = 1, /* records written to the ring */
	DT_CNT_LOST = 2,      /* records lost because the ring was full */
	DT_CNT_AGGREGATED = 3, /* drops added to a flow's count in the active flow table (no record) */
	DT_CNT_FLOW_FULL = 4, /* drops recorded one by one because the flow table was full */
	DT_CNT_MAX = 8,
};

/* indexes of the array "settings", written by user space after load */
enum dt_setting {
	DT_SET_WAKEUP_WATERMARK = 0, /* ring fill in bytes above which a submit wakes the reader; 0: never */
	DT_SET_AGGREGATE = 1,        /* nonzero: aggregate per flow (the flush interval in ns); 0: a record per drop */
	DT_SET_MAX = 4,
};

struct drop_event {
	__u64 ktime_ns;        /*  0: bpf_ktime_get_ns() at the drop */
	__u64 location;        /*  8: kernel address of the drop site */
	__u32 reason;          /* 16: enum skb_drop_reason (with subsystem bits) */
	__u32 netns;           /* 20: inode of the network namespace of the device or socket */
	__u32 ifindex;         /* 24: skb->dev->ifindex, 0 without a device */
	__u32 length;          /* 28: skb->len */
	__u32 cpu;             /* 32 */
	__u32 count;           /* 36: drops this record stands for (1 unless aggregated) */
	__u16 l3_proto;        /* 40: ETH_P_* in host order */
	__u8 family;           /* 42: 4, 6, or 0 when the headers could not be parsed */
	__u8 protocol;         /* 43: IPPROTO_* */
	__u16 sport;           /* 44: host order; ICMP: 0 */
	__u16 dport;           /* 46: host order; ICMP: 0 */
	__u8 tcp_flags;        /* 48: FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80 */
	__u8 icmp_type;        /* 49 */
	__u8 icmp_code;        /* 50 */
	__u8 direction;        /* 51: 1 ingress (received: skb_iif set), 2 egress (sent from this netns) */
	__u32 pad1;            /* 52 */
	__u8 saddr[16];        /* 56: IPv4 in the first 4 bytes, network order */
	__u8 daddr[16];        /* 72 */
	char ifname[DT_IFNAMSIZ]; /* 88 */
};                          /* 104 */

/*
 * Per-flow aggregation. A flow is (addresses, ports, family, protocol, reason, netns, ifindex).
 * The key of the flow tables; all padding is explicit and zeroed, so equal flows hash equally.
 */
struct flow_key {
	__u8 saddr[16];        /*  0 */
	__u8 daddr[16];        /* 16 */
	__u16 sport;           /* 32 */
	__u16 dport;           /* 34 */
	__u8 family;           /* 36 */
	__u8 protocol;         /* 37 */
	__u16 pad0;            /* 38 */
	__u32 reason;          /* 40 */
	__u32 netns;           /* 44 */
	__u32 ifindex;         /* 48 */
	__u32 pad1;            /* 52 */
};                          /* 56 */

/* The value of a flow table: drops counted since the table became active, and the flow's first record. */
struct flow_value {
	__u64 count;           /*  0: drops added while this table was active (atomic add) */
	__u64 last_ktime_ns;   /*  8: bpf_ktime_get_ns() of the latest counted drop */
	struct drop_event first; /* 16: the record of the drop that created the entry */
};                          /* 120 */

#endif
