package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Decodes the packet copy of an NFLOG message (it starts at the network header: IPv4 or IPv6) into a
 * {@link DropRecord}: family, protocol, addresses, ports (TCP, UDP, SCTP), TCP flags, ICMP and ICMPv6
 * type and code, and the packet's length from its IP header. IPv6 extension headers (hop-by-hop,
 * routing, fragment, destination options, AH) are followed; a non-first fragment has no ports.
 *
 * <p>A copy cut short by the rule's snap length is normal (Calico logs 80 bytes): whatever fits is
 * filled and the rest stays zero. Headers that are not IP or are cut inside the IP header are counted
 * by {@link NflogParseError} kind, never thrown. Reads in place; nothing is allocated.
 * One instance per thread.
 */
public final class NflogPayloadDecoder {
    private static final ValueLayout.OfShort BE_U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int MAX_EXTENSION_HEADERS = 8;

    private final long[] errors = new long[NflogParseError.values().length];
    private long transportTruncated;

    /**
     * Fills {@code record} from the current packet of {@code parser}: source CALICO, direction from the
     * group (Calico logs ingress to group 1 and egress to group 2), ifindex (the output device for
     * ingress, where the workload's interface is the one the packet leaves by, else the input device),
     * wall-clock time from NFULA_TIMESTAMP when present, then the payload. The record is not cleared
     * first. Returns whether the IP header was decoded.
     */
    public boolean decode(NflogMessageParser parser, DropRecord record) {
        record.source(DropSource.CALICO);
        int group = parser.group();
        record.direction(group == 1 ? Direction.INGRESS : group == 2 ? Direction.EGRESS : Direction.UNKNOWN);
        int ifindex = group == 1 ? (parser.outdev() != 0 ? parser.outdev() : parser.indev())
                : (parser.indev() != 0 ? parser.indev() : parser.outdev());
        record.ifindex(ifindex);
        if (parser.hasTimestamp()) {
            record.wallNs(parser.timestampSeconds() * 1_000_000_000L + parser.timestampMicros() * 1_000L);
        }
        if (!parser.hasPayload()) {
            errors[NflogParseError.IP_TRUNCATED.ordinal()]++;
            return false;
        }
        return decodeIp(parser.segment(), parser.payloadOffset(), parser.payloadLength(), record);
    }

    /** Decodes {@code length} bytes at {@code offset} of {@code segment}, starting at an IPv4 or IPv6 header. */
    public boolean decodeIp(MemorySegment segment, long offset, int length, DropRecord record) {
        if (length < 1) {
            errors[NflogParseError.IP_TRUNCATED.ordinal()]++;
            return false;
        }
        int version = (segment.get(ValueLayout.JAVA_BYTE, offset) & 0xF0) >>> 4;
        if (version == 4) {
            return ipv4(segment, offset, length, record);
        }
        if (version == 6) {
            return ipv6(segment, offset, length, record);
        }
        errors[NflogParseError.IP_BAD_HEADER.ordinal()]++;
        return false;
    }

    private boolean ipv4(MemorySegment s, long off, int length, DropRecord record) {
        if (length < 20) {
            errors[NflogParseError.IP_TRUNCATED.ordinal()]++;
            return false;
        }
        int ihl = (s.get(ValueLayout.JAVA_BYTE, off) & 0x0F) * 4;
        if (ihl < 20) {
            errors[NflogParseError.IP_BAD_HEADER.ordinal()]++;
            return false;
        }
        int protocol = u8(s, off + 9);
        record.family(DropRecord.FAMILY_IPV4)
                .protocol(protocol)
                .length(u16(s, off + 2))
                .srcIpv4(s.get(BE_U32, off + 12))
                .dstIpv4(s.get(BE_U32, off + 16));
        int fragOffset = u16(s, off + 6) & 0x1FFF;
        if (fragOffset != 0) {
            return true;
        }
        if (ihl > length) {
            transportTruncated++;
            return true;
        }
        transport(s, off + ihl, length - ihl, protocol, record);
        return true;
    }

    private boolean ipv6(MemorySegment s, long off, int length, DropRecord record) {
        if (length < 40) {
            errors[NflogParseError.IP_TRUNCATED.ordinal()]++;
            return false;
        }
        int next = u8(s, off + 6);
        record.family(DropRecord.FAMILY_IPV6)
                .length(40L + u16(s, off + 4))
                .srcIp(s, off + 8)
                .dstIp(s, off + 24);
        long pos = 40;
        for (int i = 0; ; i++) {
            boolean extension = next == 0 || next == 43 || next == 44 || next == 60 || next == 51;
            if (!extension) {
                break;
            }
            if (i == MAX_EXTENSION_HEADERS || pos + 8 > length) {
                record.protocol(next);
                if (i == MAX_EXTENSION_HEADERS) {
                    errors[NflogParseError.IPV6_EXTENSION_BAD.ordinal()]++;
                } else {
                    transportTruncated++;
                }
                return true;
            }
            int following = u8(s, off + pos);
            if (next == 44) {
                boolean notFirst = (u16(s, off + pos + 2) & 0xFFF8) != 0;
                if (notFirst) {
                    record.protocol(following);
                    return true;
                }
                pos += 8;
            } else if (next == 51) {
                pos += (u8(s, off + pos + 1) + 2L) * 4;
            } else {
                pos += (u8(s, off + pos + 1) + 1L) * 8;
            }
            next = following;
        }
        record.protocol(next);
        if (pos > length) {
            transportTruncated++;
            return true;
        }
        transport(s, off + pos, (int) (length - pos), next, record);
        return true;
    }

    private void transport(MemorySegment s, long off, int length, int protocol, DropRecord record) {
        switch (protocol) {
            case 6, 17, 132 -> { // TCP, UDP, SCTP: ports first
                if (length < 4) {
                    transportTruncated++;
                    return;
                }
                record.srcPort(u16(s, off)).dstPort(u16(s, off + 2));
                if (protocol == 6) {
                    if (length < 14) {
                        transportTruncated++;
                        return;
                    }
                    record.tcpFlags(u8(s, off + 13));
                }
            }
            case 1, 58 -> { // ICMP, ICMPv6
                if (length < 2) {
                    transportTruncated++;
                    return;
                }
                record.icmpType(u8(s, off)).icmpCode(u8(s, off + 1));
            }
            default -> {
                // other protocols: no ports
            }
        }
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    private static int u16(MemorySegment s, long off) {
        return s.get(BE_U16, off) & 0xFFFF;
    }

    /** How many payloads had this kind of bad header. */
    public long errors(NflogParseError kind) {
        return errors[kind.ordinal()];
    }

    public long totalErrors() {
        long sum = 0;
        for (long e : errors) {
            sum += e;
        }
        return sum;
    }

    /** Payloads whose transport header was cut short by the snap length (not an error: fields stay zero). */
    public long transportTruncated() {
        return transportTruncated;
    }
}
