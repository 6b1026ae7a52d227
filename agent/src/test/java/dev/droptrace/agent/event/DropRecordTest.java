package dev.droptrace.agent.event;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DropRecordTest {
    @Test
    void layoutIsTheDocumentedOne() {
        int[][] offsetsAndSizes = {
            {DropRecord.VERSION_OFFSET, 2}, {DropRecord.SOURCE_OFFSET, 1}, {DropRecord.FAMILY_OFFSET, 1},
            {DropRecord.PROTOCOL_OFFSET, 1}, {DropRecord.DIRECTION_OFFSET, 1}, {DropRecord.TCP_FLAGS_OFFSET, 1},
            {DropRecord.ICMP_TYPE_OFFSET, 1}, {DropRecord.SRC_PORT_OFFSET, 2}, {DropRecord.DST_PORT_OFFSET, 2},
            {DropRecord.LENGTH_OFFSET, 4}, {DropRecord.SRC_IP_OFFSET, 16}, {DropRecord.DST_IP_OFFSET, 16},
            {DropRecord.IFINDEX_OFFSET, 4}, {DropRecord.NETNS_OFFSET, 4}, {DropRecord.CPU_OFFSET, 4},
            {DropRecord.REASON_CODE_OFFSET, 4}, {DropRecord.KTIME_NS_OFFSET, 8}, {DropRecord.WALL_NS_OFFSET, 8},
            {DropRecord.LOCATION_OFFSET, 8}, {DropRecord.COUNT_OFFSET, 4}, {DropRecord.SRC_IDENTITY_ID_OFFSET, 4},
            {DropRecord.DST_IDENTITY_ID_OFFSET, 4}, {DropRecord.POLICY_ID_OFFSET, 4}, {DropRecord.INTERFACE_ID_OFFSET, 4},
            {DropRecord.LOCATION_ID_OFFSET, 4}, {DropRecord.NODE_ID_OFFSET, 4}, {DropRecord.ICMP_CODE_OFFSET, 1},
            {DropRecord.FLAGS_OFFSET, 1}, {DropRecord.KERNEL_REASON_CODE_OFFSET, 2}, {DropRecord.DETAIL_ID_OFFSET, 4},
            {DropRecord.RESERVED_OFFSET, 4},
        };
        int expected = 0;
        for (int[] f : offsetsAndSizes) {
            assertEquals(expected, f[0], "fields are contiguous");
            expected += f[1];
        }
        assertEquals(DropRecord.SIZE, expected);
        assertEquals(128, DropRecord.SIZE);
    }

    @Test
    void everyFieldRoundTripsLittleEndianAtAnOffset() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(3 * DropRecord.SIZE);
            seg.fill((byte) 0x5a);
            DropRecord r = new DropRecord().wrap(seg, DropRecord.SIZE).clear();
            assertEquals(0x5a, seg.get(ValueLayout.JAVA_BYTE, DropRecord.SIZE - 1), "record before untouched");
            assertEquals(0x5a, seg.get(ValueLayout.JAVA_BYTE, 2 * DropRecord.SIZE), "record after untouched");
            assertEquals(1, r.version());
            assertEquals(1, r.count());
            r.source(DropSource.CALICO).family(6).protocol(132).direction(Direction.EGRESS).tcpFlags(0xff)
                    .icmpType(255).icmpCode(254).srcPort(65535).dstPort(443).length(0xfffffffeL).ifindex(12)
                    .netns(0xf0000001L).cpu(7).reasonCode(0x80000000L).ktimeNs(-2).wallNs(Long.MAX_VALUE)
                    .location(0xffffffff81000000L).count(3).srcIdentityId(11).dstIdentityId(12).policyId(13)
                    .interfaceId(14).locationId(15).nodeId(16).flags(DropRecord.FLAG_KERNEL_SEEN).kernelReasonCode(65534)
                    .detailId(17);
            assertEquals(2, r.source());
            assertEquals(6, r.family());
            assertEquals(132, r.protocol());
            assertEquals(2, r.direction());
            assertEquals(0xff, r.tcpFlags());
            assertEquals(255, r.icmpType());
            assertEquals(254, r.icmpCode());
            assertEquals(65535, r.srcPort());
            assertEquals(443, r.dstPort());
            assertEquals(0xfffffffeL, r.length());
            assertEquals(12, r.ifindex());
            assertEquals(0xf0000001L, r.netns());
            assertEquals(7, r.cpu());
            assertEquals(0x80000000L, r.reasonCode());
            assertEquals(-2, r.ktimeNs());
            assertEquals(Long.MAX_VALUE, r.wallNs());
            assertEquals(0xffffffff81000000L, r.location());
            assertEquals(3, r.count());
            assertEquals(11, r.srcIdentityId());
            assertEquals(12, r.dstIdentityId());
            assertEquals(13, r.policyId());
            assertEquals(14, r.interfaceId());
            assertEquals(15, r.locationId());
            assertEquals(16, r.nodeId());
            assertEquals(DropRecord.FLAG_KERNEL_SEEN, r.flags());
            assertEquals(65534, r.kernelReasonCode());
            assertEquals(17, r.detailId());

            long base = DropRecord.SIZE;
            ValueLayout.OfShort le16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            assertEquals(1, seg.get(ValueLayout.JAVA_BYTE, base), "version low byte first");
            assertEquals((short) 443, seg.get(le16, base + DropRecord.DST_PORT_OFFSET));
            assertEquals((byte) 0xbb, seg.get(ValueLayout.JAVA_BYTE, base + DropRecord.DST_PORT_OFFSET));
            assertEquals(16, seg.get(ValueLayout.JAVA_BYTE, base + DropRecord.NODE_ID_OFFSET));
            assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, base + DropRecord.RESERVED_OFFSET));
        }
    }

    @Test
    void addressesAreNetworkOrderAndZeroPadded() {
        MemorySegment seg = MemorySegment.ofArray(new byte[DropRecord.SIZE]);
        DropRecord r = new DropRecord().wrap(seg, 0).clear();
        byte[] v6 = new byte[16];
        v6[0] = (byte) 0xfd;
        v6[15] = 1;
        r.srcIp(v6);
        r.srcIpv4(0x0ac80001);
        assertEquals(10, seg.get(ValueLayout.JAVA_BYTE, DropRecord.SRC_IP_OFFSET));
        assertEquals((byte) 200, seg.get(ValueLayout.JAVA_BYTE, DropRecord.SRC_IP_OFFSET + 1));
        assertEquals(1, seg.get(ValueLayout.JAVA_BYTE, DropRecord.SRC_IP_OFFSET + 3));
        assertEquals(0, seg.get(ValueLayout.JAVA_BYTE, DropRecord.SRC_IP_OFFSET + 15), "rest zeroed");
        assertEquals(0x0ac80001, r.srcIpv4());
        r.dstIp(new byte[] {(byte) 192, (byte) 168, 1, 2});
        assertEquals(0xc0a80102, r.dstIpv4());
        byte[] out = new byte[16];
        r.copyDstIp(out, 0);
        assertEquals(0, out[4]);
    }

    @Test
    void namesOfSmallEnums() {
        assertEquals("SYN", TcpFlags.toText(TcpFlags.SYN));
        assertEquals("SYN|ACK", TcpFlags.toText(TcpFlags.ACK | TcpFlags.SYN));
        assertEquals("FIN|SYN|RST|PSH|ACK|URG|ECE|CWR", TcpFlags.toText(0xff));
        assertEquals("", TcpFlags.toText(0));
        assertEquals(DropSource.CILIUM, DropSource.fromName("Cilium"));
        assertEquals(null, DropSource.fromCode(7));
        assertEquals(Direction.UNKNOWN, Direction.fromCode(9));
        assertEquals(58, IpProtocol.parse("icmpv6"));
        assertEquals(47, IpProtocol.parse("47"));
        assertEquals("SCTP", IpProtocol.nameOf(132));
    }
}
