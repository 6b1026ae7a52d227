package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.Direction;
import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Arrays;

import static dev.droptrace.agent.source.cilium.CiliumMessageDecoder.DecodeError;
import static dev.droptrace.agent.source.cilium.CiliumMessageDecoder.Kind;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every drop and policy-verdict layout, the 32/36/40-byte ambiguities, and the version override. */
class NotificationVersionsTest {
    private static final CiliumVersion V1_12 = CiliumVersion.parse("1.12");
    private static final CiliumVersion V1_18 = CiliumVersion.parse("v1.18.4");

    private static DropRecord record(Arena arena) {
        return new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
    }

    @Test
    void dropOfEveryVersionWithPadding() {
        int[][] layouts = {{32, 0}, {32, 1}, {36, 1}, {40, 2}, {48, 3}};
        try (Arena arena = Arena.ofConfined()) {
            for (int[] l : layouts) {
                // a 58-byte capture separates 32 from 36 by size alone: 92 vs 100 bytes with padding
                byte[] pkt = Arrays.copyOf(Samples.SYN_PACKET, 58);
                byte[] b = Samples.perfPad(Samples.drop(l[0], l[1], 181, 0, 0, pkt));
                CiliumMessageDecoder dec = new CiliumMessageDecoder();
                assertEquals(Kind.DROP, dec.decode(b), "layout " + l[0]);
                assertEquals(l[0], dec.headerLength(), "layout " + l[0]);
                assertEquals(0, dec.ambiguousDrops());
                DropNotify d = dec.drop();
                assertEquals(181, d.reason());
                assertEquals(5678, d.srcLabel());
                assertEquals(51234, d.dstLabel());
                assertEquals(l[0] >= 36 ? 29 : 0, d.ifindex());
                assertEquals(l[0] >= 36 ? 99 : 0, d.line());
                assertEquals(l[0] >= 36 ? -3 : 0, d.extError());
                assertEquals(l[0] >= 48 ? 0x99 : 0, d.ipTraceId());
                assertEquals(58, dec.packetLength());
                assertArrayEquals(pkt, dec.packet().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                DropRecord r = record(arena);
                assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
                SpecVectorsTest.assertSyn(r);
                assertEquals(181, r.reasonCode());
                assertEquals("POLICY_DENY", CiliumDropReasons.name((int) r.reasonCode()));
                assertEquals(Direction.UNKNOWN.code(), r.direction(), "dst_id 0: egress or unknown");
            }
        }
    }

    @Test
    void ambiguousDropV1NeedsTheOverride() {
        // 54 captured bytes: 32 + 54 and 36 + 54 both pad to 92 bytes
        byte[] b = Samples.perfPad(Samples.drop(32, 1, 133, 1234, 0, Samples.SYN_PACKET));
        assertEquals(92, b.length);
        CiliumMessageDecoder auto = new CiliumMessageDecoder();
        assertEquals(Kind.DROP, auto.decode(b));
        assertEquals(36, auto.headerLength(), "without an override Cilium's default, 36, is taken");
        assertEquals(1, auto.ambiguousDrops());

        CiliumMessageDecoder old = new CiliumMessageDecoder(V1_12);
        assertEquals(Kind.DROP, old.decode(b));
        assertEquals(32, old.headerLength());
        assertEquals(0, old.drop().ifindex());
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = record(arena);
            assertEquals(CapturedPacketParser.Status.OK, old.fill(r));
            SpecVectorsTest.assertSyn(r);
            assertEquals(Direction.INGRESS.code(), r.direction());
        }

        byte[] b36 = Samples.perfPad(Samples.drop(36, 1, 133, 1234, 0, Samples.SYN_PACKET));
        CiliumMessageDecoder modern = new CiliumMessageDecoder(CiliumVersion.parse("1.17"));
        assertEquals(Kind.DROP, modern.decode(b36));
        assertEquals(36, modern.headerLength());
        assertEquals(29, modern.drop().ifindex());
    }

    @Test
    void overrideThatContradictsTheSizeIsCounted() {
        byte[] pkt = Arrays.copyOf(Samples.SYN_PACKET, 58);
        byte[] b36 = Samples.perfPad(Samples.drop(36, 1, 133, 0, 0, pkt));
        CiliumMessageDecoder old = new CiliumMessageDecoder(V1_12);
        assertEquals(Kind.ERROR, old.decode(b36));
        assertEquals(1, old.decodeErrors(DecodeError.LENGTH_MISMATCH));

        byte[] v40 = Samples.perfPad(Samples.verdict(40, 2, -181, 80, 6, 0x02, 7, Samples.SYN_PACKET));
        CiliumMessageDecoder v118 = new CiliumMessageDecoder(V1_18);
        assertEquals(Kind.ERROR, v118.decode(v40));
        assertEquals(1, v118.decodeErrors(DecodeError.LENGTH_MISMATCH));
        CiliumMessageDecoder v119 = new CiliumMessageDecoder(CiliumVersion.parse("1.19.0"));
        assertEquals(Kind.POLICY_VERDICT, v119.decode(v40));
        assertEquals(7, v119.policyVerdict().cookie());
    }

    @Test
    void policyVerdictLayoutsFlagsAndActions() {
        try (Arena arena = Arena.ofConfined()) {
            for (int h : new int[] {32, 40}) {
                for (int cap = 0; cap <= 64; cap++) {
                    byte[] pkt = Arrays.copyOf(Samples.SYN_PACKET, Math.min(cap, 54));
                    if (cap > 54) {
                        pkt = Arrays.copyOf(pkt, cap);
                    }
                    // egress, match L3-L4 (2), audited
                    int flags = 0x02 | 2 << 3 | 0x40;
                    byte[] b = Samples.perfPad(Samples.verdict(h, 16777217, 0, 8080, 6, flags, 0x1234, pkt));
                    CiliumMessageDecoder dec = new CiliumMessageDecoder();
                    assertEquals(Kind.POLICY_VERDICT, dec.decode(b), "h " + h + " cap " + cap);
                    assertEquals(h, dec.headerLength(), "h " + h + " cap " + cap);
                    PolicyVerdictNotify v = dec.policyVerdict();
                    assertEquals(PolicyVerdictNotify.Action.AUDIT, v.action());
                    assertEquals(PolicyVerdictNotify.DIR_EGRESS, v.direction());
                    assertEquals("L3-L4", PolicyVerdictNotify.matchTypeName(v.matchType()));
                    assertEquals(h == 40 ? 0x1234 : 0, v.cookie());
                    assertEquals(16777217L, dec.dstIdentity());
                    assertEquals(0, dec.srcIdentity());
                    DropRecord r = record(arena);
                    dec.fill(r);
                    assertEquals(Direction.EGRESS.code(), r.direction());
                    assertEquals(0, r.reasonCode());
                    assertEquals(6, r.protocol());
                    assertEquals(8080, r.dstPort(), "from the verdict, or the packet when it parses");
                }
            }
        }
    }

    @Test
    void verdictActions() {
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        dec.decode(Samples.perfPad(Samples.verdict(40, 2, 0, 80, 6, 0x01, 0, new byte[0])));
        assertEquals(PolicyVerdictNotify.Action.ALLOW, dec.policyVerdict().action());
        dec.decode(Samples.perfPad(Samples.verdict(40, 2, 15001, 80, 6, 0x01, 0, new byte[0])));
        assertEquals(PolicyVerdictNotify.Action.REDIRECT, dec.policyVerdict().action());
        dec.decode(Samples.perfPad(Samples.verdict(40, 2, -189, 80, 6, 0x01, 0, new byte[0])));
        assertEquals(PolicyVerdictNotify.Action.DENY, dec.policyVerdict().action());
        assertEquals("AUTH_REQUIRED", CiliumDropReasons.name(dec.reasonCode()));
        assertEquals(0, dec.decodeErrors());
    }

    @Test
    void l3DeviceVerdictAndDropParseFromTheIpHeader() {
        try (Arena arena = Arena.ofConfined()) {
            CiliumMessageDecoder dec = new CiliumMessageDecoder();
            byte[] icmp = Samples.rawIpv4IcmpPacket();
            assertEquals(Kind.POLICY_VERDICT, dec.decode(Samples.perfPad(Samples.verdict(40, 2, -133, 0, 1, 0x81, 0, icmp))));
            DropRecord r = record(arena);
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertEquals(0x0a010101, r.srcIpv4());
            assertEquals(0x0a020202, r.dstIpv4());
            assertEquals(1, r.protocol());
            assertEquals(8, r.icmpType());
            assertEquals(0, r.dstPort(), "no port for ICMP");

            assertEquals(Kind.DROP, dec.decode(Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_L3_DEV, icmp))));
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertEquals(0x0a020202, r.dstIpv4());
            assertEquals(8, r.icmpType());
        }
    }

    @Test
    void ipv6UdpVlanSctpAndVxlanPackets() {
        try (Arena arena = Arena.ofConfined()) {
            CiliumMessageDecoder dec = new CiliumMessageDecoder();
            DropRecord r = record(arena);
            dec.decode(Samples.perfPad(Samples.drop(48, 3, 134, 0, DropNotify.FLAG_IPV6, Samples.ipv6UdpPacket())));
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertEquals(DropRecord.FAMILY_IPV6, r.family());
            byte[] ip = new byte[16];
            r.copyDstIp(ip, 0);
            assertArrayEquals(Samples.hex("fd000000000000000000000000000002"), ip);
            assertEquals(17, r.protocol());
            assertEquals(5353, r.srcPort());
            assertEquals(53, r.dstPort());

            dec.decode(Samples.perfPad(Samples.drop(40, 2, 182, 0, 0, Samples.vlanSctpPacket())));
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertEquals(132, r.protocol());
            assertEquals(3868, r.srcPort());
            assertEquals(3869, r.dstPort());

            dec.decode(Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_VXLAN, Samples.vxlanSynPacket())));
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            SpecVectorsTest.assertSyn(r);

            dec.decode(Samples.perfPad(Samples.drop(48, 3, 133, 0, DropNotify.FLAG_GENEVE, Samples.geneveSynPacket())));
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            SpecVectorsTest.assertSyn(r);

            // an ARP frame: still a drop, with no addresses
            byte[] arp = new byte[42];
            arp[12] = 0x08;
            arp[13] = 0x06;
            dec.decode(Samples.perfPad(Samples.drop(48, 3, 166, 0, 0, arp)));
            assertEquals(CapturedPacketParser.Status.NOT_IP, dec.fill(r));
            assertEquals(166, r.reasonCode());
            assertEquals(1, dec.packetCount(CapturedPacketParser.Status.NOT_IP));

            // a capture cut inside the TCP header: addresses, no ports
            dec.decode(Samples.perfPad(Samples.drop(48, 3, 133, 0, 0, Arrays.copyOf(Samples.SYN_PACKET, 40))));
            assertEquals(CapturedPacketParser.Status.TRUNCATED_L4, dec.fill(r));
            assertEquals(0x0a000207, r.dstIpv4());
            assertEquals(0, r.dstPort());
        }
    }

    @Test
    void extensionVersionSkipsThePacket() {
        byte[] b = Samples.drop(48, 3, 133, 0, 0, Samples.SYN_PACKET);
        b[15] = 1;
        b = Samples.concat(b, new byte[16]); // an extension of a size the decoder cannot know
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(Kind.DROP, dec.decode(b));
        assertEquals(false, dec.packetKnown());
        assertEquals(1, dec.extensionSkipped());
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = record(arena);
            assertEquals(CapturedPacketParser.Status.EMPTY, dec.fill(r));
            assertEquals(133, r.reasonCode());
            assertEquals(DropRecord.FAMILY_UNKNOWN, r.family());
        }
    }

    @Test
    void unsupportedVersionsAndOtherTypesAreCounted() {
        CiliumMessageDecoder dec = new CiliumMessageDecoder();
        assertEquals(Kind.ERROR, dec.decode(Samples.perfPad(Samples.drop(48, 4, 133, 0, 0, new byte[0]))));
        assertEquals(1, dec.decodeErrors(DecodeError.UNSUPPORTED_VERSION));
        byte[] debug = new byte[20];
        debug[0] = 2;
        assertEquals(Kind.OTHER, dec.decode(debug));
        byte[] unknown = new byte[20];
        unknown[0] = 99;
        assertEquals(Kind.ERROR, dec.decode(unknown));
        assertEquals(Kind.ERROR, dec.decode(new byte[0]));
        assertEquals(1, dec.decodeErrors(DecodeError.UNKNOWN_TYPE));
        assertEquals(1, dec.decodeErrors(DecodeError.EMPTY));
        assertEquals(3, dec.decodeErrors());
        assertEquals(1, dec.count(Kind.OTHER));
    }

    @Test
    void versionParsing() {
        assertEquals(new CiliumVersion(1, 16), CiliumVersion.parse("v1.16.3"));
        assertEquals(new CiliumVersion(1, 20), CiliumVersion.parse("1.20.0-dev"));
        assertTrue(CiliumVersion.parse("1.13").atLeast(CiliumVersion.V1_13));
        assertThrows(IllegalArgumentException.class, () -> CiliumVersion.parse("latest"));
        assertThrows(IllegalArgumentException.class, () -> CiliumVersion.parse("1"));
    }
}
