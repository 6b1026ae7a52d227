package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.event.DropView;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch excerpts ('B'): events appended between beginBatch and endBatch round-trip in order, mixed
 * with single-event and dictionary excerpts; positions inside a batch resume exactly; malformed
 * batch headers are counted decode errors, never exceptions.
 */
class BatchJournalTest {
    @TempDir
    Path tmp;

    /** Event {@code i}: wall time i, destination port i (mod 65536). */
    private static void append(DropJournal j, MemorySegment seg, int i) {
        new DropRecord().wrap(seg, 0).wallNs(i).dstPort(i & 0xffff);
        assertTrue(j.appendEvent(seg, 0));
    }

    private static List<Long> readAll(JournalReader r) {
        List<Long> walls = new ArrayList<>();
        DropView v = new DropView();
        while (r.next(v)) {
            walls.add(v.wallNs());
        }
        return walls;
    }

    private static List<Long> range(long from, long to) {
        List<Long> l = new ArrayList<>();
        for (long i = from; i < to; i++) l.add(i);
        return l;
    }

    /** The type byte of every excerpt and, for batches, their counts, in order. */
    private static List<String> excerpts(Path dir) {
        List<String> kinds = new ArrayList<>();
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir).rollCycle(RollCycles.FAST_HOURLY).readOnly(true).build();
             ExcerptTailer t = q.createTailer()) {
            while (true) {
                try (DocumentContext dc = t.readingDocument()) {
                    if (!dc.isPresent()) break;
                    Bytes<?> b = dc.wire().bytes();
                    char type = (char) b.readByte();
                    kinds.add(type == 'B' ? "B" + JournalFormat.batchCount(b) : String.valueOf(type));
                }
            }
        }
        return kinds;
    }

    @Test
    void batchRoundTripInOrderWithFullBatchesAndTheRest() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 0, 0);
            j.beginBatch();
            for (int i = 0; i < 1000; i++) append(j, seg, i);
            assertEquals(1000 % 64, j.pendingEvents(), "full batches were written as they filled");
            assertEquals(1000 - 1000 % 64, j.eventsAppended());
            j.endBatch();
            assertEquals(0, j.pendingEvents());
            assertEquals(1000, j.eventsAppended());
        }
        List<String> kinds = excerpts(dir);
        assertEquals(15, kinds.stream().filter("B64"::equals).count());
        assertTrue(kinds.contains("B40"), kinds.toString());
        try (JournalReader r = JournalReader.open(dir)) {
            assertEquals(range(0, 1000), readAll(r));
            assertEquals(0, r.decodeErrors());
        }
    }

    @Test
    void eventsInAnOpenBatchAreNotVisibleUntilTheBatchEnds() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined();
             JournalReader follower = JournalReader.open(dir)) {
            MemorySegment seg = JournalTestEvents.udp(arena, 0, 0);
            append(j, seg, 0); // outside a batch: written at once
            assertEquals(List.of(0L), readAll(follower));
            j.beginBatch();
            append(j, seg, 1);
            append(j, seg, 2);
            assertEquals(List.of(), readAll(follower), "not acknowledged yet");
            j.endBatch();
            assertEquals(List.of(1L, 2L), readAll(follower));
            j.beginBatch();
            append(j, seg, 3);
        } // close writes the open batch
        try (JournalReader r = JournalReader.open(dir)) {
            assertEquals(range(0, 4), readAll(r));
        }
    }

    @Test
    void mixedSingleBatchAndDictionaryExcerptsReadInCallOrder() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 0, 0);
            DropRecord r = new DropRecord().wrap(seg, 0);
            append(j, seg, 0);
            j.beginBatch();
            for (int i = 1; i < 10; i++) append(j, seg, i);
            int eth = j.intern(DictionaryKind.STRING, "eth-mid-batch"); // writes the batch so far first
            r.interfaceId(eth);
            for (int i = 10; i < 20; i++) append(j, seg, i);
            j.endBatch();
            append(j, seg, 20);
            j.beginBatch();
            append(j, seg, 21); // a batch of one is a plain event excerpt
            j.endBatch();
        }
        assertEquals(List.of("E", "B9", "D", "B10", "E", "E"), excerpts(dir).subList(excerpts(dir).size() - 6, excerpts(dir).size()));
        try (JournalReader reader = JournalReader.open(dir)) {
            DropView v = new DropView();
            List<Long> walls = new ArrayList<>();
            while (reader.next(v)) {
                walls.add(v.wallNs());
                assertEquals(v.wallNs() >= 10 ? "eth-mid-batch" : null, v.interfaceName());
            }
            assertEquals(range(0, 22), walls);
            assertEquals(0, reader.decodeErrors());
        }
    }

    @Test
    void positionsInsideABatchResumeExactly() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 0, 0);
            j.beginBatch();
            for (int i = 0; i < 100; i++) append(j, seg, i); // B64, B36
            j.endBatch();
        }
        DropView v = new DropView();
        long index;
        int skip;
        try (JournalReader r = JournalReader.open(dir)) {
            for (int i = 0; i < 70; i++) assertTrue(r.next(v));
            assertEquals(69, v.wallNs());
            index = r.position();
            skip = r.positionSkip();
            assertEquals(6, skip, "six events of the second batch read");
        }
        try (JournalReader r = JournalReader.open(dir)) {
            assertTrue(r.moveTo(index, skip));
            assertEquals(range(70, 100), readAll(r));
            r.last(5);
            assertEquals(range(95, 100), readAll(r));
            r.last(40); // starts inside the first batch
            assertEquals(range(60, 100), readAll(r));
            r.since(Instant.ofEpochSecond(0, 10));
            assertEquals(range(10, 100), readAll(r));
            r.fromStart();
            r.until(Instant.ofEpochSecond(0, 65));
            assertEquals(range(10, 66), readAll(r), "since and until hold inside batches");
        }
    }

    private static void raw(ExcerptAppender a, byte[] bytes) {
        try (DocumentContext dc = a.writingDocument()) {
            dc.wire().bytes().write(bytes, 0, bytes.length);
        }
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A batch excerpt of {@code count} copies of {@code record}, with the header fields given. */
    private static byte[] batch(int headerCount, int recordSize, int records, byte[] record) {
        byte[] b = new byte[JournalFormat.BATCH_HEADER_SIZE + records * record.length];
        MemorySegment s = MemorySegment.ofArray(b);
        b[0] = 'B';
        s.set(U16, 1, (short) headerCount);
        s.set(U16, 3, (short) recordSize);
        for (int i = 0; i < records; i++) {
            System.arraycopy(record, 0, b, JournalFormat.BATCH_HEADER_SIZE + i * record.length, record.length);
        }
        return b;
    }

    @Test
    void malformedBatchHeadersAreCountedNeverThrown() {
        Path dir = tmp.resolve("j");
        byte[] good;
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = JournalTestEvents.udp(arena, 0, 0);
            append(j, seg, 0);
            new DropRecord().wrap(seg, 0).wallNs(7);
            good = seg.toArray(ValueLayout.JAVA_BYTE);
        }
        int bad = 0;
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.binary(dir).rollCycle(RollCycles.FAST_HOURLY).build();
             ExcerptAppender a = q.createAppender()) {
            raw(a, new byte[] {'B'});                                     // header truncated
            raw(a, new byte[] {'B', 2, 0});                               // no record size
            raw(a, new byte[] {'B', 2, 0, (byte) 128});                   // record size truncated
            raw(a, batch(0, 128, 0, good));                               // count 0
            raw(a, batch(64, 128, 1, good));                              // oversized count
            raw(a, batch(0xffff, 128, 2, good));                          // count far beyond the bytes
            raw(a, batch(2, 128, 3, good));                               // more bytes than the count
            raw(a, batch(2, 129, 2, good));                               // wrong record size
            raw(a, batch(2, 0, 2, good));                                 // record size 0
            byte[] cut = batch(3, 128, 3, good);
            raw(a, java.util.Arrays.copyOf(cut, cut.length - 1));         // last record truncated
            bad += 10;
            Random rnd = new Random(7);
            for (int i = 0; i < 300; i++) {                                // random bodies after 'B'
                byte[] junk = new byte[1 + rnd.nextInt(600)];
                rnd.nextBytes(junk);
                junk[0] = 'B';
                if (JournalFormat.BATCH_HEADER_SIZE <= junk.length) {
                    int count = MemorySegment.ofArray(junk).get(U16, 1) & 0xffff;
                    int size = MemorySegment.ofArray(junk).get(U16, 3) & 0xffff;
                    if (size == DropRecord.SIZE && count > 0 && junk.length == JournalFormat.BATCH_HEADER_SIZE + count * size) {
                        continue; // a well-formed batch by chance: not what this test is about
                    }
                }
                raw(a, junk);
                bad++;
            }
            raw(a, batch(2, 128, 2, good));                               // a good batch after all that
        }
        try (JournalReader r = JournalReader.open(dir)) {
            assertEquals(List.of(0L, 7L, 7L), readAll(r));
            assertEquals(bad, r.decodeErrors());
            r.last(3);
            assertEquals(List.of(0L, 7L, 7L), readAll(r), "backward scans skip malformed batches too");
        }
        try (DropJournal j = DropJournal.open(dir)) {
            assertEquals(0, j.evictedEvents());
            assertEquals(1, j.intern(DictionaryKind.STRING, "after-junk"), "the junk does not disturb id allocation");
        }
    }
}
