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
}
