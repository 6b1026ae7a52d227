package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.droptrace.agent.lab.CalicoLab;
import dev.droptrace.agent.lab.NetnsLab;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kernel allows one listener per NFLOG group: a group someone else holds is reported with its
 * holder and left alone, the other groups still work, and the holder keeps receiving. Also: ENOBUFS
 * is counted and reading goes on, and opening does not touch the namespace's default loggers.
 */
@Tag("kernel")
class NflogCoexistenceKernelTest {

    @Test
    void aHeldGroupIsReportedAndLeftToItsHolder() throws Exception {
        NflogCollector.assumeRoot();
        try (CalicoLab lab = CalicoLab.create(225, CalicoLab.Dataplane.IPTABLES, CalicoLab.IdFormat.V3_32);
             NflogSocket holder = NflogSocket.openIn(lab.nodeNetns(), NflogSocket.Settings.forGroups(1))) {
            assertInstanceOf(NflogGroupState.Bound.class, holder.group(1));
            NflogCollector holderSink = new NflogCollector();
            NflogCollector agentSink = new NflogCollector();
            CalicoLab.Prefixes p = lab.prefixes();
            List<String> ingress = List.of(p.edgePassFrontend(), p.allowFrontendDns());
            List<String> egress = List.of(p.limitEgressAllow(), p.egressProfileEnd());
            try (NflogReader holderReader = NflogReader.start(holder, holderSink)) {
                try (NflogSocket agent = NflogSocket.openIn(lab.nodeNetns(), NflogSocket.Settings.forGroups(1, 2))) {
                    NflogGroupState.Held held = assertInstanceOf(NflogGroupState.Held.class, agent.group(1), agent.state());
                    assertEquals(holder.portId(), held.holderPortId(), agent.state());
                    NflogInstance line = held.holder().orElseThrow();
                    assertEquals(1, line.group());
                    assertEquals(2, line.copyMode(), "the holder copies packets: " + line);
                    assertEquals(255, line.copyRange(), line.toString());
                    assertInstanceOf(NflogGroupState.Bound.class, agent.group(2), agent.state());
                    assertEquals(List.of(2), agent.boundGroups());
                    assertTrue(agent.state().contains("group 1 held by portid " + holder.portId()), agent.state());

                    List<NflogInstance> instances = NflogInstance.parse(lab.execInNode("cat", "/proc/net/netfilter/nfnetlink_log"));
                    assertEquals(Optional.of(holder.portId()), portOf(instances, 1), "group 1 still the holder's");
                    assertEquals(Optional.of(agent.portId()), portOf(instances, 2));

                    try (NflogReader agentReader = NflogReader.start(agent, agentSink)) {
                        lab.sendUdp(lab.frontend(), lab.backend(), CalicoLab.DNS_UDP_PORT, 42001, 3, false);
                        lab.sendUdp(lab.other(), lab.backend(), CalicoLab.DNS_UDP_PORT, 42002, 2, false);
                        Map<String, Long> counters = lab.nflogCounts();
                        assertEquals(3, counters.get(p.allowFrontendDns()));
                        assertEquals(2, counters.get(p.egressProfileEnd()));
                        long in = sum(counters, ingress);
                        long out = sum(counters, egress);
                        assertTrue(NflogCollector.await(() -> holderReader.packets() >= in && agentReader.packets() >= out),
                                holderReader.state() + "\n" + agentReader.state());
                        assertEquals(only(counters, egress), agentSink.countsByPrefix(s -> true), "the agent gets group 2, exactly");
                        assertEquals(only(counters, ingress), holderSink.countsByPrefix(s -> true), "the holder gets group 1, exactly");
                        assertTrue(agentSink.seen().stream().allMatch(s -> s.group() == 2));
                        assertTrue(holderSink.seen().stream().allMatch(s -> s.group() == 1));
                    }
                }
                // the agent is gone: its group 2 instance with it; the holder still owns group 1 and still receives
                List<NflogInstance> after = NflogInstance.parse(lab.execInNode("cat", "/proc/net/netfilter/nfnetlink_log"));
                assertEquals(Optional.of(holder.portId()), portOf(after, 1));
                assertEquals(Optional.empty(), portOf(after, 2));
                lab.sendUdp(lab.frontend(), lab.backend(), CalicoLab.DNS_UDP_PORT, 42003, 2, false);
                Map<String, Long> counters = lab.nflogCounts();
                assertEquals(5, counters.get(p.allowFrontendDns()));
                long in = sum(counters, ingress);
                assertTrue(NflogCollector.await(() -> holderReader.packets() >= in), holderReader.state());
                assertEquals(only(counters, ingress), holderSink.countsByPrefix(s -> true));
                assertEquals(0, holderReader.overruns());
            }
        }
    }

    @Test
    void overrunsAreCountedAndReadingGoesOn() throws Exception {
        NflogCollector.assumeRoot();
        // one record per datagram and the smallest receive buffer the kernel allows
        NflogSocket.Settings tiny = NflogSocket.Settings.forGroups(1, 2).withReceiveBufferBytes(1).withFlush(1, 1);
        try (CalicoLab lab = CalicoLab.create(226, CalicoLab.Dataplane.IPTABLES, CalicoLab.IdFormat.V3_30);
             NflogSocket socket = NflogSocket.openIn(lab.nodeNetns(), tiny)) {
            assertEquals(List.of(1, 2), socket.boundGroups(), socket.state());
            CalicoLab.Prefixes p = lab.prefixes();
            List<String> burst = List.of(p.limitEgressAllow(), p.edgePassFrontend(), p.allowFrontendDns());
            List<String> after = List.of(p.profileDmzDiscard(), p.edgeDenyOtherDiscard());
            // nobody reads while the burst is logged, so the queue overflows
            lab.sendUdp(lab.frontend(), lab.backend(), CalicoLab.DNS_UDP_PORT, 43001, 300, false);
            NflogCollector sink = new NflogCollector();
            try (NflogReader reader = NflogReader.start(socket, sink)) {
                assertTrue(NflogCollector.await(() -> reader.overruns() > 0), reader.state());
                long logged = sum(lab.nflogCounts(), burst);
                assertEquals(900, logged, "300 packets, three NFLOG rules each");
                assertTrue(NflogCollector.await(() -> socket.netlink().overruns() > 0), "the socket counts them too");

                // a buffer that fits, and the same reader goes on: the next records arrive exactly
                assertTrue(socket.netlink().receiveBufferSize(8 << 20) >= 8 << 20);
                lab.sendUdp(lab.other(), lab.backend(), CalicoLab.DISCARD_UDP_PORT, 43002, 5, false);
                Map<String, Long> counters = lab.nflogCounts();
                assertEquals(5, counters.get(p.edgeDenyOtherDiscard()));
                assertTrue(NflogCollector.await(() -> count(sink, after) >= 10), reader.state());
                assertEquals(only(counters, after), sink.countsByPrefix(s -> after.contains(s.prefix())));
                assertTrue(count(sink, burst) < logged, "records were lost in the overrun: " + reader.state());
                assertTrue(reader.isRunning(), reader.state());
                assertEquals(0, reader.malformed());
            }
        }
    }

    @Test
    void openingLeavesTheDefaultLoggersAloneUnlessAskedToRebind() throws Exception {
        NflogCollector.assumeRoot();
        try (NetnsLab lab = NetnsLab.create(223)) {
            NetnsLab.Pod ns = lab.addPod("nflog");
            String before = lab.exec(ns, "cat", "/proc/net/netfilter/nf_log");
            try (NflogSocket s = NflogSocket.openIn(ns.netns(), NflogSocket.Settings.forGroups(7))) {
                assertEquals(List.of(7), s.boundGroups(), s.state());
                assertEquals(before, lab.exec(ns, "cat", "/proc/net/netfilter/nf_log"));
            }
            try (NflogSocket s = NflogSocket.openIn(ns.netns(), NflogSocket.Settings.forGroups(7).withRebindFamily(true))) {
                assertEquals(List.of(7), s.boundGroups(), "PF_UNBIND and PF_BIND were acked: " + s.state());
                String rebound = lab.exec(ns, "cat", "/proc/net/netfilter/nf_log");
                assertNotEquals(before, rebound, "Felix's sequence rebinds AF_INET's default logger");
                assertTrue(rebound.lines().anyMatch(l -> l.strip().startsWith("2 nfnetlink_log")), rebound);
            }
        }
    }

    private static Optional<Integer> portOf(List<NflogInstance> instances, int group) {
        return instances.stream().filter(i -> i.group() == group).map(NflogInstance::portId).findFirst();
    }

    private static long sum(Map<String, Long> counters, List<String> prefixes) {
        return prefixes.stream().mapToLong(p -> counters.getOrDefault(p, 0L)).sum();
    }

    private static Map<String, Long> only(Map<String, Long> counters, List<String> prefixes) {
        Map<String, Long> out = new java.util.TreeMap<>();
        for (String p : prefixes) {
            if (counters.getOrDefault(p, 0L) > 0) out.put(p, counters.get(p));
        }
        return out;
    }

    private static long count(NflogCollector sink, List<String> prefixes) {
        return sink.seen().stream().filter(s -> prefixes.contains(s.prefix())).count();
    }
}
