package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.TcpFlags;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NflogMessageParserTest {
    private static final int SRC = 0x0a000001; // 10.0.0.1
    private static final int DST = 0x0a000002;

    private final NflogMessageParser parser = new NflogMessageParser();
    private final NflogPayloadDecoder decoder = new NflogPayloadDecoder();
    private final DropRecord record = new DropRecord().wrap(MemorySegment.ofArray(new byte[DropRecord.SIZE]), 0);

    private static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }

    private static String prefix(NflogMessageParser p) {
        byte[] b = new byte[64];
        int n = p.copyPrefix(b);
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    @Test
    void batchOfPacketsThenDone() {
        byte[] buf = new NflogBuffers()
                .packet(2, 1).packetHdr(0x0800, 2).prefix("DPI|default").be32(4, 7).be32(5, 9).be32(2, 0x40000)
                .timestamp(1_700_000_000L, 123_456).payload(NflogBuffers.ipv4Tcp(SRC, DST, 40000, 80, 0x02, 80)).end()
                .packet(2, 2).packetHdr(0x0800, 2).prefix("ARE0|kns.default").be32(4, 9).be32(11, 1000).be32(14, 1001)
                .be32(12, 42).be32(13, 43).payload(NflogBuffers.ipv4Udp(SRC, DST, 5353, 53)).end()
                .packet(10, 1).packetHdr(0x86DD, 0).prefix("API0|knp/default/allow-web").be32(6, 3).be32(7, 4)
                .payload(NflogBuffers.ipv6(58, new byte[0], new byte[] {(byte) 128, 0, 0, 0}, (byte) 1, (byte) 2)).end()
                .control(3, new byte[] {0, 0, 0, 1})
                .bytes();
        parser.wrap(seg(buf), 0, buf.length);

        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals(2, parser.family());
        assertEquals(1, parser.group());
        assertEquals(0x0800, parser.hwProtocol());
        assertEquals(2, parser.hook());
        assertEquals("DPI|default", prefix(parser));
        assertEquals(11, parser.prefixLength());
        assertEquals(7, parser.indev());
        assertEquals(9, parser.outdev());
        assertEquals(0x40000, parser.mark());
        assertTrue(parser.hasTimestamp());
        assertEquals(1_700_000_000L, parser.timestampSeconds());
        assertEquals(123_456, parser.timestampMicros());
        assertFalse(parser.hasUid());
        assertEquals(-1, parser.uid());
        assertFalse(parser.hasSeq());
        assertEquals(60, parser.payloadLength());
        record.clear();
        assertTrue(decoder.decode(parser, record));
        assertEquals(DropSource.CALICO.code(), record.source());
        assertEquals(Direction.INGRESS.code(), record.direction());
        assertEquals(9, record.ifindex(), "ingress: the workload interface is the output device");
        assertEquals(DropRecord.FAMILY_IPV4, record.family());
        assertEquals(6, record.protocol());
        assertEquals(SRC, record.srcIpv4());
        assertEquals(DST, record.dstIpv4());
        assertEquals(40000, record.srcPort());
        assertEquals(80, record.dstPort());
        assertEquals(TcpFlags.SYN, record.tcpFlags());
        assertEquals(60, record.length());
        assertEquals(1_700_000_000_123_456_000L, record.wallNs());

        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals(2, parser.group());
        assertEquals("ARE0|kns.default", prefix(parser));
        assertEquals(0, parser.mark());
        assertFalse(parser.hasTimestamp());
        assertEquals(1000, parser.uid());
        assertEquals(1001, parser.gid());
        assertEquals(42, parser.seq());
        assertEquals(43, parser.seqGlobal());
        assertEquals(0, parser.outdev());
        record.clear();
        assertTrue(decoder.decode(parser, record));
        assertEquals(Direction.EGRESS.code(), record.direction());
        assertEquals(9, record.ifindex());
        assertEquals(17, record.protocol());
        assertEquals(5353, record.srcPort());
        assertEquals(53, record.dstPort());
        assertEquals(0, record.tcpFlags());

        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals(10, parser.family());
        assertEquals(0x86DD, parser.hwProtocol());
        assertEquals(3, parser.physindev());
        assertEquals(4, parser.physoutdev());
        record.clear();
        assertTrue(decoder.decode(parser, record));
        assertEquals(DropRecord.FAMILY_IPV6, record.family());
        assertEquals(58, record.protocol());
        assertEquals(128, record.icmpType());
        byte[] ip = new byte[16];
        record.copySrcIp(ip, 0);
        assertEquals((byte) 0xfd, ip[0]);
        assertEquals(1, ip[15]);
        record.copyDstIp(ip, 0);
        assertEquals(2, ip[15]);
        assertEquals(44, record.length());

        assertEquals(NflogMessageParser.Kind.DONE, parser.next());
        assertEquals(NflogMessageParser.Kind.END, parser.next());
        assertEquals(NflogMessageParser.Kind.END, parser.next());
        assertEquals(0, parser.totalErrors());
        assertEquals(0, decoder.totalErrors());
    }

    @Test
    void oddLengthAttributesArePaddedAndTypeBitsMasked() {
        // a 1-byte attribute of an unknown type with both NLA_F_ bits set, then a prefix with an odd length
        byte[] buf = new NflogBuffers().packet(2, 1).attr(0xC000 | 30, new byte[] {9}).packetHdr(0x0800, 2)
                .attr(0x4000 | 10, "DRE\0".getBytes(StandardCharsets.US_ASCII)).end().bytes();
        parser.wrap(seg(buf), 0, buf.length);
        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals("DRE", prefix(parser));
        assertEquals(NflogMessageParser.Kind.END, parser.next());
        assertEquals(0, parser.totalErrors());
    }

    @Test
    void emptyPrefixArrivesAsLoneNul() {
        byte[] buf = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2).prefix("").end().bytes();
        parser.wrap(seg(buf), 0, buf.length);
        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertTrue(parser.hasPrefix());
        assertEquals(0, parser.prefixLength());
        assertFalse(parser.hasPayload());
    }

    @Test
    void errorAckAndOverrun() {
        byte[] buf = new NflogBuffers().error(0).error(-1).control(4, new byte[0]).control(1, new byte[0]).bytes();
        parser.wrap(seg(buf), 0, buf.length);
        assertEquals(NflogMessageParser.Kind.ERROR, parser.next());
        assertEquals(0, parser.errorCode());
        assertEquals(NflogMessageParser.Kind.ERROR, parser.next());
        assertEquals(-1, parser.errorCode(), "EPERM: the group is held by another listener");
        assertEquals(NflogMessageParser.Kind.OVERRUN, parser.next());
        assertEquals(NflogMessageParser.Kind.OTHER, parser.next());
        assertEquals(1, parser.type());
        assertEquals(NflogMessageParser.Kind.END, parser.next());
    }

    @Test
    void wrapAtAnOffsetInANativeSegment() {
        byte[] msg = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2).prefix("DPI|default").end().bytes();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(msg.length + 100);
            MemorySegment.copy(msg, 0, s, java.lang.foreign.ValueLayout.JAVA_BYTE, 36, msg.length);
            parser.wrap(s, 36, msg.length);
            assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
            assertEquals("DPI|default", prefix(parser));
            assertEquals(NflogMessageParser.Kind.END, parser.next());
        }
        assertThrows(IndexOutOfBoundsException.class, () -> parser.wrap(seg(msg), 10, msg.length));
    }

    @Test
    void badInputIsCountedByKind() {
        byte[] good = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2).prefix("DPI|default").end().bytes();

        byte[] zeroLen = good.clone();
        ByteBuffer.wrap(zeroLen).order(ByteOrder.nativeOrder()).putInt(0, 0);
        assertEquals(NflogParseError.MESSAGE_LENGTH_TOO_SHORT, onlyError(zeroLen));

        byte[] past = good.clone();
        ByteBuffer.wrap(past).order(ByteOrder.nativeOrder()).putInt(0, good.length + 4);
        assertEquals(NflogParseError.MESSAGE_PAST_BUFFER, onlyError(past));

        assertEquals(NflogParseError.HEADER_TRUNCATED, onlyError(new byte[] {1, 2, 3, 4, 5}));

        byte[] shortPkt = new NflogBuffers().control(0x0400, new byte[] {2}).bytes();
        assertEquals(NflogParseError.NFGENMSG_TRUNCATED, onlyError(shortPkt));

        assertEquals(NflogParseError.ERROR_TRUNCATED, onlyError(new NflogBuffers().control(2, new byte[0]).bytes()));

        byte[] zeroAttr = good.clone();
        ByteBuffer.wrap(zeroAttr).order(ByteOrder.nativeOrder()).putShort(20, (short) 0);
        assertEquals(NflogParseError.ATTRIBUTE_LENGTH_TOO_SHORT, onlyError(zeroAttr));

        byte[] longAttr = good.clone();
        ByteBuffer.wrap(longAttr).order(ByteOrder.nativeOrder()).putShort(20, (short) 400);
        assertEquals(NflogParseError.ATTRIBUTE_PAST_MESSAGE, onlyError(longAttr));

        byte[] shortMark = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2).attr(2, new byte[] {1, 2, 3}).end().bytes();
        assertEquals(NflogParseError.ATTRIBUTE_BAD_SIZE, onlyError(shortMark));

        byte[] noHdr = new NflogBuffers().packet(2, 1).prefix("DPI|default").end().bytes();
        assertEquals(NflogParseError.PACKET_HEADER_MISSING, onlyError(noHdr));
    }

    @Test
    void aBadPacketIsSkippedAndTheNextOneRead() {
        byte[] buf = new NflogBuffers()
                .packet(2, 1).prefix("no packet header").end()
                .packet(2, 1).packetHdr(0x0800, 2).prefix("DPI|default").end().bytes();
        parser.wrap(seg(buf), 0, buf.length);
        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals("DPI|default", prefix(parser));
        assertEquals(1, parser.errors(NflogParseError.PACKET_HEADER_MISSING));
    }

    @Test
    void trailingZeroPaddingIsNotAnError() {
        byte[] good = new NflogBuffers().packet(2, 1).packetHdr(0x0800, 2).end().bytes();
        byte[] padded = java.util.Arrays.copyOf(good, good.length + 3);
        parser.wrap(seg(padded), 0, padded.length);
        assertEquals(NflogMessageParser.Kind.PACKET, parser.next());
        assertEquals(NflogMessageParser.Kind.END, parser.next());
        assertEquals(0, parser.totalErrors());
    }

    private NflogParseError onlyError(byte[] buf) {
        NflogMessageParser p = new NflogMessageParser();
        p.wrap(seg(buf), 0, buf.length);
        while (p.next() != NflogMessageParser.Kind.END) {
            // drain
        }
        assertEquals(1, p.totalErrors());
        for (NflogParseError e : NflogParseError.values()) {
            if (p.errors(e) == 1) {
                return e;
            }
        }
        throw new AssertionError();
    }

    // ---- payloads ------------------------------------------------------------------------------

    @Test
    void snapLengthCutsTransportQuietly() {
        record.clear();
        byte[] cut = NflogBuffers.ipv4Tcp(SRC, DST, 1, 2, 0x12, 24); // 20 IP + 4 bytes of TCP
        assertTrue(decoder.decodeIp(seg(cut), 0, cut.length, record));
        assertEquals(1, record.srcPort());
        assertEquals(2, record.dstPort());
        assertEquals(0, record.tcpFlags());
        assertEquals(1, decoder.transportTruncated());
        assertEquals(0, decoder.totalErrors());
    }

    @Test
    void ipv6ExtensionHeadersAreFollowed() {
        // hop-by-hop (8 bytes) then a fragment header (first fragment) then UDP
        byte[] ext = {44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 9};
        byte[] udp = {0x13, (byte) 0x88, 0, 53, 0, 8, 0, 0};
        byte[] pkt = NflogBuffers.ipv6(0, ext, udp, (byte) 1, (byte) 2);
        record.clear();
        assertTrue(decoder.decodeIp(seg(pkt), 0, pkt.length, record));
        assertEquals(17, record.protocol());
        assertEquals(5000, record.srcPort());
        assertEquals(53, record.dstPort());

        // a later fragment: no ports
        byte[] later = {17, 0, 0, 8, 0, 0, 0, 9};
        byte[] frag = NflogBuffers.ipv6(44, later, udp, (byte) 1, (byte) 2);
        record.clear();
        assertTrue(decoder.decodeIp(seg(frag), 0, frag.length, record));
        assertEquals(17, record.protocol());
        assertEquals(0, record.srcPort());
    }

    @Test
    void sctpAndIcmp() {
        ByteBuffer b = ByteBuffer.allocate(32);
        b.put((byte) 0x45).put((byte) 0).putShort((short) 32).putInt(0).put((byte) 64).put((byte) 132).putShort((short) 0);
        b.putInt(SRC).putInt(DST).putShort((short) 3868).putShort((short) 3869).putInt(0);
        record.clear();
        assertTrue(decoder.decodeIp(seg(b.array()), 0, 32, record));
        assertEquals(132, record.protocol());
        assertEquals(3868, record.srcPort());
        assertEquals(3869, record.dstPort());

        ByteBuffer i = ByteBuffer.allocate(28);
        i.put((byte) 0x45).put((byte) 0).putShort((short) 28).putInt(0).put((byte) 64).put((byte) 1).putShort((short) 0);
        i.putInt(SRC).putInt(DST).put((byte) 8).put((byte) 0);
        record.clear();
        assertTrue(decoder.decodeIp(seg(i.array()), 0, 28, record));
        assertEquals(1, record.protocol());
        assertEquals(8, record.icmpType());
        assertEquals(0, record.srcPort());
    }

    @Test
    void badPayloadsAreCounted() {
        record.clear();
        assertFalse(decoder.decodeIp(seg(new byte[0]), 0, 0, record));
        assertFalse(decoder.decodeIp(seg(new byte[] {0x45, 0, 0}), 0, 3, record));
        assertEquals(2, decoder.errors(NflogParseError.IP_TRUNCATED));
        byte[] v5 = new byte[40];
        v5[0] = 0x50;
        assertFalse(decoder.decodeIp(seg(v5), 0, 40, record));
        byte[] ihl = new byte[40];
        ihl[0] = 0x44;
        assertFalse(decoder.decodeIp(seg(ihl), 0, 40, record));
        assertEquals(2, decoder.errors(NflogParseError.IP_BAD_HEADER));
        assertArrayEquals(new byte[16], srcIp(record));
    }

    private static byte[] srcIp(DropRecord r) {
        byte[] ip = new byte[16];
        r.copySrcIp(ip, 0);
        return ip;
    }
}
