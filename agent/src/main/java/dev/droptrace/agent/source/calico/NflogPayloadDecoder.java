package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.IpPacketParser;
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
        IpPacketParser.Status status = IpPacketParser.parse(segment, offset, offset + length, record);
        switch (status) {
            case NOT_IP, BAD_L3 -> {
                errors[NflogParseError.IP_BAD_HEADER.ordinal()]++;
                return false;
            }
            case TRUNCATED_L3 -> {
                errors[NflogParseError.IP_TRUNCATED.ordinal()]++;
                return false;
            }
            case TRUNCATED_L4 -> transportTruncated++;
            case TOO_MANY_EXTENSIONS -> errors[NflogParseError.IPV6_EXTENSION_BAD.ordinal()]++;
            case OK -> {
                // all read
            }
        }
        // NFLOG copies the packet from its network header: the IP header's own length is the packet's
        record.length(record.family() == DropRecord.FAMILY_IPV4 ? u16(segment, offset + 2) : 40L + u16(segment, offset + 4));
        return true;
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
