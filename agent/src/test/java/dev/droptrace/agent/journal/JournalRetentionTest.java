package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Retention by size and by age on a journal rolled every second by a clock the test moves: whole
 * old cycle files go, the current one stays, the size stays within bound + one cycle, evictions
 * are counted, and the names of the remaining events still resolve although the dictionary records
 * written first lived in evicted files.
 */
class JournalRetentionTest {
    static final long START = 1_700_000_000_000L; // a whole second
    @TempDir Path dir;
    /** 0: one excerpt per event; n: events written in batches closed every n events. */
    private int batchEvery;

    /** Writes {@code perCycle} events into each of {@code cycles} one-second cycles; returns the largest cycle file seen. */
    private long writeCycles(DropJournal j, SetTimeProvider clock, int cycles, int perCycle, long bound,
                             int ifaceId, int nodeId) throws IOException {
        long largest = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, START * 1_000_000, 9999);
            DropRecord r = new DropRecord().wrap(seg, 0);
            r.interfaceId(ifaceId).nodeId(nodeId).source(DropSource.KERNEL);
            for (int c = 0; c < cycles; c++) {
                if (batchEvery > 0) j.beginBatch();
                for (int i = 0; i < perCycle; i++) {
                    r.wallNs(clock.currentTimeMillis() * 1_000_000 + i);
                    j.appendEvent(seg, 0);
                    if (batchEvery > 0 && i % batchEvery == batchEvery - 1) {
                        j.endBatch();
                        j.beginBatch();
                    }
                }
                if (batchEvery > 0) j.endBatch();
                largest = Math.max(largest, largestFile());
                if (bound > 0) {
                    assertTrue(j.sizeBytes() <= bound + largest,
                            "cycle " + c + ": " + j.sizeBytes() + " bytes on disk > bound " + bound + " + one cycle " + largest);
                }
                clock.advanceMillis(1000);
            }
        }
        return largest;
    }

    private long largestFile() throws IOException {
        long max = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".cq4")).toList()) {
                max = Math.max(max, dev.droptrace.libc.Libc.allocatedBytes(p.toString()));
            }
        }
        return max;
    }

    private long cycleFiles() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".cq4")).count();
        }
    }

    private record ReadBack(long events, List<String> interfaces, List<String> nodes, List<String> reasons) {}

    private ReadBack readAll() {
        try (JournalReader reader = JournalReader.open(dir)) {
            DropView v = new DropView();
            long n = 0;
            java.util.Set<String> ifs = new java.util.TreeSet<>(), nodes = new java.util.TreeSet<>(), reasons = new java.util.TreeSet<>();
            while (reader.next(v)) {
                n++;
                ifs.add(String.valueOf(v.interfaceName()));
                nodes.add(String.valueOf(v.node()));
                reasons.add(String.valueOf(v.reasonName()));
            }
            assertEquals(0, reader.decodeErrors());
            return new ReadBack(n, List.copyOf(ifs), List.copyOf(nodes), List.copyOf(reasons));
        }
    }

    @Test
    void sizeBoundEvictsOldestCyclesAndNamesStillResolve() throws Exception {
        sizeBound();
    }

    @Test
    void batchedEventsAreEvictedAndCountedExactly() throws Exception {
        batchEvery = 50; // batch excerpts of 50 events
        sizeBound();
    }

    private void sizeBound() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(START).autoIncrement(0, java.util.concurrent.TimeUnit.MILLISECONDS);
        int perCycle = 3000, cycles = 30;
        long bound;
        // measure one cycle's size first, then bound the journal at three cycles' worth
        try (DropJournal probe = DropJournal.open(dir.resolve("probe"), TestRollCycles.TEST_SECONDLY, RetentionPolicy.UNBOUNDED, clock)) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = JournalTestEvents.udp(arena, 1, 9999);
                for (int i = 0; i < perCycle; i++) probe.appendEvent(seg, 0);
            }
            bound = 3 * probe.sizeBytes();
        }
        long written;
        try (DropJournal j = DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, new RetentionPolicy(bound, Duration.ZERO), clock)) {
            j.defineReason(DropSource.KERNEL, 2, "NOT_SPECIFIED");
            int eth = j.intern(DictionaryKind.STRING, "eth-first-cycle");
            int node = j.intern(DictionaryKind.STRING, "node-a");
            writeCycles(j, clock, cycles, perCycle, bound, eth, node);
            written = (long) cycles * perCycle;
            assertTrue(j.evictedFiles() > 0, "old cycles evicted");
            assertTrue(j.evictedBytes() > 0);
            assertTrue(cycleFiles() < cycles, cycleFiles() + " files left");
            assertTrue(j.dictionaryRewrites() >= cycles - 1, "dictionary written into each new cycle");
            ReadBack back = readAll();
            assertEquals(written, back.events() + j.evictedEvents(), "every event is either readable or counted as evicted");
            assertTrue(back.events() > 0 && back.events() < written);
            assertEquals(List.of("eth-first-cycle"), back.interfaces(), "names resolve after their first dictionary record was evicted");
            assertEquals(List.of("node-a"), back.nodes());
            assertEquals(List.of("NOT_SPECIFIED"), back.reasons());
        }
        // a restarted writer keeps the ids, counts the events of the files it finds (batches
        // included) and evicts them exactly; a new reader still resolves
        try (DropJournal j = DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, new RetentionPolicy(bound, Duration.ZERO), clock)) {
            assertEquals(1, j.intern(DictionaryKind.STRING, "eth-first-cycle"));
            long before = readAll().events();
            clock.advanceMillis(1000);
            writeCycles(j, clock, 4, perCycle, bound, 1, 2);
            assertEquals(before + 4L * perCycle, readAll().events() + j.evictedEvents(),
                    "after a restart, every event is still either readable or counted as evicted");
        }
        assertEquals(List.of("eth-first-cycle"), readAll().interfaces());
    }

    @Test
    void ageLimitEvictsCyclesThatEndedBeforeIt() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(START).autoIncrement(0, java.util.concurrent.TimeUnit.MILLISECONDS);
        try (DropJournal j = DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, new RetentionPolicy(0, Duration.ofSeconds(5)), clock)) {
            int eth = j.intern(DictionaryKind.STRING, "eth0");
            int node = j.intern(DictionaryKind.STRING, "n");
            writeCycles(j, clock, 12, 10, 0, eth, node);
            // the clock now stands one second after the last write; applying retention when idle works too
            clock.advanceMillis(3000);
            j.enforceRetention();
            long files = cycleFiles();
            assertTrue(files <= 5 && files >= 1, files + " files: only cycles that ended within the last 5 s (and the current) remain");
            assertEquals(12 - files, j.evictedFiles());
            assertEquals(120, readAll().events() + j.evictedEvents());
            assertEquals(List.of("eth0"), readAll().interfaces());
        }
    }

    @Test
    void aStormInOneCycleIsCappedAtHalfTheSizeAndCounted() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(START).autoIncrement(0, java.util.concurrent.TimeUnit.MILLISECONDS);
        long bound = 4L << 20;
        long cap = bound / 2 / DropJournal.EVENT_EXCERPT_BYTES;
        try (DropJournal j = DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, new RetentionPolicy(bound, Duration.ZERO), clock);
             Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, START * 1_000_000, 9999);
            long accepted = 0;
            for (long i = 0; i < 3 * cap; i++) {
                if (j.appendEvent(seg, 0)) accepted++;
            }
            assertEquals(cap, accepted, "one cycle takes half the bound in events");
            assertEquals(2 * cap, j.refusedEvents(), "the rest is refused and counted");
            assertTrue(j.sizeBytes() <= bound, j.sizeBytes() + " bytes on disk, bound " + bound);
            clock.advanceMillis(1000);
            assertTrue(j.appendEvent(seg, 0), "the next cycle accepts again");
            assertEquals(cap + 1, readAll().events());
        }
    }

    @Test
    void unboundedKeepsEverything() throws Exception {
        SetTimeProvider clock = new SetTimeProvider(START).autoIncrement(0, java.util.concurrent.TimeUnit.MILLISECONDS);
        try (DropJournal j = DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, RetentionPolicy.UNBOUNDED, clock)) {
            writeCycles(j, clock, 5, 10, 0, j.intern(DictionaryKind.STRING, "x"), 0);
            assertEquals(0, j.enforceRetention());
            assertEquals(0, j.evictedFiles());
            assertEquals(5, cycleFiles());
            assertEquals(50, readAll().events());
        }
    }
}
