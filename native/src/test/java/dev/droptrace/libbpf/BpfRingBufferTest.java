package dev.droptrace.libbpf;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java ring reader against records written by a real BPF program. */
@Tag("kernel")
class BpfRingBufferTest {
    private static final int N = 10_000;
    private static final int ONE_MIB = 1 << 20;

    @BeforeEach
    void needsKernel() {
        RingbufTestProgram.assumeKernel();
    }

    @Test
    void drainsEveryRecordInOrder() {
        try (RingbufTestProgram p = RingbufTestProgram.start(ONE_MIB);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            assertEquals(ONE_MIB, ring.size());
            RingbufTestProgram.trigger(N);
            assertEquals(N * 48L, ring.pending(), "48 bytes per record: 8 header + 40 data");
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            assertEquals(N, ring.drain(checker));
            assertEquals(N, checker.count);
            assertEquals(0, ring.pending());
            assertEquals(0, ring.drain(checker));
            assertEquals(N, p.hits());
        }
    }

    @Test
    void wrapsAroundARingSmallerThanTheData() {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            // 1,000 records are 48,000 bytes, less than the 65,536-byte ring; 10,000 are over 7 rings,
            // and 48 does not divide 65,536, so records straddle the end of the data area.
            for (int batch = 0; batch < N / 1000; batch++) {
                RingbufTestProgram.trigger(1000);
                assertEquals(1000, ring.drain(checker));
            }
            assertEquals(N, checker.count);
            assertEquals(N, p.hits());
        }
    }

    @Test
    void pollWaitsThenDrains() {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            assertEquals(0, ring.poll(0, checker));
            assertEquals(0, ring.poll(10, checker), "times out when empty");
            RingbufTestProgram.trigger(3);
            assertEquals(3, ring.poll(1000, checker));
            assertEquals(3, checker.count);
        }
    }

    @Test
    void aRecordWhoseHandlerThrowsIsStillConsumed() {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            RingbufTestProgram.trigger(3);
            assertThrows(IllegalStateException.class, () -> ring.drain((data, offset, length) -> {
                throw new IllegalStateException("bad record");
            }));
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            checker.next = 1;
            assertEquals(2, ring.drain(checker));
        }
    }

    @Test
    void drainAllocatesNothingPerRecord() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        org.junit.jupiter.api.Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported(), "no allocation accounting in this JVM");
        int records = 20_000; // 960,000 bytes: fits a 1 MiB ring
        try (RingbufTestProgram p = RingbufTestProgram.start(ONE_MIB);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            SeqSum sum = new SeqSum();
            for (int round = 0; round < 5; round++) { // warm up the drain loop and the handler
                RingbufTestProgram.trigger(records);
                assertEquals(records, ring.drain(sum));
            }
            RingbufTestProgram.trigger(records);
            sum.total = 0;
            long before = threads.getCurrentThreadAllocatedBytes();
            int drained = ring.drain(sum);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(records, drained);
            long first = 5L * records;
            assertEquals(records * first + (long) records * (records - 1) / 2, sum.total, "sum of the seq numbers read");
            // One object per record would be at least 16 bytes each (320,000 bytes); allow a
            // little constant noise, far below one byte per record.
            assertTrue(allocated < records / 4, "drain of " + records + " records allocated " + allocated + " bytes");
        }
    }

    @Test
    void linkIsGoneAfterClose() throws Exception {
        try (RingbufTestProgram p = RingbufTestProgram.start(64 * 1024);
             BpfRingBuffer ring = BpfRingBuffer.open(p.object.map("rb"))) {
            int fd = p.link.fd();
            String fdinfo = Files.readString(Path.of("/proc/self/fdinfo/" + fd));
            assertTrue(fdinfo.contains("link_type") && fdinfo.contains("raw_tracepoint"), fdinfo);
            RingbufTestProgram.trigger(10);
            RingbufTestProgram.Checker checker = new RingbufTestProgram.Checker();
            assertEquals(10, ring.drain(checker));

            p.link.close();
            p.link.close(); // idempotent
            assertThrows(IllegalStateException.class, p.link::fd);
            RingbufTestProgram.trigger(100);
            assertEquals(0, ring.pending(), "a detached program writes nothing");
            assertEquals(0, ring.drain(checker));
            assertEquals(10, p.hits());
        }
    }

    @Test
    void refusesAMapThatIsNotARing() {
        try (BpfObject object = BpfObject.open("ringbuf_test", RingbufTestProgram.elf())) {
            object.load();
            assertThrows(IllegalArgumentException.class, () -> BpfRingBuffer.open(object.map("hits")));
            assertThrows(IllegalArgumentException.class, () -> LibbpfRingBuffer.open(object.map("hits")));
        }
    }

    /** A flyweight-style handler: reads one field in place, allocates nothing. */
    private static final class SeqSum implements RecordHandler {
        long total;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            total += data.get(JAVA_LONG, offset + RingbufTestProgram.SEQ);
        }
    }
}
