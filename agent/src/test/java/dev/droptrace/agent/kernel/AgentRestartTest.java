package dev.droptrace.agent.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.lab.NetnsLab;
import dev.droptrace.agent.testing.ChildJvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static dev.droptrace.agent.kernel.KernelTestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

/** The agent as its own process: SIGKILL loses nothing journaled, and a restart resumes capture. */
@Tag("kernel")
class AgentRestartTest {
    static final int PORT = 9998;

    @TempDir Path journal;
    NetnsLab lab;
    NetnsLab.Pod client;
    NetnsLab.Pod server;
    Process agent;

    @BeforeEach
    void setUp() {
        assumeKernelTestbed();
        lab = clientServer(211, PORT);
        client = lab.pod("client");
        server = lab.pod("server");
    }

    @AfterEach
    void tearDown() {
        if (agent != null) agent.destroyForcibly();
        if (lab != null) lab.close();
    }

    @Test
    void sigkillLosesNothingAndRestartResumes() throws Exception {
        String netns = Long.toString(lab.netnsInode(server));
        agent = startAgent();
        lab.sendUdp(client, server.ip4(), PORT, 41000, 20);
        List<JsonNode> before = awaitEvents(journal, e -> sumCount(e, x -> true) >= 20, "--netns", netns, "--to-port", "" + PORT);
        assertEquals(20, sumCount(before, e -> true));

        agent.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, no final flush
        assertEquals(20, sumCount(observe(journal, "--netns", netns, "--to-port", "" + PORT), e -> true),
                "every drop journaled before the kill is still there");

        agent = startAgent();
        lab.sendUdp(client, server.ip4(), PORT, 41000, 15);
        long counter = lab.ruleCounter(server, false, "INPUT", 1);
        assertEquals(35, counter);
        List<JsonNode> after = awaitEvents(journal, e -> sumCount(e, x -> true) >= counter,
                "--netns", netns, "--to-port", "" + PORT);
        assertEquals(counter, sumCount(after, e -> true), "journal = iptables counter across the restart");

        // the agent refreshes its status once a second
        CliResult status = cli("status", "--journal", journal.toString(), "-o", "json");
        JsonNode s = JSON.readTree(status.out());
        for (int i = 0; i < 100 && s.path("by_reason").path("NETFILTER_DROP").asLong() < 15; i++) {
            Thread.sleep(100);
            status = cli("status", "--journal", journal.toString(), "-o", "json");
            s = JSON.readTree(status.out());
        }
        assertEquals(0, status.exit(), status.err());
        assertEquals("attached", s.path("sources").path("kernel").path("state").asText(), status.out());
        assertTrue(s.path("by_reason").path("NETFILTER_DROP").asLong() >= 15, status.out());
        assertEquals(0, s.path("lost").asLong());
        assertEquals(0, s.path("decode_errors").asLong());
        assertTrue(s.path("missed").isNumber(), status.out());
        assertTrue(s.path("refused").path("records").isNumber(), status.out());
        assertTrue(s.path("journal").path("drops").asLong() >= 35, status.out());
        assertEquals(0, s.path("journal_errors").path("records").asLong(), status.out());
        assertEquals(0, s.path("evicted").path("files").asLong(), status.out());
        assertTrue(s.path("aggregation").path("enabled").asBoolean(), status.out());
        assertTrue(s.path("journal").path("bytes").asLong() > 0, status.out());
    }

    private Process startAgent() throws Exception {
        List<String> cmd = ChildJvm.command(dev.droptrace.agent.cli.Main.class,
                "agent", "--journal", journal.toString(), "--node", "restart-test");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(journal.resolveSibling(journal.getFileName() + "-agent.log").toFile()).start();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<AgentStatus> st = AgentStatus.read(journal);
            if (st.isPresent() && st.get().pid() == p.pid() && st.get().sources().containsKey("kernel")) {
                assertEquals("attached", st.get().sources().get("kernel").state(), st.get().toString());
                return p;
            }
            assertTrue(p.isAlive(), "agent exited with " + (p.isAlive() ? "" : p.exitValue()));
            Thread.sleep(100);
        }
        throw new AssertionError("agent did not report its sources");
    }
}
