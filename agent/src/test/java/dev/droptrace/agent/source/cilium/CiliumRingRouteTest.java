package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.libbpf.Libbpf;
import dev.droptrace.libc.NativeCallException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The perf ring route end to end: the Cilium fixture on tc ingress of a "server" namespace drops
 * UDP and TCP to one port and writes Cilium notifications of a given release's layouts into a pinned
 * {@code cilium_events}; a {@link CiliumRingReader} drains it into a sink that decodes each sample
 * with {@link CiliumMessageDecoder}. Every drop the fixture counted must arrive as exactly one drop
 * notification and one policy verdict, with the configured fields, the packet's 5-tuple, and the
 * packet sliced by {@code len_cap}.
 */
@Tag("kernel")
class CiliumRingRouteTest {
    private static final int OCTET = 220; // 10.220.0.0/16 and fd00:220::/32: this test's own ranges
    private static final int DENIED = 8080;
    private static final int ALLOWED = 8081;
    private static final int UDP4 = 60, UDP6 = 40, ALLOWED_EACH = 20;
    private static final int ETH_HEADER = 14;

    private static NetnsLab lab;
    private static NetnsLab.Pod client;
    private static NetnsLab.Pod server;
    private static int serverIfindex;

    @BeforeAll
    static void lab() {
        Assumptions.assumeTrue(isRoot(), "kernel test: needs root (BPF, perf events, tc, namespaces); skipped");
        Assumptions.assumeTrue(Libbpf.available(), "libbpf.so.1 not found; skipped");
        Assumptions.assumeTrue(CiliumFixture.built(), CiliumFixture.RESOURCE + " not built (bpf module); skipped");
        lab = NetnsLab.create(OCTET);
        client = lab.addPod("client");
        server = lab.addPod("server");
        lab.link(client, server, "eth0", "eth0");
        // Permanent neighbour entries: no packet waits in (or falls out of) an ARP/ND queue, so every
        // datagram sent reaches the server's tc ingress.
        String mac = lab.exec(server, "cat", "/sys/class/net/eth0/address").strip();
        lab.exec(client, "ip", "neigh", "replace", server.ip4(), "lladdr", mac, "dev", "eth0", "nud", "permanent");
        lab.exec(client, "ip", "-6", "neigh", "replace", server.ip6(), "lladdr", mac, "dev", "eth0", "nud", "permanent");
        serverIfindex = lab.ifindex(server, "eth0");
    }

    @AfterAll
    static void closeLab() {
        if (lab != null) {
            lab.close();
        }
    }

    static Stream<Arguments> releases() {
        return Stream.of(
                // release, drop layout, verdict layout, decoder override, cap_len
                Arguments.of("1.12", CiliumFixture.DropLayout.V1_32, CiliumFixture.VerdictLayout.V1_32, new CiliumVersion(1, 12), 80),
                Arguments.of("1.17", CiliumFixture.DropLayout.V1_36, CiliumFixture.VerdictLayout.V1_32, null, 80),
                Arguments.of("1.18", CiliumFixture.DropLayout.V2_40, CiliumFixture.VerdictLayout.V1_32, null, 128),
                Arguments.of("1.19", CiliumFixture.DropLayout.V3_48, CiliumFixture.VerdictLayout.V1_40, null, 128));
    }

    @ParameterizedTest(name = "Cilium {0} layouts")
    @MethodSource("releases")
    void everyDropArrivesOnceDecodedExactly(String release, CiliumFixture.DropLayout dropLayout,
            CiliumFixture.VerdictLayout verdictLayout, CiliumVersion override, int capLen) throws Exception {
        CiliumFixture.Config config = CiliumFixture.Config.denyPort(DENIED)
                .withLayouts(dropLayout, verdictLayout).withCapLen(capLen)
                .withPolicy(181, 3, 0x0badc0deL).withIdentities(70001, 4242);
        Path pin;
        try (CiliumFixture fixture = CiliumFixture.open(server.netns(), "eth0", config)) {
            pin = fixture.pinPath();
            assertEquals(serverIfindex, fixture.ifindex());
            Collector sink = new Collector(override);
            try (CiliumRingReader reader = CiliumRingReader.open(pin, 8, sink)) {
                assertTrue(reader.state().startsWith("reading " + pin), reader.state());
                lab.sendUdp(client, server.ip4(), DENIED, 41000, UDP4);
                lab.sendUdp(client, server.ip6(), DENIED, 41001, UDP6);
                lab.tryTcp(client, server.ip4(), DENIED, 41002, 300);
                lab.tryTcp(client, server.ip6(), DENIED, 41003, 300);
                lab.sendUdp(client, server.ip4(), ALLOWED, 41004, ALLOWED_EACH);
                lab.sendUdp(client, server.ip6(), ALLOWED, 41005, ALLOWED_EACH);

                long minimum = UDP4 + UDP6 + 2; // and at least one SYN per TCP connection
                // the allowed-port datagrams went last: once they have all passed, nothing is in flight
                await(() -> fixture.droppedCount() >= minimum && fixture.passedCount() >= 2 * ALLOWED_EACH
                        && sink.drops.size() == fixture.droppedCount() && sink.verdicts.size() == fixture.droppedCount());
                long dropped = fixture.droppedCount();
                assertEquals(dropped, sink.drops.size(), "one drop notification per dropped packet");
                assertEquals(dropped, sink.verdicts.size(), "one policy verdict per dropped packet");
                assertEquals(dropped, fixture.dropNotifications());
                assertEquals(dropped, fixture.verdictNotifications());
                assertEquals(0, fixture.outputErrors());
                assertEquals(2 * dropped, reader.samples());
                assertEquals(0, reader.lost());
                assertEquals(0, reader.unknownRecords());
                assertEquals(0, reader.malformedRecords());
                assertEquals(0, reader.sinkErrors());
                assertEquals(0, sink.errors, "decode errors: " + sink.errorKinds);
                assertTrue(fixture.passedCount() >= 2 * ALLOWED_EACH, "allowed packets passed: " + fixture.passedCount());

                // the 5-tuples: UDP exactly as sent, TCP as SYNs only, nothing to the allowed port
                assertEquals(UDP4, count(sink.drops, d -> d.is(4, 17, client.ip4(), 41000, server.ip4(), DENIED)));
                assertEquals(UDP6, count(sink.drops, d -> d.is(6, 17, client.ip6(), 41001, server.ip6(), DENIED)));
                long tcp4 = count(sink.drops, d -> d.is(4, 6, client.ip4(), 41002, server.ip4(), DENIED));
                long tcp6 = count(sink.drops, d -> d.is(6, 6, client.ip6(), 41003, server.ip6(), DENIED));
                assertTrue(tcp4 >= 1 && tcp6 >= 1, "SYNs dropped: " + tcp4 + " IPv4, " + tcp6 + " IPv6");
                assertEquals(dropped, UDP4 + UDP6 + tcp4 + tcp6, "every drop is one of the flows sent");
                assertEquals(UDP4, count(sink.verdicts, d -> d.is(4, 17, client.ip4(), 41000, server.ip4(), DENIED)));
                assertEquals(UDP6, count(sink.verdicts, d -> d.is(6, 17, client.ip6(), 41001, server.ip6(), DENIED)));
                assertEquals(tcp4, count(sink.verdicts, d -> d.is(4, 6, client.ip4(), 41002, server.ip4(), DENIED)));
                assertEquals(tcp6, count(sink.verdicts, d -> d.is(6, 6, client.ip6(), 41003, server.ip6(), DENIED)));
                assertEquals(0, count(sink.drops, d -> d.dstPort == ALLOWED) + count(sink.verdicts, d -> d.dstPort == ALLOWED));

                for (Seen d : sink.drops) {
                    checkDrop(d, config, override);
                }
                for (Seen v : sink.verdicts) {
                    checkVerdict(v, config);
                }
                // Each packet's verdict comes right before its drop on the same CPU, with the same hash.
                assertEquals(dropped, sink.pairs, "verdict/drop pairs with equal hash on one CPU");
            }

            // The reader's close emptied the slots it filled: the datapath's outputs now fail.
            long before = fixture.droppedCount();
            lab.sendUdp(client, server.ip4(), DENIED, 41006, 3);
            await(() -> fixture.droppedCount() == before + 3);
            assertEquals(6, fixture.outputErrors(), "3 drops and 3 verdicts with no reader installed");
        }
        assertFalse(Files.exists(pin), "pin removed");
        assertFalse(Files.exists(pin.getParent().getParent().getParent()), "pin directories removed");
        assertEquals("", lab.exec(server, "tc", "filter", "show", "dev", "eth0", "ingress").strip(), "tc filter removed");
        assertFalse(lab.exec(server, "tc", "qdisc", "show", "dev", "eth0").contains("clsact"), "clsact qdisc removed");
    }

    private static void checkDrop(Seen d, CiliumFixture.Config c, CiliumVersion override) {
        CiliumFixture.DropLayout layout = c.drop();
        String what = "drop " + d;
        assertEquals(layout.size, d.headerLength, what);
        assertEquals(layout.version, d.version, what);
        assertEquals(c.reason(), d.reason, what);
        assertEquals(c.sourceEndpoint(), d.source, what);
        assertEquals(c.srcIdentity(), d.srcIdentity, what);
        assertEquals(c.dstIdentity(), d.dstIdentity, what);
        assertEquals(c.dstEndpoint(), d.dstId, what);
        boolean v13 = layout.size >= 36;
        assertEquals(v13 ? c.line() : 0, d.line, what);
        assertEquals(v13 ? c.file() : 0, d.file, what);
        assertEquals(v13 ? serverIfindex : 0, d.ifindex, what);
        assertEquals(layout.size >= 40 && d.family == 6 ? DropNotify.FLAG_IPV6 : 0, d.flags, what);
        assertEquals(layout.size >= 48 ? c.ipTraceId() : 0, d.ipTraceId, what);
        checkCapture(d, c.capLen(), what);
    }

    private static void checkVerdict(Seen v, CiliumFixture.Config c) {
        String what = "verdict " + v;
        assertEquals(c.verdict().size, v.headerLength, what);
        assertEquals(1, v.version, what);
        assertEquals(c.sourceEndpoint(), v.source, what);
        assertEquals(c.srcIdentity(), v.remote, what);
        assertEquals(-c.reason(), v.verdict, what);
        assertEquals(c.reason(), v.reason, what);
        assertEquals(PolicyVerdictNotify.DIR_INGRESS, v.direction, what);
        assertEquals(v.family == 6, v.ipv6, what);
        assertEquals(c.matchType(), v.matchType, what);
        assertEquals(c.verdict().size >= 40 ? c.cookie() : 0, v.cookie, what);
        assertEquals(c.authType(), v.authType, what);
        assertEquals(DENIED, v.verdictPort, what);
        assertEquals(v.protocol, v.verdictProto, what);
        checkCapture(v, c.capLen(), what);
    }

    /** len_orig is the whole frame, len_cap its first min(cap_len, len_orig) bytes, then the perf padding. */
    private static void checkCapture(Seen s, int capLen, String what) {
        assertEquals(ETH_HEADER + s.ipLength, s.lenOrig, what + ": len_orig is the frame the packet's IP header describes");
        assertEquals(Math.min(capLen, s.lenOrig), s.lenCap, what);
        assertEquals(s.lenCap, s.packetLength, what);
        assertEquals(((s.headerLength + s.lenCap + 4 + 7) & ~7) - 4, s.rawLength, what + ": raw size");
        assertEquals(CapturedPacketParser.Status.OK, s.status, what);
        if (s.protocol == 6) {
            assertEquals(0x02, s.tcpFlags & 0x12, what + ": a SYN");
        }
    }

    @Test
    void aSinkThatThrowsIsCountedAndReadingGoesOn() throws Exception {
        CiliumFixture.Config config = CiliumFixture.Config.denyPort(DENIED);
        try (CiliumFixture fixture = CiliumFixture.open(server.netns(), "eth0", config)) {
            Collector good = new Collector(null);
            boolean[] thrown = {false};
            CiliumPayloadSink sink = new CiliumPayloadSink() {
                @Override
                public void onSample(MemorySegment data, long offset, int length, int cpu) {
                    if (!thrown[0]) {
                        thrown[0] = true;
                        throw new IllegalStateException("a broken sink");
                    }
                    good.onSample(data, offset, length, cpu);
                }

                @Override
                public void onLost(int cpu, long lost) {
                }
            };
            try (CiliumRingReader reader = CiliumRingReader.open(fixture.pinPath(), 8, sink)) {
                lab.sendUdp(client, server.ip4(), DENIED, 41010, 5);
                await(() -> reader.samples() == 10);
                assertEquals(10, reader.samples());
                assertEquals(1, reader.sinkErrors());
                assertEquals(9, good.drops.size() + good.verdicts.size());
                assertTrue(reader.running());
                assertTrue(reader.state().contains("sink errors 1"), reader.state());
            }
        }
    }

    @Test
    void openingWithoutAPinnedRingFailsClearly() {
        CiliumFixture.ensureBpffs();
        Path nowhere = Path.of("/sys/fs/bpf/droptrace-test-" + ProcessHandle.current().pid() + "-none/cilium_events");
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> CiliumRingReader.open(nowhere, 8, new Collector(null)));
        assertEquals("bpf_obj_get", e.call());
        assertTrue(e.getMessage().contains(nowhere.toString()), e.getMessage());
        assertTrue(CiliumRingReader.COEXISTENCE_WARNING.contains("steals"));
    }

    private static long count(ConcurrentLinkedQueue<Seen> seen, Predicate<Seen> which) {
        return seen.stream().filter(which).count();
    }

    private static void await(BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!done.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    private static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).strip().split("\\s+")[1].equals("0");
                }
            }
        } catch (Exception e) {
            return false;
        }
        return false;
    }

    /** One decoded notification, copied out of the ring for the assertions. */
    static final class Seen {
        int cpu, rawLength, headerLength, version, source, reason, lenCap, packetLength, ipLength;
        long hash, lenOrig;
        // drop
        long srcIdentity, dstIdentity, dstId, ipTraceId;
        int line, file, ifindex, flags;
        // verdict
        long remote, cookie;
        int verdict, verdictPort, verdictProto, direction, matchType, authType;
        boolean ipv6;
        // from the captured packet
        CapturedPacketParser.Status status;
        int family, protocol, srcPort, dstPort, tcpFlags;
        byte[] srcIp, dstIp;

        boolean is(int fam, int proto, String src, int sport, String dst, int dport) {
            return family == fam && protocol == proto && srcPort == sport && dstPort == dport
                    && Arrays.equals(srcIp, address(src)) && Arrays.equals(dstIp, address(dst));
        }

        private static byte[] address(String ip) {
            try {
                return InetAddress.getByName(ip).getAddress();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public String toString() {
            return "[cpu " + cpu + ", header " + headerLength + ", v" + version + ", len " + lenOrig + "/" + lenCap
                    + ", raw " + rawLength + ", family " + family + ", proto " + protocol + ", " + srcPort + "->" + dstPort + "]";
        }
    }

    /** Decodes every sample with the production decoder and keeps what it read. */
    static final class Collector implements CiliumPayloadSink {
        final CiliumMessageDecoder decoder;
        final ConcurrentLinkedQueue<Seen> drops = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Seen> verdicts = new ConcurrentLinkedQueue<>();
        final List<String> errorKinds = new ArrayList<>();
        final DropRecord record = new DropRecord().wrap(Arena.ofAuto().allocate(DropRecord.SIZE), 0);
        final long[] lastVerdictHash = new long[1024];
        volatile long errors;
        volatile long pairs;
        volatile long lost;

        Collector(CiliumVersion override) {
            this.decoder = new CiliumMessageDecoder(override);
            Arrays.fill(lastVerdictHash, -1);
        }

        @Override
        public void onSample(MemorySegment data, long offset, int length, int cpu) {
            CiliumMessageDecoder.Kind kind = decoder.decode(data, offset, length);
            if (kind != CiliumMessageDecoder.Kind.DROP && kind != CiliumMessageDecoder.Kind.POLICY_VERDICT) {
                errors++;
                errorKinds.add(kind + " " + decoder.lastError());
                return;
            }
            Seen s = new Seen();
            s.cpu = cpu;
            s.rawLength = length;
            s.headerLength = decoder.headerLength();
            s.packetLength = decoder.packetLength();
            s.status = decoder.fill(record);
            s.family = record.family();
            s.protocol = record.protocol();
            s.srcPort = record.srcPort();
            s.dstPort = record.dstPort();
            s.tcpFlags = record.tcpFlags();
            int ipSize = s.family == 6 ? 16 : 4;
            s.srcIp = record.segment().asSlice(DropRecord.SRC_IP_OFFSET, ipSize).toArray(JAVA_BYTE);
            s.dstIp = record.segment().asSlice(DropRecord.DST_IP_OFFSET, ipSize).toArray(JAVA_BYTE);
            MemorySegment packet = decoder.packet();
            var be16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
            s.ipLength = s.family == 6 ? 40 + Short.toUnsignedInt(packet.get(be16, ETH_HEADER + 4))
                    : Short.toUnsignedInt(packet.get(be16, ETH_HEADER + 2));
            if (kind == CiliumMessageDecoder.Kind.DROP) {
                DropNotify d = decoder.drop();
                s.version = d.version();
                s.source = d.source();
                s.reason = d.reason();
                s.hash = d.hash();
                s.lenOrig = d.lenOrig();
                s.lenCap = d.lenCap();
                s.srcIdentity = d.srcLabel();
                s.dstIdentity = d.dstLabel();
                s.dstId = d.dstId();
                s.line = d.line();
                s.file = d.file();
                s.ifindex = d.ifindex();
                s.flags = d.flags();
                s.ipTraceId = d.ipTraceId();
                if (lastVerdictHash[cpu] == s.hash) {
                    pairs++;
                }
                lastVerdictHash[cpu] = -1;
                drops.add(s);
            } else {
                PolicyVerdictNotify v = decoder.policyVerdict();
                s.version = v.version();
                s.source = v.source();
                s.reason = v.dropReason();
                s.hash = v.hash();
                s.lenOrig = v.lenOrig();
                s.lenCap = v.lenCap();
                s.remote = v.remoteLabel();
                s.verdict = v.verdict();
                s.verdictPort = v.dstPort();
                s.verdictProto = v.proto();
                s.direction = v.direction();
                s.ipv6 = v.ipv6();
                s.matchType = v.matchType();
                s.cookie = v.cookie();
                s.authType = v.authType();
                lastVerdictHash[cpu] = s.hash;
                verdicts.add(s);
            }
        }

        @Override
        public void onLost(int cpu, long n) {
            lost += n;
        }
    }
}
