package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.lab.NetnsLab;
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
 * Drop storms of one flow (UDP from one namespace to a port the other drops with iptables): with
 * per-flow aggregation the journal's summed counts equal the rule's counter exactly while the
 * records are far fewer than the drops; without it every drop is a record; a flow that stops has
 * its pending count journaled without another drop; closing the agent journals what is pending.
 */
@Tag("kernel")
class DropStormTest {
    static final int PORT = 9999;
    static final int SRC_PORT = 41000;
    static final long SECOND = 1_000_000_000L;

    @TempDir Path journal;
    NetnsLab lab;
    NetnsLab.Pod client;
    NetnsLab.Pod server;
    long netns;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = clientServer(243, PORT);
        client = lab.pod("client");
        server = lab.pod("server");
        netns = lab.netnsInode(server);
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    private Agent start(long aggregateIntervalNs) {
        Agent agent = Agent.start(new Agent.Config(journal, "storm-node", Set.of("kernel")).withAggregateInterval(aggregateIntervalNs));
        assertTrue(agent.anyAttached(), agent.sourceStates().toString());
        return agent;
    }

    private final Predicate<JsonNode> flow = e -> e.path("src_port").asInt() == SRC_PORT && e.path("dst_port").asInt() == PORT
            && e.path("protocol").asText().equals("UDP") && e.path("reason").asText().equals("NETFILTER_DROP");

    private long ruleCounter() {
        return lab.ruleCounter(server, false, "INPUT", 1);
    }

    /** Waits (bounded) until the journal's summed count for the flow reaches {@code expected}; returns the flow's records. */
    private List<JsonNode> awaitFlow(long expected) throws Exception {
        List<JsonNode> events = awaitEvents(journal, ev -> sumCount(ev, flow) >= expected, "--netns", Long.toString(netns));
        return events.stream().filter(flow).toList();
    }

    @Test
    void stormOfOneFlowAggregatedIsExact() throws Exception {
        try (Agent agent = start(SECOND)) {
            lab.sendUdp(client, server.ip4(), PORT, SRC_PORT, 400_000);
            long drops = ruleCounter();
            assertEquals(400_000, drops, "iptables dropped every datagram");
            List<JsonNode> records = awaitFlow(drops);
            assertEquals(drops, sumCount(records, e -> true), "summed counts = the rule's counter, exactly");
            assertTrue(records.size() * 100L < drops, records.size() + " records for " + drops + " drops");
            assertEquals(1, records.getFirst().get("count").asLong(), "the first drop of the flow is journaled at once, alone");
            for (JsonNode e : records) {
                assertEquals(client.ip4(), e.get("src_ip").asText());
                assertEquals(server.ip4(), e.get("dst_ip").asText());
                assertEquals(netns, e.get("netns").asLong());
                assertEquals("eth0", e.get("interface").asText());
                assertEquals("storm-node", e.get("node").asText());
            }
            AgentStatus s = agent.status();
            assertNotNull(s.aggregation());
            assertTrue(s.aggregation().enabled());
            assertTrue(s.aggregation().ratio() > 1, "ratio " + s.aggregation().ratio());
            assertTrue(s.aggregation().kernelAggregated() >= drops - records.size());
        }
    }

    @Test
    void withoutAggregationEveryDropIsARecord() throws Exception {
        try (Agent agent = start(0)) {
            lab.sendUdp(client, server.ip4(), PORT, SRC_PORT, 20_000);
            long drops = ruleCounter();
            assertEquals(20_000, drops);
            List<JsonNode> records = awaitFlow(drops);
            assertEquals(drops, sumCount(records, e -> true));
            assertEquals(drops, records.size(), "one record per drop");
            assertTrue(records.stream().allMatch(e -> e.get("count").asLong() == 1));
            assertFalse(agent.status().aggregation().enabled());
            assertEquals(0, agent.status().aggregation().kernelAggregated());
        }
    }

    @Test
    void aFlowThatStopsHasItsTailJournaledWithoutAnotherDrop() throws Exception {
        try (Agent agent = start(SECOND)) {
            lab.sendUdp(client, server.ip4(), PORT, SRC_PORT, 5_000);
            long drops = ruleCounter();
            assertEquals(5_000, drops);
            // no more traffic: only the periodic flush can bring the sum up to the counter
            List<JsonNode> records = awaitFlow(drops);
            assertEquals(drops, sumCount(records, e -> true), "the tail was flushed");
            assertTrue(records.size() < drops);
            assertTrue(agent.status().aggregation().flushes() >= 1);
        }
    }

    @Test
    void closingTheAgentJournalsWhatIsPending() throws Exception {
        long drops;
        // an hour's interval: no periodic flush happens during the test, only the one on close
        try (Agent agent = start(3600 * SECOND)) {
            lab.sendUdp(client, server.ip4(), PORT, SRC_PORT, 3_000);
            drops = ruleCounter();
            assertEquals(3_000, drops);
            assertTrue(agent.status().aggregation().pending() > 0, "counts wait in the kernel for the flush");
        }
        List<JsonNode> records = observe(journal, "--netns", Long.toString(netns)).stream().filter(flow).toList();
        assertEquals(drops, sumCount(records, e -> true), "close flushed the pending count");
        assertEquals(2, records.size(), "the first drop at once, the rest in one record on close: " + records);
        AgentStatus last = AgentStatus.read(journal).orElseThrow();
        assertTrue(last.stopped());
    }

    @Test
    void aFullFlowTableFallsBackToARecordPerDropAndStaysExact() throws Exception {
        System.setProperty(dev.droptrace.agent.source.kernel.KernelDropSource.FLOW_TABLE_SIZE_PROPERTY, "4");
        long expected = 0;
        try (Agent agent = start(3600 * SECOND)) {
            // 12 flows into a table of 4: the flows beyond the table's room are journaled drop by drop
            for (int p = 0; p < 12; p++) {
                lab.sendUdp(client, server.ip4(), PORT, SRC_PORT + 1 + p, 50);
            }
            expected = ruleCounter();
            assertEquals(600, expected);
            AgentStatus s = agent.status();
            assertTrue(s.aggregation().tableFull() > 0, "the table filled: " + s.aggregation());
            assertEquals(4, s.aggregation().tableCapacity());
        } finally {
            System.clearProperty(dev.droptrace.agent.source.kernel.KernelDropSource.FLOW_TABLE_SIZE_PROPERTY);
        }
        Predicate<JsonNode> ours = e -> e.path("src_port").asInt() > SRC_PORT && e.path("src_port").asInt() <= SRC_PORT + 12
                && e.path("dst_port").asInt() == PORT && e.path("reason").asText().equals("NETFILTER_DROP");
        List<JsonNode> records = observe(journal, "--netns", Long.toString(netns)).stream().filter(ours).toList();
        assertEquals(expected, sumCount(records, e -> true), "exact with the fallback (and the close flush)");
        assertTrue(records.stream().filter(e -> e.get("count").asLong() > 1).count() <= 4, "at most 4 flows aggregated");
    }

    @Test
    void anUnaggregatedStormKeepsTheJournalWithinItsBound() throws Exception {
        long bound = 4L << 20;
        long limit = bound + bound / 2 + (1L << 20); // bound, plus the current cycle's share, plus Chronicle's index pages
        long maxSeen = 0;
        long expected;
        try (Agent agent = Agent.start(new Agent.Config(journal, "storm-node", Set.of("kernel")).withAggregateInterval(0)
                .withRetention(new dev.droptrace.agent.journal.RetentionPolicy(bound, java.time.Duration.ZERO))
                .withRollCycle(net.openhft.chronicle.queue.rollcycles.TestRollCycles.TEST_SECONDLY))) {
            assertTrue(agent.anyAttached(), agent.sourceStates().toString());
            for (int i = 0; i < 12; i++) {
                lab.sendUdp(client, server.ip4(), PORT, SRC_PORT, 30_000);
                maxSeen = Math.max(maxSeen, dev.droptrace.agent.journal.DropJournal.diskBytes(journal));
                assertTrue(maxSeen <= limit, maxSeen + " bytes on disk, limit " + limit);
            }
            expected = ruleCounter();
            assertEquals(360_000, expected);
        }
        maxSeen = Math.max(maxSeen, dev.droptrace.agent.journal.DropJournal.diskBytes(journal));
        assertTrue(maxSeen <= limit, maxSeen + " bytes on disk, limit " + limit);
        AgentStatus s = AgentStatus.read(journal).orElseThrow();
        List<JsonNode> records = observe(journal, "--netns", Long.toString(netns)).stream().filter(flow).toList();
        long journaled = sumCount(records, e -> true);
        assertTrue(journaled > 0 && journaled < expected, journaled + " of " + expected + " still in the journal");
        assertTrue(s.evicted().files() > 0 || s.refused().records() > 0, "the bound was enforced: " + s);
        // every drop of the flow is journaled, evicted or refused, and all three are counted
        assertTrue(journaled + s.evicted().events() + s.refused().drops() >= expected,
                journaled + " journaled + " + s.evicted() + " + " + s.refused() + " < " + expected);
        assertTrue(records.stream().allMatch(e -> e.path("interface").asText().equals("eth0")
                && e.path("node").asText().equals("storm-node") && e.path("reason").asText().equals("NETFILTER_DROP")),
                "names resolve after eviction");
    }
}
