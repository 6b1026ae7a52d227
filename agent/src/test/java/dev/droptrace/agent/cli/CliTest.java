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
}
