package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The test BPF object src/test/bpf/ringbuf_test.bpf.c, loaded and aimed at the calling thread:
 * each {@link #trigger} is one getpid() that the program turns into a record in {@code rb}.
 * Java mirror of struct ringbuf_test_record (ringbuf_test.h) in the constants below.
 */
final class RingbufTestProgram implements AutoCloseable {
    static final String RESOURCE = "/ringbuf_test.bpf.o";
    static final int RECORD_SIZE = 40;
    static final int SEQ = 0, TID = 8, CPU = 12, MARKER = 16, MARKER_SIZE = 24;
    static final byte[] MARKER_BYTES = "droptrace-ringbuf-test!\0".getBytes(StandardCharsets.US_ASCII);

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETPID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("getpid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("gettid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETEUID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("geteuid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));

    final Arena arena = Arena.ofConfined();
    final BpfObject object;
    final MemorySegment zeroKey;
    BpfLink link;

    private RingbufTestProgram(BpfObject object) {
        this.object = object;
        this.zeroKey = arena.allocate(JAVA_INT);
    }

    /** Skips the calling test, with the reason, where BPF programs cannot be loaded. */
    static void assumeKernel() {
        Assumptions.assumeTrue(Libbpf.available(), Libbpf.MISSING);
        Assumptions.assumeTrue(geteuid() == 0, "kernel test: needs root (CAP_BPF, CAP_PERFMON) to load BPF programs");
        Assumptions.assumeTrue(RingbufTestProgram.class.getResource(RESOURCE) != null,
                "kernel test: " + RESOURCE + " was not built (see src/test/bpf/build.sh: clang, bpftool, BTF needed)");
    }

    static byte[] elf() {
        try (InputStream in = RingbufTestProgram.class.getResourceAsStream(RESOURCE)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Opens, sizes the ring, loads, aims at this thread and attaches {@code on_getpid}. */
    static RingbufTestProgram start(int ringSize) {
        BpfObject object = BpfObject.open("ringbuf_test", elf());
        RingbufTestProgram p = new RingbufTestProgram(object);
        try {
            object.map("rb").setMaxEntries(ringSize);
            object.load();
            p.aimAtThisThread();
            p.link = object.program("on_getpid").attach();
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private void aimAtThisThread() {
        BpfMap settings = object.map("settings");
        MemorySegment value = arena.allocate(settings.valueSize(), 8);
        value.set(JAVA_INT, 0, gettid());
        settings.update(zeroKey, value, BpfMap.BPF_ANY);
    }

    /** Calls getpid() {@code n} times on this thread: n records. */
    static void trigger(int n) {
        try {
            for (int i = 0; i < n; i++) {
                int ignored = (int) GETPID.invokeExact();
            }
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    long hits() {
        return object.map("hits").sumPerCpuLong(zeroKey);
    }

    static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    static int geteuid() {
        try {
            return (int) GETEUID.invokeExact();
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    @Override
    public void close() {
        try {
            if (link != null) {
                link.close();
            }
        } finally {
            object.close();
            arena.close();
        }
    }

    /** Checks records as they come: in sequence from {@link #next}, from this thread, with the marker. */
    static final class Checker implements RecordHandler {
        final int tid = gettid();
        long next;
        long count;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            assertEquals(RECORD_SIZE, length, "record length");
            assertEquals(next, data.get(JAVA_LONG.withByteAlignment(1), offset + SEQ), "seq of record " + count);
            assertEquals(tid, data.get(JAVA_INT.withByteAlignment(1), offset + TID), "tid");
            for (int i = 0; i < MARKER_SIZE; i++) {
                assertEquals(MARKER_BYTES[i], data.get(JAVA_BYTE, offset + MARKER + i), "marker byte " + i);
            }
            next++;
            count++;
        }
    }
}
