package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.agent.pipeline.SourceOptions;
import dev.droptrace.agent.source.cilium.CiliumFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static dev.droptrace.agent.kernel.KernelTestSupport.assumeKernelTestbed;
import static dev.droptrace.agent.kernel.KernelTestSupport.awaitEvents;
import static dev.droptrace.agent.kernel.KernelTestSupport.observe;
import static dev.droptrace.agent.kernel.KernelTestSupport.sumCount;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 5 end to end: the Cilium fixture (a tc program standing in for Cilium's datapath) drops
 * packets on the server pod's ingress and writes Cilium's policy verdict and drop notification into
 * a pinned cilium_events perf ring; the agent runs the kernel and Cilium sources (ring route), and
 * every dropped packet is journaled once: Cilium's reason and identities, both pods, and the kernel's
 * reason (TC_INGRESS) for the same packet.
 */
@Tag("kernel")
class CiliumDropsTest {
    private static final int DENIED = 8228, ALLOWED = 8229;
    private static final long SRC_IDENTITY = 70001, DST_IDENTITY = 4242;

    @TempDir
    Path dir;
    private NetnsLab lab;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = NetnsLab.create(228);
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @Test
    void eachCiliumDropIsOneEventMergedWithTheKernelRecord() throws Exception {
        NetnsLab.Pod client = lab.addPod("client");
        NetnsLab.Pod server = lab.addPod("server");
        lab.link(client, server, "eth0", "eth0");
        Path journal = dir.resolve("journal");
        long serverNetns = lab.netnsInode(server);
        Path inventory = Files.writeString(dir.resolve("inventory.yaml"), """
                pods:
                  - {namespace: shop, name: web-0, labels: {app: web}, ips: ["%s", "%s"]}
                  - {namespace: shop, name: api-0, labels: {app: api}, ips: ["%s", "%s"]}
                """.formatted(client.ip4(), client.ip6(), server.ip4(), server.ip6()));
        CiliumFixture.Config cfg = CiliumFixture.Config.denyPort(DENIED).withIdentities(SRC_IDENTITY, DST_IDENTITY);
        long dropped;
        AgentStatus status;
        try (CiliumFixture fx = CiliumFixture.open(server.netns(), "eth0", cfg)) {
            SourceOptions options = new SourceOptions(SourceOptions.DEFAULT_CILIUM_SOCKET, fx.pinPath(), 0, false,
                    SourceOptions.DEFAULT_NFLOG_GROUPS, false);
            try (Agent agent = Agent.start(new Agent.Config(journal, "n1", Set.of("kernel", "cilium"), null, inventory)
                    .withSourceOptions(options))) {
                assertEquals("attached", agent.sourceStates().get("cilium").state(), agent.sourceStates().toString());
                assertEquals("attached", agent.sourceStates().get("kernel").state(), agent.sourceStates().toString());
                lab.sendUdp(client, server.ip4(), DENIED, 45000, 7);
                lab.sendUdp(client, server.ip6(), DENIED, 45001, 4);
                lab.sendUdp(client, server.ip4(), ALLOWED, 45002, 3);
                lab.tryTcp(client, server.ip4(), DENIED, 45003, 1500);
                dropped = fx.droppedCount();
                long want = dropped;
                awaitEvents(journal, e -> sumCount(e, x -> true) >= want, "--source", "cilium", "--to-port", "" + DENIED);
                status = agent.status();
            } // closing the agent journals whatever still waits for its other half
        }
        assertTrue(dropped >= 12, "the fixture dropped " + dropped);
        List<JsonNode> cilium = observe(journal, "--source", "cilium", "--to-port", "" + DENIED);
        assertEquals(dropped, sumCount(cilium, x -> true), "one event per dropped packet: " + cilium);
        for (JsonNode e : cilium) {
            assertEquals("TC_INGRESS", e.path("kernel_reason").asText(), "merged with the kernel's record: " + e);
            assertEquals(1, e.path("count").asLong());
            assertEquals(SRC_IDENTITY, e.at("/cilium/src_identity").asLong(), e.toString());
            assertEquals(DST_IDENTITY, e.at("/cilium/dst_identity").asLong(), e.toString());
            assertEquals("web-0", e.at("/src/pod").asText(), e.toString());
            assertEquals("api-0", e.at("/dst/pod").asText(), e.toString());
            assertEquals(serverNetns, e.path("netns").asLong(), "the kernel's netns of the drop");
            assertEquals("eth0", e.path("interface").asText());
            assertEquals("ingress", e.path("direction").asText(), e.toString());
        }
        assertEquals(7, sumCount(cilium, e -> e.path("src_port").asInt() == 45000 && e.path("protocol").asText().equals("UDP")));
        assertEquals(4, sumCount(cilium, e -> e.path("src_port").asInt() == 45001 && e.path("family").asText().equals("ipv6")));
        assertTrue(sumCount(cilium, e -> e.path("src_port").asInt() == 45003 && e.path("tcp_flags").asText().contains("SYN")) >= 1);
        // the kernel's records of those packets were merged: none stands alone
        assertEquals(0, sumCount(observe(journal, "--source", "kernel", "--to-port", "" + DENIED), x -> true));
        // the fixture lets the other port through; nothing listens there, so the kernel drops it, alone
        assertEquals(0, sumCount(observe(journal, "--source", "cilium", "--to-port", "" + ALLOWED), x -> true));
        List<JsonNode> unlistened = observe(journal, "--to-port", "" + ALLOWED);
        assertEquals(3, sumCount(unlistened, x -> true), unlistened.toString());
        for (JsonNode e : unlistened) assertEquals("NO_SOCKET", e.path("reason").asText(), e.toString());
        assertTrue(status.pipeline().merged() > 0, status.pipeline().toString());
    }
}
