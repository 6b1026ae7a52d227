package dev.droptrace.agent.source.kernel;

import dev.droptrace.agent.event.DropView;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalReader;
import dev.droptrace.ksym.KernelSymbols;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Kernel records to journal events: exact fields, and bad records counted, never thrown. */
class KernelRecordTranslatorTest {
    @TempDir Path dir;

    private KernelSymbols symbols() throws Exception {
        Path kallsyms = Files.writeString(dir.resolve("kallsyms"), """
                ffffffff81000000 T _stext
                ffffffff81a00000 T nf_hook_slow
                ffffffff81a00400 t udp_queue_rcv_skb
                """);
        return KernelSymbols.load(kallsyms);
    }

    private static MemorySegment record(Arena arena) {
        MemorySegment s = arena.allocate(KernelDropRecord.SIZE, 8);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, KernelDropRecord.KTIME_NS, 123_456_789L);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, KernelDropRecord.LOCATION, 0xffffffff81a00010L);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.REASON, 6);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.NETNS, 0xF0000001);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.IFINDEX, 2);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.LENGTH, 60);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.CPU, 1);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.COUNT, 1);
        s.set(ValueLayout.JAVA_BYTE, KernelDropRecord.FAMILY, (byte) 4);
        s.set(ValueLayout.JAVA_BYTE, KernelDropRecord.PROTOCOL, (byte) 6);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, KernelDropRecord.SPORT, (short) 40000);
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, KernelDropRecord.DPORT, (short) 8080);
        s.set(ValueLayout.JAVA_BYTE, KernelDropRecord.TCP_FLAGS, (byte) 0x02);
        byte[] src = {10, (byte) 210, 1, 1}, dst = {10, (byte) 210, 1, 2};
        MemorySegment.copy(src, 0, s, ValueLayout.JAVA_BYTE, KernelDropRecord.SADDR, 4);
        MemorySegment.copy(dst, 0, s, ValueLayout.JAVA_BYTE, KernelDropRecord.DADDR, 4);
        MemorySegment.copy("eth0".getBytes(), 0, s, ValueLayout.JAVA_BYTE, KernelDropRecord.IFNAME, 4);
        return s;
    }

    @Test
    void translatesEveryField() throws Exception {
        Path jdir = dir.resolve("j");
        try (DropJournal journal = DropJournal.open(jdir); Arena arena = Arena.ofConfined()) {
            KernelRecordTranslator t = new KernelRecordTranslator(journal, symbols(), "node-a");
            t.onRecord(record(arena), 0, KernelDropRecord.SIZE);
            assertEquals(1, t.events());
            assertEquals(0, t.decodeErrors());
        }
        try (JournalReader r = JournalReader.open(jdir)) {
            DropView v = new DropView();
            assertTrue(r.next(v));
            assertEquals("10.210.1.1", v.srcIp());
            assertEquals("10.210.1.2", v.dstIp());
            assertEquals(40000, v.srcPort());
            assertEquals(8080, v.dstPort());
            assertEquals(6, v.protocol());
            assertEquals(2, v.tcpFlags());
            assertEquals(0xF0000001L, v.netns());
            assertEquals(2, v.ifindex());
            assertEquals(60, v.length());
            assertEquals(6, v.reasonCode());
            assertEquals(123_456_789L, v.ktimeNs());
            assertTrue(v.wallNs() > 1_700_000_000_000_000_000L, "wall clock derived from the monotonic stamp");
            assertEquals("eth0", v.interfaceName());
            assertEquals("nf_hook_slow", v.locationName());
            assertEquals("node-a", v.node());
            assertEquals(1, v.count());
            assertFalse(r.next(v));
        }
    }

    @Test
    void truncatedOversizedAndRandomRecordsAreCountedNeverThrown() throws Exception {
        try (DropJournal journal = DropJournal.open(dir.resolve("j")); Arena arena = Arena.ofConfined()) {
            KernelRecordTranslator t = new KernelRecordTranslator(journal, symbols(), "n");
            MemorySegment big = arena.allocate(4096, 8);
            t.onRecord(big, 0, KernelDropRecord.SIZE - 1);   // truncated
            t.onRecord(big, 0, KernelDropRecord.SIZE + 8);   // oversized
            t.onRecord(big, 0, 0);                            // empty
            t.onRecord(big, 4090, KernelDropRecord.SIZE);    // runs past the buffer
            assertEquals(4, t.decodeErrors());
            assertEquals(0, t.events());

            Random random = new Random(42);
            byte[] noise = new byte[KernelDropRecord.SIZE];
            int accepted = 0;
            for (int i = 0; i < 5000; i++) {
                random.nextBytes(noise);
                MemorySegment.copy(noise, 0, big, ValueLayout.JAVA_BYTE, 0, noise.length);
                int family = Byte.toUnsignedInt(noise[KernelDropRecord.FAMILY]);
                int length = random.nextInt(8) == 0 ? random.nextInt(300) : KernelDropRecord.SIZE;
                t.onRecord(big, 0, length);
                if (length == KernelDropRecord.SIZE && (family == 0 || family == 4 || family == 6)) accepted++;
            }
            assertEquals(accepted, t.events(), "random records of the right size and a possible family are journaled");
            assertEquals(4 + 5000 - accepted, t.decodeErrors());
        }
    }

    @Test
    void dropSitesResolveTheSameWithTheSiteCache() throws Exception {
        long hook = 0xffffffff81a00010L, udp = 0xffffffff81a00408L;
        // an address in udp_queue_rcv_skb that lands in the same cache slot as `hook`
        long colliding = 0;
        for (long a = 0xffffffff81a00400L + 8; colliding == 0; a += 8) {
            if (slot(a) == slot(hook)) colliding = a;
        }
        long[] sites = {hook, udp, colliding, hook, 0xffffffff80000000L, colliding, udp, hook};
        String[] names = {"nf_hook_slow", "udp_queue_rcv_skb", "udp_queue_rcv_skb", "nf_hook_slow", null,
                "udp_queue_rcv_skb", "udp_queue_rcv_skb", "nf_hook_slow"};
        Path jdir = dir.resolve("j");
        try (DropJournal journal = DropJournal.open(jdir); Arena arena = Arena.ofConfined()) {
            KernelRecordTranslator t = new KernelRecordTranslator(journal, symbols(), "n");
            MemorySegment r = record(arena);
            for (long site : sites) {
                r.set(ValueLayout.JAVA_LONG_UNALIGNED, KernelDropRecord.LOCATION, site);
                t.onRecord(r, 0, KernelDropRecord.SIZE);
            }
        }
        try (JournalReader reader = JournalReader.open(jdir)) {
            DropView v = new DropView();
            for (int i = 0; i < sites.length; i++) {
                assertTrue(reader.next(v));
                assertEquals(names[i], v.locationName(), "event " + i);
                assertEquals(sites[i], v.location(), "event " + i);
            }
            assertFalse(reader.next(v));
        }
    }

    @Test
    void aDrainIsOneBatchAcknowledgedAtItsEndAndInterfaceNamesResolveThroughTheCache() throws Exception {
        // names that differ only after the NUL (stale bytes), and more names than the cache has slots
        String[] names = new String[80];
        for (int i = 0; i < names.length; i++) names[i] = "veth" + Integer.toHexString(0x1000 + i);
        Path jdir = dir.resolve("j");
        int events = 500;
        try (DropJournal journal = DropJournal.open(jdir); Arena arena = Arena.ofConfined();
             JournalReader follower = JournalReader.open(jdir)) {
            KernelRecordTranslator t = new KernelRecordTranslator(journal, symbols(), "n");
            MemorySegment r = record(arena);
            Random random = new Random(3);
            t.beginDrain();
            for (int i = 0; i < events; i++) {
                byte[] name = new byte[KernelDropRecord.IFNAME_SIZE];
                byte[] text = names[i % names.length].getBytes();
                System.arraycopy(text, 0, name, 0, text.length);
                if (i % 3 == 0) name[text.length + 1 + random.nextInt(name.length - text.length - 1)] = (byte) (1 + random.nextInt(120));
                MemorySegment.copy(name, 0, r, ValueLayout.JAVA_BYTE, KernelDropRecord.IFNAME, name.length);
                r.set(ValueLayout.JAVA_LONG_UNALIGNED, KernelDropRecord.KTIME_NS, i);
                r.set(ValueLayout.JAVA_BYTE, KernelDropRecord.DIRECTION, (byte) (i % 4)); // 3 is not a direction
                r.set(ValueLayout.JAVA_INT_UNALIGNED, KernelDropRecord.COUNT, i % 5);     // 0 means 1
                t.onRecord(r, 0, KernelDropRecord.SIZE);
            }
            assertTrue(journal.pendingEvents() > 0, "the drain's last batch is still open");
            t.endDrain();
            assertEquals(0, journal.pendingEvents());
            assertEquals(events, t.events());
            assertEquals(events, journal.eventsAppended());
            DropView v = new DropView();
            for (int i = 0; i < events; i++) {
                assertTrue(follower.next(v), "event " + i);
                assertEquals(i, v.ktimeNs());
                assertEquals(names[i % names.length], v.interfaceName(), "event " + i);
                assertEquals(i % 4 == 3 ? 0 : i % 4, v.record().direction(), "event " + i);
                assertEquals(Math.max(1, i % 5), v.count(), "event " + i);
            }
            assertFalse(follower.next(v));
        }
    }

    /** The translator's drop-site cache slot (KernelRecordTranslator.symbolId). */
    private static int slot(long address) {
        return (int) (address ^ (address >>> 8) ^ (address >>> 16)) & 255;
    }
}
