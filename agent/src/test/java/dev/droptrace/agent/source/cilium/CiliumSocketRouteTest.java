package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.droptrace.agent.Agent;
import dev.droptrace.agent.AgentStatus;
import dev.droptrace.agent.cli.Main;
import dev.droptrace.agent.pipeline.SourceOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default Cilium route through the agent: a fake cilium-agent serves the golden gob stream
 * (written by Go's encoder) on a unix socket, goes away and comes back; the agent journals the
 * notifications of both connections as Cilium events and counts the datapath's lost samples.
 */
class CiliumSocketRouteTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long LOST_PER_STREAM = (1L << 40) + 5 + 7; // payloads 3 and 7 of payloads.gob

    @TempDir
    Path dir;

    private static byte[] golden() throws Exception {
        try (InputStream in = CiliumSocketRouteTest.class.getResourceAsStream("/cilium/gob/payloads.gob")) {
            return in.readAllBytes();
        }
    }

    /** Serves one connection: the whole stream, then closes it and removes the socket file. */
    private static void serveOnce(Path socket, byte[] stream) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            try (SocketChannel c = server.accept()) {
                ByteBuffer b = ByteBuffer.wrap(stream);
                while (b.hasRemaining()) c.write(b);
            }
        } finally {
            Files.deleteIfExists(socket);
        }
    }

    private static List<JsonNode> observe(Path journal) throws Exception {
        StringWriter out = new StringWriter();
        int exit = Main.run(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true),
                "observe", "--journal", journal.toString(), "-o", "json", "--source", "cilium");
        assertEquals(0, exit);
        List<JsonNode> events = new ArrayList<>();
        for (String line : out.toString().split("\n")) if (!line.isBlank()) events.add(JSON.readTree(line));
        return events;
    }

    private static void await(java.util.function.Supplier<String> what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("gave up waiting for " + what.get());
            Thread.sleep(20);
        }
    }

    @SuppressWarnings("unchecked")
    private static long status(Agent agent, String key) {
        AgentStatus st = agent.status();
        Map<String, Object> cilium = st.sourceDetail().get("cilium");
        return ((Number) cilium.get(key)).longValue();
    }

    @Test
    void journalsBothStreamsAcrossAReconnect() throws Exception {
        Path socket = dir.resolve("monitor1_2.sock");
        Path journal = dir.resolve("journal");
        byte[] stream = golden();
        SourceOptions options = new SourceOptions(socket, null, 0, false, SourceOptions.DEFAULT_NFLOG_GROUPS, false);
        List<JsonNode> first;
        try (Agent agent = Agent.start(new Agent.Config(journal, "n1", Set.of("cilium")).withSourceOptions(options))) {
            assertEquals("attached", agent.sourceStates().get("cilium").state(), agent.sourceStates().toString());
            serveOnce(socket, stream); // cilium-agent starts after droptrace: the client waits for the socket
            await(() -> "the first stream's events: " + agent.status().pipeline() + " " + agent.status().sourceDetail(), () -> {
                try {
                    return agent.status().pipeline().ciliumPayloads() == 6 && observe(journal).size() >= 4;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            first = observe(journal);
            serveOnce(socket, stream); // cilium-agent restarted: a new connection, a new gob stream
            await(() -> "the second stream", () -> agent.status().pipeline().ciliumPayloads() == 12);
            await(() -> "the second stream's events", () -> {
                try {
                    return observe(journal).size() == 2 * first.size();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertEquals(2 * LOST_PER_STREAM, status(agent, "lost"));
            assertTrue(status(agent, "connects") >= 2);
        }
        List<JsonNode> all = observe(journal);
        assertEquals(8, all.size(), all.toString());
        // two drop notifications (payloads 1 and 9) and two denied verdicts (payloads 2 and 5) per stream
        assertEquals(4, all.stream().filter(e -> e.path("reason").asText().equals("POLICY_DENIED")
                && !e.at("/cilium/match_type").isTextual()).count(), all.toString());
        for (JsonNode e : all) {
            assertEquals("cilium", e.path("source").asText());
            assertEquals("TCP", e.path("protocol").asText(), e.toString());
            assertEquals("SYN", e.path("tcp_flags").asText(), e.toString());
            assertTrue(e.has("cilium"), e.toString());
            assertTrue(!e.has("kernel_reason"), "no kernel source, nothing to merge: " + e);
        }
    }
}
