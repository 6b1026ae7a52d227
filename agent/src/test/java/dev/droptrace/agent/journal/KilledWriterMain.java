package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Child process of {@link KilledWriterTest}: appends events with sequence numbers 0, 1, 2, ... in
 * ktime_ns (a new interface name every 100 events) until killed, printing progress.
 */
public final class KilledWriterMain {
    private KilledWriterMain() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        long max = Long.parseLong(args[1]);
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            MemorySegment seg = JournalTestEvents.udp(arena, 1, 9999);
            DropRecord r = new DropRecord().wrap(seg, 0).reasonCode(6);
            for (long i = 0; i < max; i++) {
                r.ktimeNs(i).interfaceId(j.intern(DictionaryKind.STRING, "veth-" + (i / 100)));
                j.appendEvent(seg, 0);
                if (i % 1000 == 999) {
                    System.out.println("appended " + (i + 1));
                    System.out.flush();
                }
            }
            System.out.println("done");
        }
    }
}
