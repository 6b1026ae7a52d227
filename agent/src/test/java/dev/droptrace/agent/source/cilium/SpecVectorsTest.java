package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.droptrace.agent.source.cilium.Samples.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The test vectors of {@code specs/cilium-monitor-format.md} section 8. Provenance: vectors 1-3 and 5
 * are the little-endian {@code binary.Write} serialisations of the structs in Cilium's
 * {@code pkg/monitor/datapath_{drop,policy,trace}_test.go}; vector 4 is the literal array of
 * {@code pkg/hubble/parser/threefour/parser_test.go} {@code TestL34Decode}; the synthesised vectors
 * were written by the spec's author to the layouts of section 3. The hex is copied from the spec.
 */
class SpecVectorsTest {
    static final String V1 = "00 01 03 02 07 06 05 04 0b 0a 09 08 10 0e 03 00 14 13 12 11 18 17 16 15 1c 1b 1a 19 "
            + "1e 1d 20 21 25 24 23 22 0f 00 00 00 99 00 00 00 00 00 00 00";
    static final String V2 = "00 01 03 02 07 06 05 04 0b 0a 09 08 10 0e 01 00 14 13 12 11 18 17 16 15 1c 1b 1a 19 "
            + "1e 1d 20 21 25 24 23 22";
    static final String V3 = "00 01 03 02 07 06 05 04 0b 0a 09 08 0d 0c 10 00 14 13 12 11 18 17 16 15 1a 19 1b 1c "
            + "1d 00 00 00 21 20 1f 1e 00 00 00 00";
    static final String V4 = "04 07 00 00 07 7c 1a 39 42 00 00 00 42 00 00 00 01 00 00 00 00 00 00 00 00 00 81 00 "
            + "00 00 00 00 f6 8d b2 2d 21 d9 f6 8d b2 2d 21 d9 08 00 45 00 00 34 ea 1c 40 00 40 06 78 31 c0 a8 3c 0b "
            + "0a 10 ec b2 19 2b d3 ce 2a ef d2 1c b4 98 81 67 80 10 01 98 d8 9c 00 00 01 01 08 0a 00 5a b0 62 00 5a "
            + "b0 61 00 00";
    /** Vector 5 with the spec's elided bytes filled in: orig_ip is 0x21..0x30, then ip_trace_id. */
    static final String V5 = "00 02 04 03 08 07 06 05 0c 0b 0a 09 0e 0d 02 00 14 13 12 11 18 17 16 15 1a 19 1b 1c "
            + "20 1f 1e 1d 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 32 31 30 2f 2e 2d 2c 2b";

    private static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }

    @Test
    void vector1DropV3() {
        byte[] b = hex(V1);
        assertEquals(48, b.length);
        DropNotify d = new DropNotify().wrap(seg(b), 0, b.length, 48);
        assertEquals(0, d.type());
        assertEquals(1, d.subtype());
        assertEquals(0x0203, d.source());
        assertEquals(0x04050607L, d.hash());
        assertEquals(0x08090a0bL, d.lenOrig());
        assertEquals(0x0e10, d.lenCap());
        assertEquals(3, d.version());
        assertEquals(0, d.extVersion());
        assertEquals(0x11121314L, d.srcLabel());
        assertEquals(0x15161718L, d.dstLabel());
        assertEquals(0x191a1b1cL, d.dstId());
        assertEquals(0x1d1e, d.line());
        assertEquals(0x20, d.file());
        assertEquals(0x21, d.extError());
        assertEquals(0x22232425, d.ifindex());
        assertEquals(0x0f, d.flags());
        assertEquals(0x99L, d.ipTraceId());
    }

    @Test
    void vector1And2DataOffsetsThroughTheDecoder() {
        // The Go test structs have type 0 and a len_cap larger than the struct; to run them through the
        // decoder, set type 1 and len_cap 0 (TestDecodeDropNotify asserts offsets 36, 40, 48 for v1, v2, v3).
        byte[] v3 = hex(V1);
        v3[0] = 1;
        v3[12] = 0;
        v3[13] = 0;
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(CiliumMessageDecoder.Kind.DROP, dec.decode(v3));
        assertEquals(48, dec.headerLength());
        assertEquals(0x99L, dec.drop().ipTraceId());

        byte[] v2 = v3.clone();
        v2[14] = 2;
        assertEquals(CiliumMessageDecoder.Kind.DROP, dec.decode(java.util.Arrays.copyOf(v2, 40)));
        assertEquals(40, dec.headerLength());
        assertEquals(0x0f, dec.drop().flags());

        byte[] v1 = hex(V2);
        v1[0] = 1;
        v1[12] = 0;
        v1[13] = 0;
        assertEquals(CiliumMessageDecoder.Kind.DROP, dec.decode(v1));
        assertEquals(36, dec.headerLength(), "Cilium's own decoder assumes 36 for version 1");
        assertEquals(1, dec.ambiguousDrops(), "36 bytes with no packet also fits 32 bytes plus 4 of padding");
        assertEquals(0x22232425, dec.drop().ifindex());
        assertEquals(0, dec.drop().flags());
        assertEquals(0, dec.drop().ipTraceId());
    }

    @Test
    void vector2DropV1() {
        byte[] b = Samples.concat(hex(V2), new byte[12]);
        DropNotify d = new DropNotify().wrap(seg(b), 0, b.length, 36);
        assertEquals(1, d.version());
        assertEquals(0x11121314L, d.srcLabel());
        assertEquals(0x15161718L, d.dstLabel());
        assertEquals(0x191a1b1cL, d.dstId());
        assertEquals(0x1d1e, d.line());
        assertEquals(0x20, d.file());
        assertEquals(0x21, d.extError());
        assertEquals(0x22232425, d.ifindex());
        assertEquals(0, d.flags());
        assertEquals(0, d.ipTraceId());
        assertEquals(36, d.headerLength());
    }

    @Test
    void vector3PolicyVerdictV119() {
        byte[] b = hex(V3);
        PolicyVerdictNotify v = new PolicyVerdictNotify().wrap(seg(b), 0, b.length, 40);
        assertEquals(0, v.type());
        assertEquals(1, v.subtype());
        assertEquals(0x0203, v.source());
        assertEquals(0x04050607L, v.hash());
        assertEquals(0x08090a0bL, v.lenOrig());
        assertEquals(0x0c0d, v.lenCap());
        assertEquals(0x10, v.version());
        assertEquals(0x11121314L, v.remoteLabel());
        assertEquals(0x15161718, v.verdict());
        assertEquals(PolicyVerdictNotify.Action.REDIRECT, v.action());
        assertEquals(0x191a, v.dstPort());
        assertEquals(0x1b, v.proto());
        assertEquals(0x1c, v.flags());
        assertEquals(0, v.direction());
        assertTrue(v.ipv6());
        assertEquals(3, v.matchType());
        assertEquals("L4-Only", PolicyVerdictNotify.matchTypeName(v.matchType()));
        assertFalse(v.audited());
        assertFalse(v.l3());
        assertEquals(0x1d, v.authType());
        assertEquals(0x1e1f2021L, v.cookie());
        // the decoder rejects it: type 0 is no message type
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(CiliumMessageDecoder.Kind.ERROR, dec.decode(b));
        assertEquals(1, dec.decodeErrors(CiliumMessageDecoder.DecodeError.UNKNOWN_TYPE));
    }

    @Test
    void vector4TraceV0IsSkippedAndCountedAndItsPacketParses() {
        byte[] b = hex(V4);
        assertEquals(100, b.length);
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(CiliumMessageDecoder.Kind.TRACE, dec.decode(b));
        assertEquals(1, dec.count(CiliumMessageDecoder.Kind.TRACE));
        assertEquals(0, dec.decodeErrors());
        CiliumNotification n = new CiliumNotification().wrap(seg(b), 0, b.length);
        assertEquals(4, n.type());
        assertEquals(7, n.subtype());
        assertEquals(0x391a7c07L, n.hash());
        assertEquals(66, n.lenOrig());
        assertEquals(66, n.lenCap());
        assertEquals(0, n.version());
        assertTrue(CiliumMessageDecoder.fits(b.length, 32, 66), "100 = roundup(32 + 66 + 4, 8) - 4");
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0).clear();
            assertEquals(CapturedPacketParser.Status.OK, CapturedPacketParser.parse(seg(b), 32, 66, false, CapturedPacketParser.TUNNEL_NONE, r));
            assertEquals(DropRecord.FAMILY_IPV4, r.family());
            assertEquals(0xc0a83c0b, r.srcIpv4()); // 192.168.60.11
            assertEquals(0x0a10ecb2, r.dstIpv4()); // 10.16.236.178
            assertEquals(6, r.protocol());
            assertEquals(6443, r.srcPort());
            assertEquals(54222, r.dstPort());
            assertEquals(0x10, r.tcpFlags()); // ACK
        }
    }

    @Test
    void vector5TraceV2IsSkippedAndCounted() {
        byte[] b = hex(V5);
        assertEquals(56, b.length);
        b[0] = 4; // the Go test struct has type 0
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(CiliumMessageDecoder.Kind.TRACE, dec.decode(b));
        CiliumNotification n = new CiliumNotification().wrap(seg(b), 0, b.length);
        assertEquals(2, n.subtype());
        assertEquals(0x0304, n.source());
        assertEquals(0x05060708L, n.hash());
        assertEquals(0x090a0b0cL, n.lenOrig());
        assertEquals(0x0d0e, n.lenCap());
        assertEquals(2, n.version());
    }

    @Test
    void synthesisedDropV3WithPacket() {
        byte[] b = Samples.perfPad(Samples.concat(Samples.DROP_V3_HEADER, Samples.SYN_PACKET));
        assertEquals(108, b.length, "raw_size = 102 + 6 padding");
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(CiliumMessageDecoder.Kind.DROP, dec.decode(b));
        DropNotify d = dec.drop();
        assertEquals(133, d.reason());
        assertEquals("POLICY_DENIED", CiliumDropReasons.name(d.reason()));
        assertEquals(1234, d.source());
        assertEquals(0xdeadbeefL, d.hash());
        assertEquals(54, d.lenOrig());
        assertEquals(54, d.lenCap());
        assertEquals(3, d.version());
        assertEquals(5678, d.srcLabel());
        assertEquals(51234, d.dstLabel());
        assertEquals(1234, d.dstId());
        assertEquals(1417, d.line());
        assertEquals(2, d.file());
        assertEquals(0, d.extError());
        assertEquals(29, d.ifindex());
        assertEquals(0, d.flags());
        assertEquals(0, d.ipTraceId());
        assertEquals(48, dec.headerLength());
        assertEquals(54, dec.packetLength(), "sliced with len_cap, not the 6 padding bytes");
        assertEquals(5678, dec.srcIdentity());
        assertEquals(51234, dec.dstIdentity());
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertSyn(r);
            assertEquals(DropSource.CILIUM.code(), r.source());
            assertEquals(133, r.reasonCode());
            assertEquals(29, r.ifindex());
            assertEquals(54, r.length());
            assertEquals(Direction.INGRESS.code(), r.direction());
            assertEquals(1, r.count());
        }
    }

    @Test
    void synthesisedPolicyVerdictBothLayouts() {
        byte[] v119 = Samples.perfPad(Samples.concat(Samples.VERDICT_V119_HEADER, Samples.SYN_PACKET));
        assertEquals(100, v119.length);
        byte[] v118 = Samples.perfPad(Samples.concat(java.util.Arrays.copyOf(Samples.VERDICT_V119_HEADER, 32),
                Samples.SYN_PACKET));
        assertEquals(92, v118.length);
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        for (byte[] b : new byte[][] {v119, v118}) {
            assertEquals(CiliumMessageDecoder.Kind.POLICY_VERDICT, dec.decode(b));
            assertEquals(b == v119 ? 40 : 32, dec.headerLength());
            PolicyVerdictNotify v = dec.policyVerdict();
            assertEquals(5678, v.remoteLabel());
            assertEquals(-133, v.verdict());
            assertEquals(PolicyVerdictNotify.Action.DENY, v.action());
            assertEquals(133, v.dropReason());
            assertEquals(8080, v.dstPort());
            assertEquals(6, v.proto());
            assertEquals(PolicyVerdictNotify.DIR_INGRESS, v.direction());
            assertEquals(0, v.matchType());
            assertEquals("none", PolicyVerdictNotify.matchTypeName(v.matchType()));
            assertEquals(0, v.authType());
            assertEquals(0, v.cookie());
            assertEquals(5678, dec.srcIdentity());
            assertEquals(0, dec.dstIdentity());
            assertEquals(54, dec.packetLength());
            try (Arena arena = Arena.ofConfined()) {
                DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
                assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
                assertSyn(r);
                assertEquals(133, r.reasonCode());
                assertEquals(Direction.INGRESS.code(), r.direction());
            }
        }
        assertEquals(0, dec.decodeErrors());
    }

    static void assertSyn(DropRecord r) {
        assertEquals(DropRecord.FAMILY_IPV4, r.family());
        assertEquals(0x0a000105, r.srcIpv4());
        assertEquals(0x0a000207, r.dstIpv4());
        assertEquals(6, r.protocol());
        assertEquals(43210, r.srcPort());
        assertEquals(8080, r.dstPort());
        assertEquals(0x02, r.tcpFlags());
    }
}
