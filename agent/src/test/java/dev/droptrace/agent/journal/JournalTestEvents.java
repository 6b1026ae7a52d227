package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Builds records for journal tests. */
final class JournalTestEvents {
    private JournalTestEvents() {
    }

    /** A native 128-byte segment holding a simple UDP IPv4 event with the given wall time and port. */
    static MemorySegment udp(Arena arena, long wallNs, int dstPort) {
        MemorySegment seg = arena.allocate(DropRecord.SIZE);
        new DropRecord().wrap(seg, 0).clear()
                .source(0).family(4).protocol(17).direction(1)
                .srcIpv4(0x0ac80001).dstIpv4(0x0ac80002)
                .srcPort(40000).dstPort(dstPort).length(60)
                .wallNs(wallNs).reasonCode(2);
        return seg;
    }
}
