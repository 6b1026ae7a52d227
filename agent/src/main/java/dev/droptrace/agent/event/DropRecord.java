package dev.droptrace.agent.event;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Flyweight over one 128-byte drop record (layout version 1, little-endian) in a {@link MemorySegment}.
 *
 * <p>{@link #wrap} points it at a record; getters and setters read and write the fields in place and
 * allocate nothing. One instance is meant to be reused for every record of a thread. Unsigned
 * 8/16-bit fields are returned as non-negative ints; unsigned 32-bit fields that can exceed
 * {@code Integer.MAX_VALUE} (netns, reason code) are returned as longs.
 *
 * <pre>
 * off size field            off size field
 * 0   2  version (=1)       56  4  cpu
 * 2   1  source             60  4  reason_code (u32)
 * 3   1  family (0, 4, 6)   64  8  ktime_ns
 * 4   1  protocol           72  8  wall_ns
 * 5   1  direction          80  8  location
 * 6   1  tcp_flags          88  4  count
 * 7   1  icmp_type          92  4  src_identity_id
 * 8   2  src_port           96  4  dst_identity_id
 * 10  2  dst_port           100 4  policy_id
 * 12  4  length             104 4  interface_id
 * 16  16 src_ip             108 4  location_id
 * 32  16 dst_ip             112 4  node_id
 * 48  4  ifindex            116 1  icmp_code
 * 52  4  netns (u32)        117 1  flags
 *                           118 2  kernel_reason_code (merged records)
 *                           120 4  detail_id
 *                           124 4  reserved
 * </pre>
 *
 * <p>Bytes 117-123 were reserved (zero) in the first records of layout 1, which therefore read as
 * "no flags, no kernel reason, no detail": the layout stays version 1.
 */
public final class DropRecord {
    public static final int SIZE = 128;
    /** Source of {@link #clear()}: a bulk copy, which (unlike a slice) allocates nothing. */
    private static final MemorySegment ZEROS = java.lang.foreign.Arena.global().allocate(SIZE);
    public static final int VERSION = 1;

    public static final int VERSION_OFFSET = 0;
    public static final int SOURCE_OFFSET = 2;
    public static final int FAMILY_OFFSET = 3;
    public static final int PROTOCOL_OFFSET = 4;
    public static final int DIRECTION_OFFSET = 5;
    public static final int TCP_FLAGS_OFFSET = 6;
    public static final int ICMP_TYPE_OFFSET = 7;
    public static final int SRC_PORT_OFFSET = 8;
    public static final int DST_PORT_OFFSET = 10;
    public static final int LENGTH_OFFSET = 12;
    public static final int SRC_IP_OFFSET = 16;
    public static final int DST_IP_OFFSET = 32;
    public static final int IP_SIZE = 16;
    public static final int IFINDEX_OFFSET = 48;
    public static final int NETNS_OFFSET = 52;
    public static final int CPU_OFFSET = 56;
    public static final int REASON_CODE_OFFSET = 60;
    public static final int KTIME_NS_OFFSET = 64;
    public static final int WALL_NS_OFFSET = 72;
    public static final int LOCATION_OFFSET = 80;
    public static final int COUNT_OFFSET = 88;
    public static final int SRC_IDENTITY_ID_OFFSET = 92;
    public static final int DST_IDENTITY_ID_OFFSET = 96;
    public static final int POLICY_ID_OFFSET = 100;
    public static final int INTERFACE_ID_OFFSET = 104;
    public static final int LOCATION_ID_OFFSET = 108;
    public static final int NODE_ID_OFFSET = 112;
    public static final int ICMP_CODE_OFFSET = 116;
    public static final int FLAGS_OFFSET = 117;
    public static final int KERNEL_REASON_CODE_OFFSET = 118;
    public static final int DETAIL_ID_OFFSET = 120;
    public static final int RESERVED_OFFSET = 124;
    public static final int RESERVED_SIZE = 4;

    /** Flag: the kernel's kfree_skb record of the same packet was merged into this CNI event. */
    public static final int FLAG_KERNEL_SEEN = 1;

    public static final int FAMILY_UNKNOWN = 0;
    public static final int FAMILY_IPV4 = 4;
    public static final int FAMILY_IPV6 = 6;

    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment segment;
    private long offset;

    /** Points this flyweight at the record starting at {@code offset}; returns this. */
    public DropRecord wrap(MemorySegment segment, long offset) {
        this.segment = segment;
        this.offset = offset;
        return this;
    }

    public MemorySegment segment() {
        return segment;
    }

    public long offset() {
        return offset;
    }

    /** Zeroes the whole record, then sets version=1 and count=1. */
    public DropRecord clear() {
        // 16 long stores, not asSlice(..).fill(): a slice is an object, and where the JIT cannot
        // scalar-replace it (a call site that has seen heap and native segments) it allocates per event
        MemorySegment.copy(ZEROS, 0, segment, offset, SIZE);
        version(VERSION);
        count(1);
        return this;
    }

    // ---- private accessors -------------------------------------------------------------------
    private int u8(int off) {
        return segment.get(U8, offset + off) & 0xff;
    }

    private void u8(int off, int v) {
        segment.set(U8, offset + off, (byte) v);
    }

    private int u16(int off) {
        return segment.get(U16, offset + off) & 0xffff;
    }

    private void u16(int off, int v) {
        segment.set(U16, offset + off, (short) v);
    }

    private int i32(int off) {
        return segment.get(U32, offset + off);
    }

    private void i32(int off, int v) {
        segment.set(U32, offset + off, v);
    }

    private long i64(int off) {
        return segment.get(U64, offset + off);
    }

    private void i64(int off, long v) {
        segment.set(U64, offset + off, v);
    }

    // ---- fields --------------------------------------------------------------------------------
    public int version() { return u16(VERSION_OFFSET); }
    public DropRecord version(int v) { u16(VERSION_OFFSET, v); return this; }

    /** Source code (see {@link DropSource#code()}). */
    public int source() { return u8(SOURCE_OFFSET); }
    public DropRecord source(int v) { u8(SOURCE_OFFSET, v); return this; }
    public DropRecord source(DropSource v) { u8(SOURCE_OFFSET, v.code()); return this; }

    /** 0 unknown, 4 IPv4, 6 IPv6. */
    public int family() { return u8(FAMILY_OFFSET); }
    public DropRecord family(int v) { u8(FAMILY_OFFSET, v); return this; }

    public int protocol() { return u8(PROTOCOL_OFFSET); }
    public DropRecord protocol(int v) { u8(PROTOCOL_OFFSET, v); return this; }

    /** See {@link Direction#code()}. */
    public int direction() { return u8(DIRECTION_OFFSET); }
    public DropRecord direction(int v) { u8(DIRECTION_OFFSET, v); return this; }
    public DropRecord direction(Direction v) { u8(DIRECTION_OFFSET, v.code()); return this; }

    /** See {@link TcpFlags}. */
    public int tcpFlags() { return u8(TCP_FLAGS_OFFSET); }
    public DropRecord tcpFlags(int v) { u8(TCP_FLAGS_OFFSET, v); return this; }

    public int icmpType() { return u8(ICMP_TYPE_OFFSET); }
    public DropRecord icmpType(int v) { u8(ICMP_TYPE_OFFSET, v); return this; }

    public int icmpCode() { return u8(ICMP_CODE_OFFSET); }
    public DropRecord icmpCode(int v) { u8(ICMP_CODE_OFFSET, v); return this; }

    public int srcPort() { return u16(SRC_PORT_OFFSET); }
    public DropRecord srcPort(int v) { u16(SRC_PORT_OFFSET, v); return this; }

    public int dstPort() { return u16(DST_PORT_OFFSET); }
    public DropRecord dstPort(int v) { u16(DST_PORT_OFFSET, v); return this; }

    /** Packet length in bytes (u32). */
    public long length() { return Integer.toUnsignedLong(i32(LENGTH_OFFSET)); }
    public DropRecord length(long v) { i32(LENGTH_OFFSET, (int) v); return this; }

    public int ifindex() { return i32(IFINDEX_OFFSET); }
    public DropRecord ifindex(int v) { i32(IFINDEX_OFFSET, v); return this; }

    /** Network namespace inode (u32). */
    public long netns() { return Integer.toUnsignedLong(i32(NETNS_OFFSET)); }
    public DropRecord netns(long v) { i32(NETNS_OFFSET, (int) v); return this; }

    public int cpu() { return i32(CPU_OFFSET); }
    public DropRecord cpu(int v) { i32(CPU_OFFSET, v); return this; }

    /** Reason code (u32), interpreted per source. */
    public long reasonCode() { return Integer.toUnsignedLong(i32(REASON_CODE_OFFSET)); }
    public DropRecord reasonCode(long v) { i32(REASON_CODE_OFFSET, (int) v); return this; }

    /** Kernel monotonic time (ns). */
    public long ktimeNs() { return i64(KTIME_NS_OFFSET); }
    public DropRecord ktimeNs(long v) { i64(KTIME_NS_OFFSET, v); return this; }

    /** Wall-clock time, ns since the Unix epoch. */
    public long wallNs() { return i64(WALL_NS_OFFSET); }
    public DropRecord wallNs(long v) { i64(WALL_NS_OFFSET, v); return this; }

    /** Kernel address of the drop site; 0 if none. */
    public long location() { return i64(LOCATION_OFFSET); }
    public DropRecord location(long v) { i64(LOCATION_OFFSET, v); return this; }

    /** Repeat count, 1 unless aggregated (u32, stored as int). */
    public int count() { return i32(COUNT_OFFSET); }
    public DropRecord count(int v) { i32(COUNT_OFFSET, v); return this; }

    public int srcIdentityId() { return i32(SRC_IDENTITY_ID_OFFSET); }
    public DropRecord srcIdentityId(int v) { i32(SRC_IDENTITY_ID_OFFSET, v); return this; }

    public int dstIdentityId() { return i32(DST_IDENTITY_ID_OFFSET); }
    public DropRecord dstIdentityId(int v) { i32(DST_IDENTITY_ID_OFFSET, v); return this; }

    public int policyId() { return i32(POLICY_ID_OFFSET); }
    public DropRecord policyId(int v) { i32(POLICY_ID_OFFSET, v); return this; }

    public int interfaceId() { return i32(INTERFACE_ID_OFFSET); }
    public DropRecord interfaceId(int v) { i32(INTERFACE_ID_OFFSET, v); return this; }

    public int locationId() { return i32(LOCATION_ID_OFFSET); }
    public DropRecord locationId(int v) { i32(LOCATION_ID_OFFSET, v); return this; }

    public int nodeId() { return i32(NODE_ID_OFFSET); }
    public DropRecord nodeId(int v) { i32(NODE_ID_OFFSET, v); return this; }

    /** Bit set of {@code FLAG_*}. */
    public int flags() { return u8(FLAGS_OFFSET); }
    public DropRecord flags(int v) { u8(FLAGS_OFFSET, v); return this; }

    /** The kernel's drop reason of the same packet, on a CNI event merged with it (valid when {@link #FLAG_KERNEL_SEEN}). */
    public int kernelReasonCode() { return u16(KERNEL_REASON_CODE_OFFSET); }
    public DropRecord kernelReasonCode(int v) { u16(KERNEL_REASON_CODE_OFFSET, v); return this; }

    /** Dictionary id of the source-specific detail (DETAIL record, JSON; for Cilium the {@code cilium} object); 0 if none. */
    public int detailId() { return i32(DETAIL_ID_OFFSET); }
    public DropRecord detailId(int v) { i32(DETAIL_ID_OFFSET, v); return this; }

    // ---- addresses -----------------------------------------------------------------------------

    /** Sets an IPv4 source address given as a host-order int (0x0a000001 = 10.0.0.1); zeroes bytes 4-15. */
    public DropRecord srcIpv4(int address) { ipv4(SRC_IP_OFFSET, address); return this; }

    public DropRecord dstIpv4(int address) { ipv4(DST_IP_OFFSET, address); return this; }

    /** Copies a 4- or 16-byte network-order address into the source slot, zero-padding to 16 bytes. */
    public DropRecord srcIp(byte[] address) { ip(SRC_IP_OFFSET, address); return this; }

    public DropRecord dstIp(byte[] address) { ip(DST_IP_OFFSET, address); return this; }

    /** Copies the 16-byte source slot into {@code dst[dstOffset..+16)}. */
    /** Sets the source slot from 16 bytes at {@code srcOffset} of {@code src} (a kernel record), without allocating. */
    public DropRecord srcIp(MemorySegment src, long srcOffset) {
        copyIp(src, srcOffset, SRC_IP_OFFSET);
        return this;
    }

    /** Sets the destination slot from 16 bytes at {@code srcOffset} of {@code src}, without allocating. */
    public DropRecord dstIp(MemorySegment src, long srcOffset) {
        copyIp(src, srcOffset, DST_IP_OFFSET);
        return this;
    }

    /**
     * 16 bytes as two 8-byte moves (same byte order both ways, so the bytes are kept). Not
     * MemorySegment.copy: where a JVM has copied between heap and native segments, that call is not
     * inlined on the hot path and allocates per event.
     */
    private void copyIp(MemorySegment src, long srcOffset, int field) {
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + field, src.get(ValueLayout.JAVA_LONG_UNALIGNED, srcOffset));
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + field + 8, src.get(ValueLayout.JAVA_LONG_UNALIGNED, srcOffset + 8));
    }

    public void copySrcIp(byte[] dst, int dstOffset) {
        MemorySegment.copy(segment, U8, offset + SRC_IP_OFFSET, dst, dstOffset, IP_SIZE);
    }

    public void copyDstIp(byte[] dst, int dstOffset) {
        MemorySegment.copy(segment, U8, offset + DST_IP_OFFSET, dst, dstOffset, IP_SIZE);
    }

    /** The first four bytes of the source slot as a host-order int (IPv4 records). */
    public int srcIpv4() { return ipv4(SRC_IP_OFFSET); }

    public int dstIpv4() { return ipv4(DST_IP_OFFSET); }

    private void ipv4(int off, int address) {
        u8(off, address >>> 24);
        u8(off + 1, address >>> 16);
        u8(off + 2, address >>> 8);
        u8(off + 3, address);
        for (int i = 4; i < IP_SIZE; i++) {
            u8(off + i, 0);
        }
    }

    private int ipv4(int off) {
        return u8(off) << 24 | u8(off + 1) << 16 | u8(off + 2) << 8 | u8(off + 3);
    }

    private void ip(int off, byte[] address) {
        if (address.length != 4 && address.length != IP_SIZE) {
            throw new IllegalArgumentException("address must have 4 or 16 bytes, not " + address.length);
        }
        MemorySegment.copy(address, 0, segment, U8, offset + off, address.length);
        for (int i = address.length; i < IP_SIZE; i++) {
            u8(off + i, 0);
        }
    }
}
