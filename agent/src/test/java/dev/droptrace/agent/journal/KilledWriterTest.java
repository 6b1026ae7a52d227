package dev.droptrace.agent.journal;

import dev.droptrace.agent.testing.ChildJvm;

import dev.droptrace.agent.event.DropView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A writer killed with SIGKILL mid-stream leaves a journal that reads back whole and accepts new writes. */
class KilledWriterTest {
    @TempDir
    Path tmp;

    @Test
    void sigkillMidStreamLosesNothingWritten() throws Exception {
        Path dir = tmp.resolve("j");
        long acknowledged = killChild(dir, Long.MAX_VALUE, false, 20_000);
        assertTrue(acknowledged >= 20_000, "child stopped early: " + acknowledged);
        long seen = readSequential(dir, acknowledged, -1);
        continueWriting(dir, seen);
    }

    @Test
    void sigkillInsideAnExcerptLeavesTheRestReadable() throws Exception {
        Path dir = tmp.resolve("j");
        killChild(dir, 5_000, true, Long.MAX_VALUE);
        long seen = readSequential(dir, 5_000, -1);
        assertEquals(5_000, seen);
        continueWriting(dir, seen);
    }

    @Test
    void sigkillMidBatchLosesNothingAcknowledged() throws Exception {
        Path dir = tmp.resolve("j");
        long acknowledged = killChild(dir, Long.MAX_VALUE, "batch", 20_000);
        assertTrue(acknowledged >= 20_000, "child stopped early: " + acknowledged);
        long seen = readSequential(dir, acknowledged, -1);
        continueWriting(dir, seen);
    }

    @Test
    void sigkillInsideABatchExcerptLeavesTheRestReadable() throws Exception {
        Path dir = tmp.resolve("j");
        killChild(dir, 5_000, "torn-batch", Long.MAX_VALUE);
        long seen = readSequential(dir, 5_000, -1);
        assertEquals(5_000, seen, "the torn batch is not read, nothing before it is lost");
        continueWriting(dir, seen);
    }

    private static long killChild(Path dir, long max, boolean torn, long killAfter) throws Exception {
        return killChild(dir, max, torn ? "torn" : "", killAfter);
    }

    /**
     * Runs {@link KilledWriterMain} in {@code mode} and SIGKILLs it once it has acknowledged
     * {@code killAfter} events or says "torn".
     */
    private static long killChild(Path dir, long max, String mode, long killAfter) throws Exception {
        List<String> cmd = ChildJvm.command(KilledWriterMain.class, dir.toString(), Long.toString(max));
        if (!mode.isEmpty()) {
            cmd.add(mode);
        }
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        long acknowledged = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("appended ")) {
                    acknowledged = Long.parseLong(line.substring("appended ".length()));
                    if (acknowledged >= killAfter) {
                        break;
                    }
                } else if (line.equals("torn")) {
                    break;
                }
            }
            child.destroyForcibly(); // SIGKILL while it keeps appending
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
        } finally {
            child.destroyForcibly();
        }
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
        return acknowledged;
    }

    /** A new writer continues: ids do not collide, events land after the old ones. */
    private static void continueWriting(Path dir, long seen) {
        int next;
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            next = j.intern(DictionaryKind.STRING, "after-restart");
            assertTrue(next > seen / 100, "interface ids continue after " + (seen / 100) + ": " + next);
            for (int i = 0; i < 10; i++) {
                var seg = JournalTestEvents.udp(arena, 2, 1);
                new dev.droptrace.agent.event.DropRecord().wrap(seg, 0).ktimeNs(seen + i).interfaceId(next).reasonCode(6);
                j.appendEvent(seg, 0);
            }
        }
        assertEquals(seen + 10, readSequential(dir, seen + 10, next));
    }

    /** Reads every event, checks ktime_ns runs 0..n-1 and names resolve; returns n. */
    private static long readSequential(Path dir, long atLeast, int restartInterface) {
        long n = 0;
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (r.next(v)) {
                assertEquals(n, v.ktimeNs(), "events in order without gaps");
                assertEquals("NETFILTER_DROP", v.reason());
                String expectedIf = v.record().interfaceId() == restartInterface ? "after-restart" : "veth-" + (n / 100);
                assertEquals(expectedIf, v.interfaceName());
                n++;
            }
            assertEquals(0, r.decodeErrors());
        }
        assertTrue(n >= atLeast, "read " + n + " events, the writer had acknowledged " + atLeast);
        return n;
    }
}
