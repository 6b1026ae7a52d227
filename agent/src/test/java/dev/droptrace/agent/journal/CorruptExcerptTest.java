package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropView;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Malformed excerpts (unknown type, truncated, random) are skipped and counted; nothing throws. */
class CorruptExcerptTest {
    @TempDir
    Path tmp;

    private static void raw(ExcerptAppender a, byte[] bytes) {
        try (DocumentContext dc = a.writingDocument()) {
            Bytes<?> b = dc.wire().bytes();
            b.write(bytes, 0, bytes.length);
        }
    }

    @Test
    void badExcerptsAreSkippedAndCounted() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            j.intern(DictionaryKind.STRING, "eth0");
            j.appendEvent(JournalTestEvents.udp(arena, 1, 1), 0);
        }
        int bad = 0;
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir).rollCycle(RollCycles.FAST_HOURLY).build();
             ExcerptAppender a = q.createAppender()) {
            raw(a, new byte[0]);                                   // empty
            raw(a, new byte[] {'X', 1, 2, 3});                     // unknown type
            raw(a, new byte[] {'E', 1, 0, 0, 0, 0, 0, 0, 0, 0});   // truncated event
            raw(a, new byte[] {'D', 4, 9, 0, 0, 0, (byte) 0xe8, 3, 0, 0, 'a', 'b', 'c'}); // length 1000, 3 bytes
            raw(a, new byte[] {'D', 99, 9, 0, 0, 0, 1, 0, 0, 0, 'z'}); // unknown kind
            raw(a, new byte[] {'D', 4, 1});                         // truncated header
            raw(a, new byte[129]);                                  // 'E' missing: type 0
            byte[] zeroVersion = new byte[129];
            zeroVersion[0] = 'E';
            raw(a, zeroVersion);                                    // an event of version 0
            bad += 8;
            Random rnd = new Random(42);
            for (int i = 0; i < 200; i++) {
                byte[] junk = new byte[rnd.nextInt(300)];
                rnd.nextBytes(junk);
                if (junk.length > 0 && (junk[0] == 'E' || junk[0] == 'D')) {
                    junk[0] = 'R';
                }
                raw(a, junk);
                bad++;
            }
        }
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            assertEquals(2, j.intern(DictionaryKind.STRING, "eth1"), "the junk does not disturb id allocation");
            j.appendEvent(JournalTestEvents.udp(arena, 2, 2), 0);
        }
        try (JournalReader r = JournalReader.open(dir)) {
            List<Integer> ports = new ArrayList<>();
            DropView v = new DropView();
            while (r.next(v)) {
                ports.add(v.dstPort());
            }
            assertEquals(List.of(1, 2), ports);
            assertEquals(bad, r.decodeErrors());
            assertEquals("eth1", r.dictionaryText(DictionaryKind.STRING, 2));
            r.last(2);
            ports.clear();
            while (r.next(v)) {
                ports.add(v.dstPort());
            }
            assertEquals(List.of(1, 2), ports);
        }
    }
}
