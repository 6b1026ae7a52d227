package dev.droptrace.agent.event;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads an IPv4 or IPv6 header and the L4 header after it into a {@link DropRecord}, in place and
 * without allocating: family, addresses, protocol (after IPv6 extension headers), ports for TCP,
 * UDP and SCTP, TCP flags, ICMP type and code. Every source that captures packet bytes (Cilium's
 * notifications, NFLOG payloads) starts here once it has found the network header.
 */
public final class IpPacketParser {
    /** How far one parse got; the record holds everything read up to that point. */
    public enum Status {
        /** Addresses and, where the protocol has them, the L4 fields were read. */
        OK,
        /** The first byte is not an IPv4 or IPv6 version. */
        NOT_IP,
        /** The bytes end inside the IP header. */
        TRUNCATED_L3,
        /** The IP header is malformed (an IPv4 header length under 20 bytes). */
        BAD_L3,
        /** The bytes end inside the extension or L4 headers: addresses are set, some L4 fields are not. */
        TRUNCATED_L4,
        /** More IPv6 extension headers than are followed: addresses are set, ports are not. */
        TOO_MANY_EXTENSIONS
    }

    /** IPv6 extension headers followed before giving up. */
    public static final int MAX_EXTENSION_HEADERS = 8;

    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private IpPacketParser() {}

    /** Parses the bytes {@code [p, end)} of {@code seg}, which start at an IP header, into {@code out}. */
    public static Status parse(MemorySegment seg, long p, long end, DropRecord out) {
        if (p >= end) {
            return Status.TRUNCATED_L3;
        }
        return switch ((seg.get(U8, p) & 0xf0) >>> 4) {
            case 4 -> ipv4(seg, p, end, out);
            case 6 -> ipv6(seg, p, end, out);
            default -> Status.NOT_IP;
        };
    }

    private static Status ipv4(MemorySegment seg, long p, long end, DropRecord out) {
        if (p + 20 > end) {
            return Status.TRUNCATED_L3;
        }
        int ihl = (seg.get(U8, p) & 0x0f) * 4;
        if (ihl < 20) {
            return Status.BAD_L3;
        }
        int proto = u8(seg, p + 9);
        out.family(DropRecord.FAMILY_IPV4).protocol(proto)
                .srcIpv4(seg.get(BE32, p + 12)).dstIpv4(seg.get(BE32, p + 16));
        if ((u16(seg, p + 6) & 0x1fff) != 0) {
            return Status.OK; // a non-first fragment has no L4 header
        }
        return l4(seg, p + ihl, end, proto, out);
    }

    private static Status ipv6(MemorySegment seg, long p, long end, DropRecord out) {
        if (p + 40 > end) {
            return Status.TRUNCATED_L3;
        }
        out.family(DropRecord.FAMILY_IPV6).srcIp(seg, p + 8).dstIp(seg, p + 24);
        int next = u8(seg, p + 6);
        long q = p + 40;
        for (int i = 0; i < MAX_EXTENSION_HEADERS; i++) {
            switch (next) {
                case 0, 43, 60, 51 -> { // hop-by-hop, routing, destination options (8-byte units); AH (4-byte units)
                    if (q + 2 > end) {
                        out.protocol(next);
                        return Status.TRUNCATED_L4;
                    }
                    int following = u8(seg, q);
                    int len = u8(seg, q + 1);
                    q += next == 51 ? 4L * (len + 2) : 8L * (len + 1);
                    next = following;
                }
                case 44 -> { // fragment
                    if (q + 8 > end) {
                        out.protocol(next);
                        return Status.TRUNCATED_L4;
                    }
                    next = u8(seg, q);
                    if ((u16(seg, q + 2) & 0xfff8) != 0) {
                        out.protocol(next);
                        return Status.OK; // a non-first fragment has no L4 header
                    }
                    q += 8;
                }
                default -> {
                    out.protocol(next);
                    return l4(seg, q, end, next, out);
                }
            }
        }
        out.protocol(next);
        return Status.TOO_MANY_EXTENSIONS;
    }

    private static Status l4(MemorySegment seg, long p, long end, int proto, DropRecord out) {
        switch (proto) {
            case 6, 17, 132 -> { // TCP, UDP, SCTP: ports first
                if (p + 4 > end) {
                    return Status.TRUNCATED_L4;
                }
                out.srcPort(u16(seg, p)).dstPort(u16(seg, p + 2));
                if (proto == 6) {
                    if (p + 14 > end) {
                        return Status.TRUNCATED_L4;
                    }
                    out.tcpFlags(u8(seg, p + 13));
                }
            }
            case 1, 58 -> { // ICMP, ICMPv6
                if (p + 2 > end) {
                    return Status.TRUNCATED_L4;
                }
                out.icmpType(u8(seg, p)).icmpCode(u8(seg, p + 1));
            }
            default -> {
                // no ports for other protocols
            }
        }
        return Status.OK;
    }

    private static int u8(MemorySegment seg, long p) {
        return seg.get(U8, p) & 0xff;
    }

    private static int u16(MemorySegment seg, long p) {
        return seg.get(BE16, p) & 0xffff;
    }
}
