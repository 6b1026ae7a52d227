package dev.droptrace.agent.journal;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.event.DropView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class JournalBasicsTest {
    @TempDir
    Path tmp;

    private static final long T0 = 1_795_000_000_000_000_000L;

    private List<Integer> readPorts(JournalReader r) {
        List<Integer> ports = new ArrayList<>();
        DropView v = new DropView();
        while (r.next(v)) {
            ports.add(v.dstPort());
        }
        return ports;
    }

    private void writeEvents(Path dir, int from, int to) {
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            j.defineReason(DropSource.KERNEL, 2, "NOT_SPECIFIED");
            for (int i = from; i < to; i++) {
                if (i % 3 == 0) {
                    j.intern(DictionaryKind.STRING, "veth-" + i);
                }
                j.appendEvent(JournalTestEvents.udp(arena, T0 + i * 1_000_000_000L, i), 0);
            }
        }
    }

    @Test
    void emptyDirectoryReadsNothing() {
        try (JournalReader r = JournalReader.open(tmp.resolve("none"))) {
            assertFalse(r.next(new DropView()));
            assertEquals(-1, r.lastIndex());
            r.last(5);
            r.toEnd();
            assertFalse(r.next(new DropView()));
            assertEquals(0, r.decodeErrors());
        }
        assertFalse(Files.exists(tmp.resolve("none")));
    }

    @Test
    void readsAllInOrderAndFollows() {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 10);
        try (JournalReader r = JournalReader.open(dir)) {
            assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), readPorts(r));
            writeEvents(dir, 10, 12);
            assertEquals(List.of(10, 11), readPorts(r));
            r.fromStart();
            assertEquals(12, readPorts(r).size());
            assertEquals(0, r.decodeErrors());
        }
    }

    @Test
    void lastN() {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 20);
        try (JournalReader r = JournalReader.open(dir)) {
            r.last(3);
            assertEquals(List.of(17, 18, 19), readPorts(r));
            r.last(100);
            assertEquals(20, readPorts(r).size());
            r.last(1);
            assertEquals(List.of(19), readPorts(r));
            r.last(0);
            assertEquals(List.of(), readPorts(r));
            // the dictionary is known even when starting at the end
            assertEquals("veth-18", r.dictionaryText(DictionaryKind.STRING, 7));
            assertEquals("NOT_SPECIFIED", r.dictionaryText(DictionaryKind.REASON_KERNEL, 2));
        }
    }

    @Test
    void sinceUntil() {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 20);
        try (JournalReader r = JournalReader.open(dir)) {
            r.since(Instant.ofEpochSecond(0, T0 + 5_000_000_000L));
            r.until(Instant.ofEpochSecond(0, T0 + 8_000_000_000L));
            assertEquals(List.of(5, 6, 7, 8), readPorts(r));
            r.last(2);
            assertEquals(List.of(7, 8), readPorts(r));
        }
    }

    @Test
    void readOnlyAndReadableFromAnotherThread() throws Exception {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 5);
        try (JournalReader r = JournalReader.open(dir)) {
            assertTrue(r.isReadOnly());
            r.last(2);
            List<Integer> ports = new ArrayList<>();
            Thread t = new Thread(() -> ports.addAll(readPorts(r)));
            t.start();
            t.join();
            assertEquals(List.of(3, 4), ports);
            r.fromStart();
            assertEquals(5, readPorts(r).size());
            assertEquals(0, r.decodeErrors());
        }
    }

    @Test
    void toEndReadsOnlyNewEvents() {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 5);
        try (JournalReader r = JournalReader.open(dir)) {
            r.toEnd();
            assertEquals(List.of(), readPorts(r));
            writeEvents(dir, 5, 7);
            assertEquals(List.of(5, 6), readPorts(r));
            assertTrue(r.lastIndex() >= 0);
        }
    }

    @Test
    void reopenContinuesIds() {
        Path dir = tmp.resolve("j");
        int a, b, c;
        try (DropJournal j = DropJournal.open(dir)) {
            a = j.intern(DictionaryKind.STRING, "eth0");
            b = j.intern(DictionaryKind.STRING, "veth-b");
            assertEquals(1, j.intern(DictionaryKind.IDENTITY, "{\"pod\":\"a\"}"));
            assertEquals(a, j.intern(DictionaryKind.STRING, "eth0"));
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            assertEquals(4, j.dictionaryRecordsAppended());
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            assertEquals(4, j.dictionaryRecordsAppended());
            j.defineReason(DropSource.CILIUM, 6, "OTHER");
            assertEquals(5, j.dictionaryRecordsAppended());
        }
        try (DropJournal j = DropJournal.open(dir)) {
            assertEquals(a, j.intern(DictionaryKind.STRING, "eth0"));
            assertEquals(b, j.intern(DictionaryKind.STRING, "veth-b"));
            c = j.intern(DictionaryKind.STRING, "lo");
            assertEquals(3, c);
            assertEquals(2, j.intern(DictionaryKind.IDENTITY, "{\"pod\":\"b\"}"));
            j.defineReason(DropSource.KERNEL, 6, "NETFILTER_DROP");
            assertEquals(2, j.dictionaryRecordsAppended(), "only lo and the new identity; the reason is already in the journal");
            assertEquals("NETFILTER_DROP", j.reasonName(DropSource.KERNEL, 6));
            assertEquals(4, j.nextId(DictionaryKind.STRING));
        }
        try (JournalReader r = JournalReader.open(dir)) {
            assertEquals("lo", r.dictionaryText(DictionaryKind.STRING, 3));
            assertEquals("eth0", r.dictionaryText(DictionaryKind.STRING, 1));
        }
    }

    @Test
    void internBytesHitsAndMisses() {
        Path dir = tmp.resolve("j");
        try (DropJournal j = DropJournal.open(dir); Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(16);
            s.setString(0, "veth-a");
            int id = j.internBytes(DictionaryKind.STRING, s, 0, 16);
            assertEquals(id, j.intern(DictionaryKind.STRING, "veth-a"));
            assertEquals(id, j.internBytes(DictionaryKind.STRING, s, 0, 16));
            s.setString(0, "veth-b");
            int id2 = j.internBytes(DictionaryKind.STRING, s, 0, 16);
            assertNotEquals(id, id2);
            // no NUL within maxLen: the first maxLen bytes
            s.setString(0, "abcdefghijklmnopq".substring(0, 15));
            int id3 = j.internBytes(DictionaryKind.STRING, s, 0, 4);
            assertEquals(id3, j.intern(DictionaryKind.STRING, "abcd"));
            for (int i = 0; i < 1000; i++) { // grow the table
                s.setString(0, "if" + i);
                assertEquals(j.intern(DictionaryKind.STRING, "if" + i), j.internBytes(DictionaryKind.STRING, s, 0, 16));
            }
            s.setString(0, "veth-a");
            assertEquals(id, j.internBytes(DictionaryKind.STRING, s, 0, 16));
            // kinds are separate
            assertNotEquals(0, j.internBytes(DictionaryKind.POLICY, s, 0, 16));
        }
    }

    @Test
    void sizeBytesCountsQueueFiles() {
        Path dir = tmp.resolve("j");
        writeEvents(dir, 0, 3);
        try (DropJournal j = DropJournal.open(dir)) {
            assertTrue(j.sizeBytes() > 0);
        }
    }

    @Test
    void pathUnderRegularFileFailsClearly() throws Exception {
        Path file = Files.createFile(tmp.resolve("file"));
        Path dir = file.resolve("journal");
        JournalException e = assertThrows(JournalException.class, () -> DropJournal.open(dir));
        assertEquals("journal directory " + dir + " is not writable: " + file + " is not a directory", e.getMessage());
        JournalException e2 = assertThrows(JournalException.class, () -> DropJournal.open(file));
        assertTrue(e2.getMessage().startsWith("journal directory " + file + " is not writable"), e2.getMessage());
        assertFalse(e2.getMessage().contains("\n"));
    }
}
