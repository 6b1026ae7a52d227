package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** appendEvent and dictionary hits allocate nothing in steady state (bytes counted, not time). */
class AllocationTest {
    @TempDir
    Path tmp;

    @Test
    void appendAndInternHitsDoNotAllocate() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        int n = 100_000;
        try (DropJournal j = DropJournal.open(tmp.resolve("j")); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 1, 1);
            DropRecord r = new DropRecord().wrap(seg, 0);
            MemorySegment ifname = arena.allocate(16);
            ifname.setString(0, "veth-b");
            String node = "node-1";
            int ifId = j.internBytes(DictionaryKind.STRING, ifname, 0, 16);
            int nodeId = j.intern(DictionaryKind.STRING, node);
            int sink = 0;
            for (int round = 0; round < 3; round++) { // warm up, JIT
                sink += run(j, seg, r, ifname, node, n);
            }
            long before = mx.getThreadAllocatedBytes(tid);
            sink += run(j, seg, r, ifname, node, n);
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            assertEquals((long) 4 * n * (ifId + nodeId), sink);
            assertEquals(4L * n + 0, j.eventsAppended());
            double perEvent = (double) allocated / n;
            System.out.println("AllocationTest: " + allocated + " bytes over " + n + " appends");
            assertTrue(perEvent < 1.0, "allocated " + allocated + " bytes for " + n + " events (" + perEvent + " per event)");
        }
    }

    private static int run(DropJournal j, MemorySegment seg, DropRecord r, MemorySegment ifname, String node, int n) {
        int sink = 0;
        for (int i = 0; i < n; i++) {
            int ifId = j.internBytes(DictionaryKind.STRING, ifname, 0, 16);
            int nodeId = j.intern(DictionaryKind.STRING, node);
            r.interfaceId(ifId).nodeId(nodeId).ktimeNs(i);
            j.appendEvent(seg, 0);
            sink += ifId + nodeId;
        }
        return sink;
    }

    /**
     * A roll writes the whole dictionary into the new cycle; that rewrite allocates nothing per
     * entry (the entries are kept encoded), so a journal that rolls often under a storm does not
     * allocate in proportion to the pods it knows. Two rolls are compared: one with 2,000 more
     * entries than the other must not allocate more than a few bytes per extra entry.
     */
    @Test
    void aRollRewritesTheDictionaryWithoutAllocatingPerEntry() {
        long few = rollAllocation("few", 10);
        long many = rollAllocation("many", 2_010);
        System.out.println("AllocationTest: a roll allocates " + few + " bytes with 10 entries, " + many + " with 2,010");
        assertTrue(many - few < 2_000 * 4, "2,000 more dictionary entries cost " + (many - few) + " bytes more in a roll");
    }

    private long rollAllocation(String name, int entries) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        net.openhft.chronicle.core.time.SetTimeProvider clock = new net.openhft.chronicle.core.time.SetTimeProvider(1_700_000_000_000L);
        try (DropJournal j = DropJournal.open(tmp.resolve(name), net.openhft.chronicle.queue.rollcycles.TestRollCycles.TEST_SECONDLY,
                RetentionPolicy.UNBOUNDED, clock); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 1, 1);
            for (int i = 0; i < entries; i++) j.intern(DictionaryKind.IDENTITY, "{\"pod\":\"pod-" + i + "\"}");
            long least = Long.MAX_VALUE;
            for (int roll = 0; roll < 20; roll++) { // the least of 20 rolls: the first ones warm up
                clock.advanceMillis(1000);
                long before = mx.getThreadAllocatedBytes(tid);
                j.appendEvent(seg, 0); // lands in a new cycle: rewrites the dictionary
                least = Math.min(least, mx.getThreadAllocatedBytes(tid) - before);
            }
            assertEquals(20L * entries + entries, j.dictionaryRecordsAppended(), "every roll rewrote every entry");
            return least;
        }
    }
}
