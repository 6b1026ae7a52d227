package dev.droptrace.agent.journal;

import dev.droptrace.agent.testing.ChildJvm;

import dev.droptrace.agent.event.DropView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A full journal, simulated without mounting anything: the writer runs in a child JVM under
 * {@code ulimit -f}, so growing the queue file fails with EFBIG as it would with ENOSPC on a
 * preallocating file system. The writer must report "journal directory X is full" and everything
 * written before must stay readable; a writer without the limit then continues.
 */
class DiskFullTest {
    @TempDir
    Path tmp;

    @Test
    void fullJournalReportsAndKeepsWhatWasWritten() throws Exception {
        fullJournal(false);
    }

    /** In batches: the failed batch's events are reported lost, everything acknowledged before stays. */
    @Test
    void fullJournalInBatchesKeepsWhatWasAcknowledged() throws Exception {
        fullJournal(true);
    }

    private void fullJournal(boolean batched) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs /bin/bash for ulimit -f in KiB");
        Path dir = tmp.resolve("j");
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", "-c", "ulimit -f 100000 && exec \"$0\" \"$@\""));
        cmd.addAll(ChildJvm.command(DiskFullWriterMain.class, dir.toString()));
        if (batched) cmd.add("batch");
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out;
        try {
            out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        } finally {
            child.destroyForcibly();
        }
        List<String> lines = out.lines().filter(l -> !l.startsWith("[")).toList();
        assertEquals(2, lines.size(), out);
        String full = lines.get(0);
        assertTrue(full.startsWith("full "), out);
        String[] parts = full.split(" ", 3);
        long appended = Long.parseLong(parts[1]);
        assertTrue(appended > 1000, out);
        assertEquals("journal directory " + dir + " is full", parts[2]);
        assertEquals("again journal directory " + dir + " is full", lines.get(1));

        assertEquals(appended, readSequential(dir));
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            for (long i = appended; i < appended + 10; i++) {
                var seg = JournalTestEvents.udp(arena, 1, 9999);
                new dev.droptrace.agent.event.DropRecord().wrap(seg, 0).ktimeNs(i);
                j.appendEvent(seg, 0);
            }
        }
        assertEquals(appended + 10, readSequential(dir));
    }

    private static long readSequential(Path dir) {
        long n = 0;
        try (JournalReader r = JournalReader.open(dir)) {
            DropView v = new DropView();
            while (r.next(v)) {
                assertEquals(n, v.ktimeNs());
                n++;
            }
            assertEquals(0, r.decodeErrors());
        }
        return n;
    }
}
