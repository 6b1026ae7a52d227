package dev.droptrace.perf;

import dev.droptrace.libbpf.BpfPinnedMap;
import dev.droptrace.libbpf.Libbpf;
import dev.droptrace.libc.NativeCallException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java perf ring reader against samples written by a real BPF program through a pinned map. */
@Tag("kernel")
class PerfEventArrayTest {
    private static final int N = 5_000;

    @BeforeEach
    void needsKernel() {
        PerfTestProgram.assumeKernel();
    }

    @Test
    void opensEveryCpuSlotOfThePinnedMap() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("slots");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, PerfEventArray.DEFAULT_DATA_PAGES)) {
            assertEquals(Libbpf.numPossibleCpus(), array.slots(), "libbpf sizes a perf event array to the possible CPUs");
            assertEquals(BpfPinnedMap.TYPE_PERF_EVENT_ARRAY, array.map().type());
            assertEquals("events", array.map().name());
            assertFalse(array.rings().isEmpty());
            for (PerfEventRing ring : array.rings()) {
                assertEquals(64L * dev.droptrace.libc.Libc.getpagesize(), ring.size());
                String fdinfo = Files.readString(Path.of("/proc/self/fdinfo/" + ring.fd()));
                assertTrue(fdinfo.contains("flags:"), fdinfo);
            }
        }
    }

    @Test
    void drainsEverySampleOncePerCpuInOrder() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("order");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, PerfEventArray.DEFAULT_DATA_PAGES)) {
            Checker checker = new Checker();
            for (int batch = 0; batch < N / 1000; batch++) {
                PerfTestProgram.trigger(1000);
                array.drain(checker);
            }
            assertEquals(N, checker.seen.cardinality(), "every seq exactly once");
            assertEquals(N, checker.samples);
            assertEquals(N, array.samples());
            assertEquals(0, array.lost());
            assertEquals(0, array.unknownRecords());
            assertEquals(0, array.malformedRecords());
            assertEquals(N, p.outputs(PerfTestProgram.OUTPUT_OK));
            assertEquals(0, p.outputs(PerfTestProgram.OUTPUT_ERROR));
            assertEquals(0, array.pending());
        }
    }

    @Test
    void recordsThatWrapTheDataAreaArriveWhole() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("wrap");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, 1)) {
            Checker checker = new Checker();
            // A 56-byte record does not divide a 4096-byte ring; 50 records (2,800 bytes) fit, so
            // nothing is lost, and over 5,000 records the ring turns about 68 times.
            for (int batch = 0; batch < N / 50; batch++) {
                PerfTestProgram.trigger(50);
                array.drain(checker);
            }
            assertEquals(N, checker.seen.cardinality());
            assertEquals(0, array.lost());
            long wrapped = array.rings().stream().mapToLong(PerfEventRing::wrappedRecords).sum();
            assertTrue(wrapped > 0, "no record straddled the end of the ring");
        }
    }

    @Test
    void aFullRingReportsExactlyTheSamplesItLost() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("lost");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, 1)) {
            Checker checker = new Checker();
            int triggered = 2_000; // 112,000 bytes into 4,096-byte rings: most are lost
            PerfTestProgram.trigger(triggered);
            array.drain(checker);
            // The kernel writes a PERF_RECORD_LOST before the next sample that fits after the loss,
            // on the CPU that lost: trigger until every CPU's loss has been reported.
            for (int round = 0; round < 10_000 && checker.samples + checker.lost != triggered; round++) {
                PerfTestProgram.trigger(1);
                triggered++;
                array.drain(checker);
            }
            assertTrue(checker.lost > 0, "nothing was lost");
            assertEquals(triggered, checker.samples + checker.lost, "samples + lost = outputs");
            assertEquals(checker.lost, array.lost());
            assertEquals(checker.lost, p.outputs(PerfTestProgram.OUTPUT_ERROR), "each lost sample failed its output");
            assertEquals(checker.samples, p.outputs(PerfTestProgram.OUTPUT_OK));
        }
    }

    @Test
    void pollWaitsThenDrains() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("poll");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, 4)) {
            Checker checker = new Checker();
            assertEquals(0, array.poll(0, checker));
            assertEquals(0, array.poll(10, checker), "times out when empty");
            PerfTestProgram.trigger(3);
            int consumed = 0;
            for (int i = 0; i < 100 && consumed < 3; i++) {
                consumed += array.poll(1000, checker);
            }
            assertEquals(3, consumed);
            assertEquals(3, checker.samples);
        }
    }

    @Test
    void aSampleWhoseHandlerThrowsIsStillConsumed() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("throws");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, 4)) {
            PerfTestProgram.trigger(1);
            assertThrows(IllegalStateException.class, () -> array.drain(new PerfRecordHandler() {
                @Override
                public void onSample(int cpu, MemorySegment data, long offset, int length) {
                    throw new IllegalStateException("bad sample");
                }

                @Override
                public void onLost(int cpu, long lost) {
                }
            }));
            assertEquals(0, array.pending());
            PerfTestProgram.trigger(2);
            Checker checker = new Checker();
            assertEquals(2, array.drain(checker));
            assertTrue(checker.seen.get(1) && checker.seen.get(2));
        }
    }

    @Test
    void closingTheReaderEmptiesItsSlots() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("close")) {
            PerfEventArray first = PerfEventArray.openPinned(p.pin, 4);
            PerfTestProgram.trigger(10);
            Checker checker = new Checker();
            first.drain(checker);
            assertEquals(10, checker.samples);
            first.close();
            first.close(); // idempotent

            PerfTestProgram.trigger(7);
            assertEquals(10, p.outputs(PerfTestProgram.OUTPUT_OK));
            assertEquals(7, p.outputs(PerfTestProgram.OUTPUT_ERROR), "no event installed after close: ENOENT");

            try (PerfEventArray second = PerfEventArray.openPinned(p.pin, 4)) {
                PerfTestProgram.trigger(5);
                Checker again = new Checker();
                second.drain(again);
                assertEquals(5, again.samples, "a new reader installs its own events");
            }
        }
    }

    @Test
    void refusesAMapThatIsNotAPerfEventArray() throws Exception {
        try (PerfTestProgram p = PerfTestProgram.start("notperf")) {
            Path other = p.pinDir.resolve("outputs");
            p.object.map("outputs").pin(other);
            try {
                assertThrows(IllegalArgumentException.class, () -> PerfEventArray.openPinned(other, 4));
            } finally {
                p.object.map("outputs").unpin(other);
            }
            NativeCallException missing = assertThrows(NativeCallException.class,
                    () -> PerfEventArray.openPinned(p.pinDir.resolve("nothing"), 4));
            assertEquals(2, missing.errno(), missing.getMessage());
        }
    }

    @Test
    void drainAllocatesNothingPerSample() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        org.junit.jupiter.api.Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported(), "no allocation accounting in this JVM");
        int records = 3_000; // 168,000 bytes: fits a 64-page ring even if one CPU gets them all
        try (PerfTestProgram p = PerfTestProgram.start("alloc");
             PerfEventArray array = PerfEventArray.openPinned(p.pin, 64)) {
            SeqSum sum = new SeqSum();
            for (int round = 0; round < 5; round++) {
                PerfTestProgram.trigger(records);
                array.drain(sum);
            }
            PerfTestProgram.trigger(records);
            sum.total = 0;
            sum.count = 0;
            long before = threads.getCurrentThreadAllocatedBytes();
            array.drain(sum);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(records, sum.count);
            long first = 5L * records;
            assertEquals(records * first + (long) records * (records - 1) / 2, sum.total);
            assertTrue(allocated < records / 4, "drain of " + records + " samples allocated " + allocated + " bytes");
        }
    }

    /** Checks samples as they come: per CPU in increasing seq order, from this thread, with the marker. */
    private static final class Checker implements PerfRecordHandler {
        final int tid = PerfTestProgram.gettid();
        final BitSet seen = new BitSet();
        final Map<Integer, Long> lastSeq = new HashMap<>();
        long samples;
        long lost;

        @Override
        public void onSample(int cpu, MemorySegment data, long offset, int length) {
            assertEquals(PerfTestProgram.RAW_SIZE, length, "raw size with the kernel's padding");
            long seq = data.get(JAVA_LONG.withByteAlignment(1), offset + PerfTestProgram.SEQ);
            assertEquals(tid, data.get(JAVA_INT.withByteAlignment(1), offset + PerfTestProgram.TID));
            assertEquals(cpu, data.get(JAVA_INT.withByteAlignment(1), offset + PerfTestProgram.CPU), "written on the ring's CPU");
            for (int i = 0; i < PerfTestProgram.MARKER_SIZE; i++) {
                assertEquals(PerfTestProgram.MARKER_BYTES[i], data.get(JAVA_BYTE, offset + PerfTestProgram.MARKER + i));
            }
            Long last = lastSeq.put(cpu, seq);
            assertTrue(last == null || seq > last, "cpu " + cpu + ": seq " + seq + " after " + last);
            assertFalse(seen.get((int) seq), "seq " + seq + " twice");
            seen.set((int) seq);
            samples++;
        }

        @Override
        public void onLost(int cpu, long n) {
            lost += n;
        }
    }

    /** Reads one field in place, allocates nothing. */
    private static final class SeqSum implements PerfRecordHandler {
        // raw data starts 4 bytes into an 8-aligned record; a layout made per call would allocate
        private static final java.lang.foreign.ValueLayout.OfLong SEQ_LAYOUT = JAVA_LONG.withByteAlignment(4);
        long total;
        long count;

        @Override
        public void onSample(int cpu, MemorySegment data, long offset, int length) {
            total += data.get(SEQ_LAYOUT, offset + PerfTestProgram.SEQ);
            count++;
        }

        @Override
        public void onLost(int cpu, long lost) {
        }
    }
}
