package dev.droptrace.netlink;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Round trips with the kernel over NETLINK_ROUTE (no root needed) and NETLINK_NETFILTER (root). */
class NetlinkSocketTest {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final int RTM_GETLINK = 18;
    private static final int RTM_NEWLINK = 16;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_ACK = 4;
    private static final int NLM_F_DUMP = 0x300;

    @Test
    void linkDumpNamesEveryInterfaceThatSysfsLists() throws Exception {
        Set<String> expected = new HashSet<>();
        try (var s = Files.list(Path.of("/sys/class/net"))) {
            s.forEach(p -> expected.add(p.getFileName().toString()));
        }
        Set<String> dumped = new HashSet<>();
        try (NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
            assertNotEquals(0, socket.portId(), "the kernel assigns a non-zero port id");
            MemorySegment req = arena.allocate(32, 4);
            req.set(U32, 0, 32);
            req.set(U16, 4, (short) RTM_GETLINK);
            req.set(U16, 6, (short) (NLM_F_REQUEST | NLM_F_DUMP));
            req.set(U32, 8, 77);
            socket.send(req, 32);
            MemorySegment buf = arena.allocate(64 * 1024, 8);
            boolean done = false;
            while (!done) {
                assertTrue(socket.awaitReadable(10_000), "dump answered");
                int n = socket.receive(buf, true);
                if (n == NetlinkSocket.WOULD_BLOCK) continue;
                assertTrue(n > 0 && n <= buf.byteSize(), "datagram of " + n);
                for (int off = 0; off + 16 <= n; ) {
                    int len = buf.get(U32, off);
                    int type = buf.get(U16, off + 4) & 0xffff;
                    assertEquals(77, buf.get(U32, off + 8), "sequence echoed");
                    assertEquals(socket.portId(), buf.get(U32, off + 12), "addressed to our port id");
                    if (type == 3) { // NLMSG_DONE
                        done = true;
                    } else if (type == RTM_NEWLINK) {
                        dumped.add(ifname(buf, off, len));
                    }
                    off += (len + 3) & ~3;
                }
            }
            assertEquals(NetlinkSocket.WOULD_BLOCK, socket.receive(buf, true), "nothing left after NLMSG_DONE");
        }
        assertEquals(expected, dumped);
    }

    private static String ifname(MemorySegment buf, int msg, int len) {
        for (int a = msg + 16 + 16; a + 4 <= msg + len; ) { // after nlmsghdr and ifinfomsg
            int alen = buf.get(U16, a) & 0xffff;
            int atype = buf.get(U16, a + 2) & 0x3fff;
            if (alen < 4) break;
            if (atype == 3) { // IFLA_IFNAME
                byte[] b = new byte[alen - 4];
                MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, a + 4, b, 0, b.length);
                int z = 0;
                while (z < b.length && b[z] != 0) z++;
                return new String(b, 0, z, StandardCharsets.US_ASCII);
            }
            a += (alen + 3) & ~3;
        }
        return "?";
    }

    @Test
    void truncatedDatagramReportsItsFullLength() {
        try (NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(32, 4);
            req.set(U32, 0, 32);
            req.set(U16, 4, (short) RTM_GETLINK);
            req.set(U16, 6, (short) (NLM_F_REQUEST | NLM_F_DUMP));
            socket.send(req, 32);
            MemorySegment small = arena.allocate(16, 8);
            assertTrue(socket.awaitReadable(10_000));
            int n = socket.receive(small, true);
            assertTrue(n > small.byteSize(), "MSG_TRUNC reports the datagram's real size, got " + n);
        }
    }

    @Test
    void emptySocketWouldBlockAndTimedReceiveReturns() {
        try (NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096, 8);
            assertEquals(NetlinkSocket.WOULD_BLOCK, socket.receive(buf, true));
            socket.receiveTimeout(20);
            assertEquals(NetlinkSocket.WOULD_BLOCK, socket.receive(buf, false), "blocking receive ends at its timeout");
            assertEquals(0, socket.overruns());
        }
    }

    @Test
    void portIdsAreDistinctAndBufferSizeIsSet() {
        try (NetlinkSocket a = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
             NetlinkSocket b = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE)) {
            assertNotEquals(a.portId(), b.portId());
            int before = a.receiveBufferSize();
            int after = a.receiveBufferSize(before); // always permitted: at most what it already has
            assertTrue(after >= before, before + " -> " + after);
        }
    }

    @Test
    void failedCallsThrowWithCallNameAndErrno() {
        NativeCallException e = assertThrows(NativeCallException.class, () -> NetlinkSocket.open(9999));
        assertEquals("socket", e.call());
        assertTrue(e.getMessage().startsWith("socket: "), e.getMessage());
    }

    @Tag("kernel")
    @Test
    void netfilterConfigForAnUnboundGroupIsRefusedWithEnodev() {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root (CAP_NET_ADMIN); skipped");
        try (NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_NETFILTER); Arena arena = Arena.ofConfined()) {
            assertTrue(socket.receiveBufferSize(1 << 20) >= 1 << 20, "SO_RCVBUFFORCE as root");
            // NFULNL_MSG_CONFIG for group 65000 with only NFULA_CFG_QTHRESH: nobody bound it, so ENODEV
            MemorySegment req = arena.allocate(28, 4);
            req.set(U32, 0, 28);
            req.set(U16, 4, (short) 0x0401);
            req.set(U16, 6, (short) (NLM_F_REQUEST | NLM_F_ACK));
            req.set(U32, 8, 5);
            req.set(ValueLayout.JAVA_BYTE, 16, (byte) 0);
            req.set(U16.withOrder(ByteOrder.BIG_ENDIAN), 18, (short) 65000);
            req.set(U16, 20, (short) 8);
            req.set(U16, 22, (short) 5);
            req.set(U32.withOrder(ByteOrder.BIG_ENDIAN), 24, 1);
            socket.send(req, 28);
            MemorySegment buf = arena.allocate(4096, 8);
            assertTrue(socket.awaitReadable(10_000));
            int n = socket.receive(buf, true);
            assertTrue(n >= 20);
            assertEquals(2, buf.get(U16, 4), "NLMSG_ERROR");
            assertEquals(5, buf.get(U32, 8));
            assertEquals(-19, buf.get(U32, 16), "-ENODEV");
        }
    }
}
