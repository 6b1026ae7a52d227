package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.btf.DropReasons;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import static dev.droptrace.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Real drops in network namespaces: what droptrace journals must equal the kernel's own counters
 * (iptables rule counters, SNMP NoPorts), with the exact 5-tuple, reason, netns and ifindex.
 */
@Tag("kernel")
class KernelDropsTest {
    static final int UDP_DROP_PORT = 9999;
    static final int TCP_DROP_PORT = 8080;
    static final int CLOSED_PORT = 7777;

    @TempDir Path journal;
    NetnsLab lab;
    NetnsLab.Pod client;
    NetnsLab.Pod server;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = clientServer(210, UDP_DROP_PORT);
        client = lab.pod("client");
        server = lab.pod("server");
        // rule 1: UDP (clientServer), rule 2: TCP; the same two in ip6tables
        lab.iptables(server, "-A", "INPUT", "-p", "tcp", "--dport", "" + TCP_DROP_PORT, "-j", "DROP");
        lab.ip6tables(server, "-A", "INPUT", "-p", "udp", "--dport", "" + UDP_DROP_PORT, "-j", "DROP");
        lab.ip6tables(server, "-A", "INPUT", "-p", "tcp", "--dport", "" + TCP_DROP_PORT, "-j", "DROP");
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @Test
    void journaledDropsEqualTheKernelsCounters() throws Exception {
        long netns = lab.netnsInode(server);
        int ifindex = lab.ifindex(server, "eth0");
        long noPorts4Before = lab.snmpCounter(server, "Udp", "NoPorts");
        long noPorts6Before = lab.snmpCounter(server, "Udp6", "NoPorts");
        DropReasons reasons = DropReasons.fromKernel();

        // aggregation off: this test checks every drop's own record (DropStormTest covers aggregation)
        try (Agent agent = Agent.start(new Agent.Config(journal, "test-node", Set.of("kernel")).withAggregateInterval(0))) {
            assertTrue(agent.anyAttached(), "kernel source attached: " + agent.sourceStates());
            assertTrue(bpfLinks() >= 1, "this process holds the program's BPF link while attached");
            lab.sendUdp(client, server.ip4(), UDP_DROP_PORT, 40001, 50);
            lab.sendUdp(client, server.ip6(), UDP_DROP_PORT, 40003, 30);
            lab.sendUdp(client, server.ip4(), CLOSED_PORT, 40005, 20);
            lab.sendUdp(client, server.ip6(), CLOSED_PORT, 40006, 10);
            lab.tryTcp(client, server.ip4(), TCP_DROP_PORT, 40002, 1200);
            lab.tryTcp(client, server.ip6(), TCP_DROP_PORT, 40004, 1200);

            long udp4 = lab.ruleCounter(server, false, "INPUT", 1);
            long tcp4 = lab.ruleCounter(server, false, "INPUT", 2);
            long udp6 = lab.ruleCounter(server, true, "INPUT", 1);
            long tcp6 = lab.ruleCounter(server, true, "INPUT", 2);
            long noPorts4 = lab.snmpCounter(server, "Udp", "NoPorts") - noPorts4Before;
            long noPorts6 = lab.snmpCounter(server, "Udp6", "NoPorts") - noPorts6Before;
            assertEquals(50, udp4, "iptables saw every UDP datagram");
            assertEquals(30, udp6);
            assertEquals(20, noPorts4);
            assertEquals(10, noPorts6);
            assertTrue(tcp4 >= 1 && tcp6 >= 1, "SYNs were dropped");

            long expected = udp4 + tcp4 + udp6 + tcp6 + noPorts4 + noPorts6;
            List<JsonNode> events = awaitEvents(journal, e -> sumCount(e, x -> x.path("src_port").asInt() >= 40001
                            && x.path("src_port").asInt() <= 40006) >= expected,
                    "--netns", Long.toString(netns));

            Predicate<JsonNode> udpDrop4 = flow("ipv4", "UDP", UDP_DROP_PORT);
            Predicate<JsonNode> tcpDrop4 = flow("ipv4", "TCP", TCP_DROP_PORT);
            Predicate<JsonNode> udpDrop6 = flow("ipv6", "UDP", UDP_DROP_PORT);
            Predicate<JsonNode> tcpDrop6 = flow("ipv6", "TCP", TCP_DROP_PORT);
            Predicate<JsonNode> closed4 = flow("ipv4", "UDP", CLOSED_PORT);
            Predicate<JsonNode> closed6 = flow("ipv6", "UDP", CLOSED_PORT);
            assertEquals(udp4, sumCount(events, udpDrop4), "IPv4 UDP drops = iptables counter");
            assertEquals(tcp4, sumCount(events, tcpDrop4), "IPv4 TCP drops = iptables counter");
            assertEquals(udp6, sumCount(events, udpDrop6), "IPv6 UDP drops = ip6tables counter");
            assertEquals(tcp6, sumCount(events, tcpDrop6), "IPv6 TCP drops = ip6tables counter");
            assertEquals(noPorts4, sumCount(events, closed4), "NO_SOCKET drops = Udp NoPorts");
            assertEquals(noPorts6, sumCount(events, closed6), "NO_SOCKET drops = Udp6 NoPorts");
            // the namespace may also drop unrelated packets (IPv6 neighbour discovery, multicast); check ours
            List<JsonNode> ours = events.stream().filter(e -> e.path("src_port").asInt() >= 40001
                    && e.path("src_port").asInt() <= 40006).toList();
            assertEquals(expected, sumCount(ours, e -> true), "every test drop journaled once");
            for (JsonNode e : ours) {
                boolean v4 = e.get("family").asText().equals("ipv4");
                int dport = e.get("dst_port").asInt();
                String reason = dport == CLOSED_PORT ? "NO_SOCKET" : "NETFILTER_DROP";
                assertEquals("kernel", e.get("source").asText());
                assertEquals(reason, e.get("reason").asText(), e.toString());
                assertEquals(reasons.code(reason), e.get("reason_code").asInt(), e.toString());
                assertEquals(v4 ? client.ip4() : client.ip6(), e.get("src_ip").asText());
                assertEquals(v4 ? server.ip4() : server.ip6(), e.get("dst_ip").asText());
                int sport = e.get("src_port").asInt();
                int expectedSport = switch (e.get("protocol").asText() + dport + (v4 ? 4 : 6)) {
                    case "UDP99994" -> 40001;
                    case "UDP99996" -> 40003;
                    case "TCP80804" -> 40002;
                    case "TCP80806" -> 40004;
                    case "UDP77774" -> 40005;
                    case "UDP77776" -> 40006;
                    default -> throw new AssertionError("unexpected flow " + e);
                };
                assertEquals(expectedSport, sport, e.toString());
                assertEquals(netns, e.get("netns").asLong());
                assertEquals(ifindex, e.get("ifindex").asInt());
                assertEquals("eth0", e.get("interface").asText());
                assertEquals("test-node", e.get("node").asText());
                assertEquals(1, e.get("count").asInt());
                assertTrue(e.get("length").asInt() > 0);
                assertTrue(e.hasNonNull("time"));
                assertTrue(e.hasNonNull("location"), "drop site resolved: " + e);
                if (e.get("protocol").asText().equals("TCP")) assertEquals("SYN", e.get("tcp_flags").asText());
                else assertFalse(e.has("tcp_flags"));
            }
        }
    }

    @Test
    void closingTheAgentDetachesTheProgram() throws Exception {
        long before = bpfLinks();
        Agent agent = Agent.start(new Agent.Config(journal, "test-node", Set.of("kernel")));
        assertTrue(agent.anyAttached(), agent.sourceStates().toString());
        assertEquals(before + 1, bpfLinks(), "one link while attached");
        agent.close();
        assertEquals(before, bpfLinks(), "the link is gone after close");
    }

    /** BPF links held by this process: file descriptors that are anon_inode:bpf_link. */
    static long bpfLinks() throws Exception {
        long n = 0;
        try (var fds = java.nio.file.Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (java.nio.file.Files.readSymbolicLink(fd).toString().equals("anon_inode:bpf_link")) n++;
                } catch (java.io.IOException gone) {
                    // closed while listing
                }
            }
        }
        return n;
    }

    private static Predicate<JsonNode> flow(String family, String protocol, int dport) {
        return e -> e.path("family").asText().equals(family) && e.path("protocol").asText().equals(protocol)
                && e.path("dst_port").asInt() == dport;
    }
}
