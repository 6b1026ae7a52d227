package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.IpPacketParser;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Parses the packet headers Cilium captured after a notification (spec section 3.6 step 6) into a
 * {@link DropRecord}: family, addresses, protocol, ports, TCP flags, ICMP type and code.
 *
 * <p>The capture starts at the Ethernet header (with up to two VLAN tags), or at the IP header for
 * L3 devices. For overlay captures (VXLAN or Geneve flag) the outer Ethernet/IP/UDP and the tunnel
 * header are skipped and the inner frame is parsed, as Hubble reports it. IPv6 extension headers
 * are walked; non-first fragments carry no ports. Only the captured bytes are read; a capture that
 * ends inside a header yields {@link Status} other than {@code OK} with whatever was parsed so far
 * left in the record. Nothing is allocated.
 */
public final class CapturedPacketParser {
    /** Result of one parse; the record holds everything up to the point of failure. */
    public enum Status {
        /** Addresses and (where there are ports) the L4 header were read. */
        OK,
        /** Not an IPv4/IPv6 packet (ARP, LLDP, ...): no addresses. */
        NOT_IP,
        /** The capture ends inside the L2 or tunnel headers. */
        TRUNCATED_L2,
        /** The capture ends inside the IP header, or the IP header is malformed. */
        TRUNCATED_L3,
        /** The capture ends inside the L4 header: addresses are set, ports are not. */
        TRUNCATED_L4,
        /** An empty capture. */
        EMPTY
    }

    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_IPV6 = 0x86dd;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int ETH_P_8021AD = 0x88a8;

    /** Tunnel kinds for {@link #parse}: none, VXLAN (8-byte header), Geneve (8 bytes plus options). */
    public static final int TUNNEL_NONE = 0;
    public static final int TUNNEL_VXLAN = 1;
    public static final int TUNNEL_GENEVE = 2;

    /** Protocol numbers. */
    public static final int IPPROTO_ICMP = 1;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_ICMPV6 = 58;
    public static final int IPPROTO_SCTP = 132;

    private CapturedPacketParser() {
    }

    /**
     * Parses {@code len} captured bytes at {@code off} of {@code seg} into {@code out}.
     *
     * @param l3Device the capture starts at the IP header
     * @param tunnel   {@link #TUNNEL_NONE}, or the overlay the drop flags name ({@link #TUNNEL_VXLAN},
     *                 {@link #TUNNEL_GENEVE}); the UDP port is not consulted, since Cilium's tunnel port is
     *                 configurable
     */
    public static Status parse(MemorySegment seg, long off, int len, boolean l3Device, int tunnel, DropRecord out) {
        if (len <= 0) {
            return Status.EMPTY;
        }
        long end = off + len;
        if (tunnel != TUNNEL_NONE) {
            // outer Ethernet (or IP on an L3 device) / IP / UDP / tunnel header / inner Ethernet
            long p = off;
            if (!l3Device) {
                long e = skipEthernet(seg, off, end);
                if (e < 0) {
                    return e == NOT_IP ? Status.NOT_IP : Status.TRUNCATED_L2;
                }
                p = e & OFFSET_MASK;
            }
            long udp = skipToUdpPayload(seg, p, end);
            if (udp < 0 || udp + 8 > end) {
                return Status.TRUNCATED_L2;
            }
            // VXLAN: 8-byte header; Geneve: 8 bytes plus options (low 6 bits of byte 0, in 4-byte words)
            long inner = tunnel == TUNNEL_GENEVE ? udp + 8 + 4L * (seg.get(U8, udp) & 0x3f) : udp + 8;
            long q = skipEthernet(seg, inner, end);
            if (q < 0) {
                return q == NOT_IP ? Status.NOT_IP : Status.TRUNCATED_L2;
            }
            return parseIp(seg, q & OFFSET_MASK, end, (int) (q >>> 48) == 4 ? ETH_P_IP : ETH_P_IPV6, out);
        }
        if (l3Device) {
            int v = (seg.get(U8, off) & 0xf0) >>> 4;
            return parseIp(seg, off, end, v == 6 ? ETH_P_IPV6 : v == 4 ? ETH_P_IP : 0, out);
        }
        long p = skipEthernet(seg, off, end);
        if (p < 0) {
            return p == NOT_IP ? Status.NOT_IP : Status.TRUNCATED_L2;
        }
        return parseIp(seg, p & OFFSET_MASK, end, (int) (p >>> 48) == 4 ? ETH_P_IP : ETH_P_IPV6, out);
    }

    private static final long TRUNCATED = -1;
    private static final long NOT_IP = -2;
    private static final long OFFSET_MASK = (1L << 48) - 1;

    /**
     * Skips an Ethernet header and up to two VLAN tags. Returns {@code ipVersion << 48 | l3 offset},
     * {@link #TRUNCATED}, or {@link #NOT_IP}.
     */
    private static long skipEthernet(MemorySegment seg, long p, long end) {
        if (p + 14 > end) {
            return TRUNCATED;
        }
        int type = u16(seg, p + 12);
        p += 14;
        for (int tags = 0; tags < 2 && (type == ETH_P_8021Q || type == ETH_P_8021AD); tags++) {
            if (p + 4 > end) {
                return TRUNCATED;
            }
            type = u16(seg, p + 2);
            p += 4;
        }
        if (type != ETH_P_IP && type != ETH_P_IPV6) {
            return NOT_IP;
        }
        return (long) (type == ETH_P_IP ? 4 : 6) << 48 | p;
    }

    /** From an outer IP header, returns the offset of the UDP payload, or -1. */
    private static long skipToUdpPayload(MemorySegment seg, long ip, long end) {
        if (ip + 1 > end) {
            return -1;
        }
        int v = (seg.get(U8, ip) & 0xf0) >>> 4;
        long l4;
        int proto;
        if (v == 4) {
            if (ip + 20 > end) {
                return -1;
            }
            int ihl = (seg.get(U8, ip) & 0x0f) * 4;
            if (ihl < 20) {
                return -1;
            }
            proto = seg.get(U8, ip + 9) & 0xff;
            l4 = ip + ihl;
        } else if (v == 6) {
            if (ip + 40 > end) {
                return -1;
            }
            proto = seg.get(U8, ip + 6) & 0xff;
            l4 = ip + 40;
        } else {
            return -1;
        }
        if (proto != IPPROTO_UDP || l4 + 8 > end) {
            return -1;
        }
        return l4 + 8;
    }

    /** The IP and L4 headers, through the shared parser; {@code type} is what the L2 header announced. */
    private static Status parseIp(MemorySegment seg, long p, long end, int type, DropRecord out) {
        if (type != ETH_P_IP && type != ETH_P_IPV6) {
            return Status.NOT_IP;
        }
        if (p < end && (seg.get(U8, p) & 0xf0) >>> 4 != (type == ETH_P_IP ? 4 : 6)) {
            return Status.TRUNCATED_L3; // the version contradicts the ethertype
        }
        int srcPort = out.srcPort(), dstPort = out.dstPort(); // a verdict may have set the port already
        return switch (IpPacketParser.parse(seg, p, end, out)) {
            case OK, TOO_MANY_EXTENSIONS -> Status.OK;
            case NOT_IP -> Status.NOT_IP;
            case TRUNCATED_L3, BAD_L3 -> Status.TRUNCATED_L3;
            case TRUNCATED_L4 -> {
                out.srcPort(srcPort).dstPort(dstPort); // this parser's contract: a cut L4 header leaves the ports as they were
                yield Status.TRUNCATED_L4;
            }
        };
    }

    private static int u16(MemorySegment seg, long p) {
        return seg.get(BE16, p) & 0xffff;
    }
}
