package dev.droptrace.agent.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.*;

/** The command line without a kernel: empty journals, bad arguments, unusable directories. */
class CliTest {
    @TempDir Path dir;

    record Result(int exit, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int exit = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Result(exit, out.toString(), err.toString());
    }

    @Test
    void observeOnAnEmptyJournalPrintsNothingAndExitsZero() {
        for (String format : new String[] {"json", "compact"}) {
            Result r = run("observe", "--journal", dir.toString(), "-o", format);
            assertEquals(0, r.exit(), r.err());
            assertEquals("", r.out());
        }
        Result last = run("observe", "--journal", dir.resolve("never-written").toString(), "--last", "5", "-o", "json");
        assertEquals(0, last.exit(), last.err());
        assertEquals("", last.out());
    }

    @Test
    void agentOnAJournalUnderAFileFailsWithOneClearLine() throws Exception {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        Result r = run("agent", "--journal", file.resolve("journal").toString(), "--node", "t");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("journal"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertEquals("x", Files.readString(file), "nothing overwritten");
    }

    @Test
    void statusWithoutAnAgentSaysSo() {
        Result r = run("status", "--journal", dir.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("no agent has written to this journal"), r.out());
        Result j = run("status", "--journal", dir.toString(), "-o", "json");
        assertTrue(j.out().contains("\"sources\""), j.out());
        assertTrue(j.out().contains("\"by_reason\""), j.out());
    }

    @Test
    void badTimeIsAClearError() {
        Result r = run("observe", "--journal", dir.toString(), "--since", "yesterday-ish");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("not a time"), r.err());
    }

    @Test
    void timeArgumentsParseLikeHubble() {
        Instant now = Instant.parse("2026-11-23T12:00:00Z");
        assertEquals(Instant.parse("2026-11-23T11:55:00Z"), TimeArg.parse("5m", now));
        assertEquals(Instant.parse("2026-11-23T11:59:30Z"), TimeArg.parse("30s", now));
        assertEquals(Instant.parse("2026-11-23T10:00:00Z"), TimeArg.parse("2h", now));
        assertEquals(Instant.parse("2026-11-23T10:00:00Z"), TimeArg.parse("2026-11-23T11:00:00+01:00", now));
    }

    @Test
    void agentOptionsBecomeItsConfig() {
        AgentCommand c = new AgentCommand();
        new picocli.CommandLine(c).parseArgs("--journal", dir.toString(), "--aggregate-interval", "250ms",
                "--retention-size", "64MiB", "--retention-age", "2h", "--roll-cycle", "TEST_SECONDLY");
        dev.droptrace.agent.Agent.Config cfg = c.config("n");
        assertEquals(250_000_000L, cfg.aggregateIntervalNs());
        assertEquals(64L << 20, cfg.retention().maxBytes());
        assertEquals(java.time.Duration.ofHours(2), cfg.retention().maxAge());
        assertEquals("TEST_SECONDLY", ((Enum<?>) cfg.rollCycle()).name());

        AgentCommand defaults = new AgentCommand();
        new picocli.CommandLine(defaults).parseArgs();
        dev.droptrace.agent.Agent.Config d = defaults.config("n");
        assertEquals(1_000_000_000L, d.aggregateIntervalNs(), "aggregation on by default, 1 s");
        assertEquals(1L << 30, d.retention().maxBytes(), "1 GiB by default");
        assertEquals(java.time.Duration.ofHours(24), d.retention().maxAge());

        AgentCommand off = new AgentCommand();
        new picocli.CommandLine(off).parseArgs("--no-aggregate");
        assertEquals(0, off.config("n").aggregateIntervalNs());
        AgentCommand zero = new AgentCommand();
        new picocli.CommandLine(zero).parseArgs("--aggregate-interval", "0", "--retention-size", "0", "--retention-age", "0");
        assertEquals(0, zero.config("n").aggregateIntervalNs());
        assertEquals(dev.droptrace.agent.journal.RetentionPolicy.UNBOUNDED, zero.config("n").retention());
        assertThrows(IllegalArgumentException.class, () -> TimeArg.size("lots"));
        assertEquals(1536, TimeArg.size("1536"));
        assertEquals(3L << 30, TimeArg.size("3G"));
    }

    @Test
    void statusShowsLossEvictionAndAggregation() throws Exception {
        dev.droptrace.agent.AgentStatus st = new dev.droptrace.agent.AgentStatus(ProcessHandle.current().pid(), "n",
                "2026-11-23T12:00:00Z", "2026-11-23T12:00:01Z", false,
                java.util.Map.of("kernel", dev.droptrace.agent.AgentStatus.SourceStatus.attached("tp_btf/kfree_skb")),
                40, 1_000_007, 3, 2, java.util.Map.of("NETFILTER_DROP", 1_000_007L), 1_000_000,
                new dev.droptrace.agent.AgentStatus.JournalErrors(1, 5),
                new dev.droptrace.agent.AgentStatus.Evicted(2, 8192, 77),
                new dev.droptrace.agent.AgentStatus.Refused(4, 9),
                new dev.droptrace.agent.AgentStatus.Aggregation(true, "PT1S", 1_000_000, 40, 25000.0, 999_960, 30,
                        999_960, 0, 16384, 1, 31, 0),
                new dev.droptrace.agent.AgentStatus.Retention(1L << 30, "PT24H", "FAST_HOURLY"), 6,
                new dev.droptrace.agent.AgentStatus.Identities(12, true, 40), null, null);
        st.write(dir);
        Result text = run("status", "--journal", dir.toString());
        assertEquals(0, text.exit(), text.err());
        assertTrue(text.out().contains("lost in ring 3   missed (program busy on the CPU) 6   decode errors 2   journal errors 1 (5 drops)   refused at size limit 4 (9 drops)"), text.out());
        assertTrue(text.out().contains("evicted    2 files, 8.0 KiB, 77 events"), text.out());
        assertTrue(text.out().contains("aggregation every PT1S   ratio 25000.00 (1000000 drops / 40 records)"), text.out());
        Result json = run("status", "--journal", dir.toString(), "-o", "json");
        var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out());
        assertEquals(3, root.path("lost").asLong());
        assertEquals(2, root.path("decode_errors").asLong());
        assertEquals(6, root.path("missed").asLong());
        assertEquals(1, root.path("journal_errors").path("records").asLong());
        assertEquals(2, root.path("evicted").path("files").asLong());
        assertEquals(77, root.path("evicted").path("events").asLong());
        assertEquals(4, root.path("refused").path("records").asLong());
        assertEquals(25000.0, root.path("aggregation").path("ratio").asDouble());
        assertEquals("PT1S", root.path("aggregation").path("interval").asText());
        assertEquals(1L << 30, root.path("retention").path("max_bytes").asLong());
    }
}
