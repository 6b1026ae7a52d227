package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.lab.CalicoLab;
import dev.droptrace.agent.source.calico.NflogReader;
import dev.droptrace.agent.source.calico.NflogSocket;
import dev.droptrace.agent.testing.ChildJvm;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static dev.droptrace.agent.kernel.KernelTestSupport.JSON;
import static dev.droptrace.agent.kernel.KernelTestSupport.assumeKernelTestbed;
import static dev.droptrace.agent.kernel.KernelTestSupport.awaitEvents;
import static dev.droptrace.agent.kernel.KernelTestSupport.cli;
import static dev.droptrace.agent.kernel.KernelTestSupport.observe;
import static dev.droptrace.agent.kernel.KernelTestSupport.sumCount;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent as a node runs it: started inside the Calico-shaped node namespace with
 * {@code ip netns exec}, while another listener (calico-node's flow-log collector, here a plain
 * NFLOG socket) already holds group 1. The agent reports the held group, leaves it to its holder,
 * journals group 2's denies merged with the kernel's drops, and the group-1 denies still appear as
 * the kernel's NETFILTER_DROP events: nothing is lost.
 */
@Tag("kernel")
class CalicoAgentInNodeTest {
    @TempDir
    Path dir;

    @BeforeEach
    void root() {
        assumeKernelTestbed();
    }

    @Test
    void aHeldGroupIsReportedAndNothingElseIsLost() throws Exception {
        try (CalicoLab lab = CalicoLab.create(231, CalicoLab.Dataplane.IPTABLES, CalicoLab.IdFormat.V3_32);
             NflogSocket holder = NflogSocket.openIn(lab.nodeNetns(), NflogSocket.Settings.forGroups(CalicoLab.INGRESS_GROUP));
             NflogReader holderReader = NflogReader.start(holder, (buf, off, len) -> { })) {
            CalicoLab.Workload fe = lab.frontend(), be = lab.backend(), ot = lab.other();
            StringBuilder inv = new StringBuilder("pods:\n");
            for (CalicoLab.Workload w : lab.workloads()) {
                inv.append("  - {namespace: %s, name: %s, ips: [\"%s\", \"%s\"]}\n".formatted(w.namespace(), w.name(), w.ip4(), w.ip6()));
            }
            Path inventory = Files.writeString(dir.resolve("inventory.yaml"), inv);
            Path journal = dir.resolve("journal");
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", lab.nodeNetns()));
            cmd.addAll(ChildJvm.command(dev.droptrace.agent.cli.Main.class, "agent", "--journal", journal.toString(),
                    "--node", "n1", "--sources", "kernel,calico", "--inventory", inventory.toString()));
            Process agent = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("agent.log").toFile()).start();
            try {
                AgentStatus st = awaitStatus(journal, agent);
                assertEquals("attached", st.sources().get("calico").state(), st.sources().toString());
                // status says plainly that group 1 is held, and by whom
                KernelTestSupport.CliResult status = cli("status", "--journal", journal.toString(), "-o", "json");
                JsonNode groups = JSON.readTree(status.out()).path("calico").path("groups");
                assertTrue(groups.path("1").asText().contains("held by portid " + holder.portId()), status.out());
                assertEquals("group 2 bound", groups.path("2").asText(), status.out());
                assertTrue(cli("status", "--journal", journal.toString()).out().contains("held by portid " + holder.portId()));

                lab.sendUdp(fe, be, CalicoLab.ECHO_UDP_PORT, 47001, 3, false);     // egress deny, group 2 (ours)
                lab.sendUdp(ot, be, CalicoLab.DISCARD_UDP_PORT, 47002, 2, false);  // ingress deny, group 1 (held)
                Map<String, Long> logged = lab.nflogCounts();
                CalicoLab.Prefixes p = lab.prefixes();
                assertEquals(3, logged.get(p.limitEgressDenyEcho()));
                assertEquals(2, logged.get(p.edgeDenyOtherDiscard()));
                awaitEvents(journal, e -> sumCount(e, x -> true) >= 3, "--source", "calico");
                long group1 = logged.entrySet().stream().filter(e -> e.getKey().charAt(2) == 'I').mapToLong(Map.Entry::getValue).sum();
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (holderReader.packets() < group1 && System.nanoTime() < deadline) Thread.sleep(50);
                assertEquals(group1, holderReader.packets(), "the holder keeps receiving group 1, all of it");
            } finally {
                agent.destroy(); // SIGTERM: the agent journals what still waits and exits
                assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "agent did not stop");
            }
            List<JsonNode> denied = observe(journal, "--source", "calico");
            assertEquals(3, sumCount(denied, x -> true), denied.toString());
            for (JsonNode e : denied) {
                assertEquals("POLICY_DENY", e.path("reason").asText(), e.toString());
                assertEquals("NETFILTER_DROP", e.path("kernel_reason").asText(), e.toString());
                assertEquals("limit-egress", e.at("/policy/name").asText(), e.toString());
                assertEquals("frontend", e.at("/src/pod").asText());
                assertEquals("backend", e.at("/dst/pod").asText());
                // the agent runs in the node's namespace: the cali interfaces have names there
                assertEquals(lab.frontend().iface(), e.at("/calico/indev").asText(), e.toString());
                assertEquals(lab.backend().iface(), e.at("/calico/outdev").asText(), e.toString());
                assertEquals(CalicoLab.EGRESS_GROUP, e.at("/calico/group").asInt());
                assertEquals("0x" + Integer.toHexString(CalicoLab.MARK_DROP), e.at("/calico/mark").asText(), e.toString());
            }
            List<JsonNode> held = observe(journal, "--to-port", "" + CalicoLab.DISCARD_UDP_PORT, "--from-ip", ot.ip4());
            assertEquals(2, sumCount(held, x -> true), "the held group's denies are still the kernel's drops: " + held);
            for (JsonNode e : held) {
                assertEquals("kernel", e.path("source").asText(), e.toString());
                assertEquals("NETFILTER_DROP", e.path("reason").asText(), e.toString());
            }
        }
    }

    private static AgentStatus awaitStatus(Path journal, Process p) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<AgentStatus> st = AgentStatus.read(journal);
            if (st.isPresent() && st.get().sources().containsKey("calico") && st.get().sourceDetail() != null) return st.get();
            assertTrue(p.isAlive(), "agent exited with " + (p.isAlive() ? "" : p.exitValue()));
            Thread.sleep(100);
        }
        throw new AssertionError("agent did not report its sources");
    }
}
