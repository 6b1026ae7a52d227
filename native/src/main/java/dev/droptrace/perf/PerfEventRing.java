package dev.droptrace.perf;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * One CPU's BPF output perf event and its mmap'd ring, read in Java: what
 * {@code bpf_perf_event_output(..., BPF_F_CURRENT_CPU, ...)} writes on that CPU once the event's fd
 * is in the program's perf event array.
 *
 * <p>Kernel ABI: the event is {@code PERF_TYPE_SOFTWARE}/{@code PERF_COUNT_SW_BPF_OUTPUT} with
 * {@code PERF_SAMPLE_RAW} and a wakeup watermark of 1 byte, so poll wakes for every record. The
 * mapping is one metadata page ({@code struct perf_event_mmap_page}: {@code data_head} at 1024,
 * {@code data_tail} at 1032, {@code data_offset} at 1040, {@code data_size} at 1048) followed by a
 * power-of-two data area. Records are 8-byte aligned, start with {@code struct perf_event_header}
 * (u32 type, u16 misc, u16 size) and may wrap around the end of the data area; such a record is
 * copied into a scratch segment so the handler sees it contiguous. {@code data_head} is read with
 * acquire semantics, so a record's bytes are visible once the head covers it; {@code data_tail} is
 * stored with release semantics after each record, so the kernel reuses its space only once read.
 *
 * <p>One thread reads a ring at a time. The counters are plain fields of that thread.
 */
public final class PerfEventRing implements AutoCloseable {
    /** {@code PERF_RECORD_LOST}: u64 id, u64 lost. */
    public static final int PERF_RECORD_LOST = 2;
    /** {@code PERF_RECORD_SAMPLE} with {@code PERF_SAMPLE_RAW}: u32 size, then the raw bytes. */
    public static final int PERF_RECORD_SAMPLE = 9;

    private static final int SYS_PERF_EVENT_OPEN = sysPerfEventOpen();
    private static final int PERF_TYPE_SOFTWARE = 1;
    private static final int PERF_COUNT_SW_BPF_OUTPUT = 10;
    private static final long PERF_SAMPLE_RAW = 1L << 10;
    private static final long PERF_ATTR_WATERMARK = 1L << 14;
    private static final long PERF_FLAG_FD_CLOEXEC = 1L << 3;
    // struct perf_event_attr up to PERF_ATTR_SIZE_VER5: type 0, size 4, config 8, sample_period 16,
    // sample_type 24, read_format 32, flag bits 40, wakeup_watermark 48; the rest stays zero.
    private static final int ATTR_SIZE = 112;

    private static final long DATA_HEAD = 1024, DATA_TAIL = 1032, DATA_OFFSET = 1040, DATA_SIZE = 1048;
    private static final int HEADER_SIZE = 8;
    private static final int MAX_RECORD = 0xffff; // perf_event_header.size is a u16
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final Linker LINKER = Linker.nativeLinker();
    // long syscall(long number, ...): the five arguments are variadic and passed as longs.
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Libc.captureErrno());

    private final int cpu;
    private final Arena arena;
    private final MemorySegment meta;
    private final MemorySegment data;
    private final MemorySegment scratch;
    private final long mask;
    private final long mappingAddress;
    private final long mappingLength;
    private int fd;
    private boolean closed;

    private long samples;
    private long lost;
    private long lostRecords;
    private long unknownRecords;
    private long malformedRecords;
    private long wrappedRecords;

    private PerfEventRing(int cpu, int fd, MemorySegment mapping, int page) {
        this.cpu = cpu;
        this.fd = fd;
        this.arena = Arena.ofShared();
        this.mappingAddress = mapping.address();
        this.mappingLength = mapping.byteSize();
        // Scoped to this arena so that after close any use fails cleanly instead of touching unmapped memory.
        MemorySegment all = mapping.reinterpret(arena, null);
        this.meta = all.asSlice(0, page);
        long offset = meta.get(JAVA_LONG, DATA_OFFSET);
        long size = meta.get(JAVA_LONG, DATA_SIZE);
        if (size == 0) { // kernels before 4.1 leave these 0: the data area is the rest of the mapping
            offset = page;
            size = mappingLength - page;
        }
        this.data = all.asSlice(offset, size);
        this.mask = size - 1;
        this.scratch = arena.allocate(MAX_RECORD + 1, 8);
    }

    /**
     * Opens the BPF output event of {@code cpu} and maps its ring of {@code dataPages} pages (a
     * power of two) plus the metadata page.
     *
     * @throws NativeCallException if perf_event_open or mmap fails; errno ENODEV means the CPU is offline
     */
    public static PerfEventRing open(int cpu, int dataPages) {
        if (dataPages <= 0 || Integer.bitCount(dataPages) != 1) {
            throw new IllegalArgumentException("data pages must be a power of two, got " + dataPages);
        }
        int fd = perfEventOpen(cpu);
        int page = Libc.getpagesize();
        MemorySegment mapping;
        try {
            mapping = Libc.mmap((1L + dataPages) * page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
        return new PerfEventRing(cpu, fd, mapping, page);
    }

    private static int perfEventOpen(int cpu) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_SIZE, 8);
            attr.set(JAVA_INT, 0, PERF_TYPE_SOFTWARE);
            attr.set(JAVA_INT, 4, ATTR_SIZE);
            attr.set(JAVA_LONG, 8, PERF_COUNT_SW_BPF_OUTPUT);
            attr.set(JAVA_LONG, 16, 1L); // sample_period: every output is a sample
            attr.set(JAVA_LONG, 24, PERF_SAMPLE_RAW);
            attr.set(JAVA_LONG, 40, PERF_ATTR_WATERMARK);
            attr.set(JAVA_INT, 48, 1); // wakeup_watermark: wake a poller as soon as one byte is there
            MemorySegment state = Libc.callState();
            long rc = (long) SYSCALL.invokeExact(state, (long) SYS_PERF_EVENT_OPEN, attr, -1L, (long) cpu, -1L,
                    PERF_FLAG_FD_CLOEXEC);
            if (rc < 0) {
                throw new NativeCallException("perf_event_open", Libc.errno(state), "cpu " + cpu);
            }
            return (int) rc;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    private static int sysPerfEventOpen() {
        String arch = System.getProperty("os.arch");
        return switch (arch) {
            case "amd64", "x86_64" -> 298;
            case "aarch64", "arm64" -> 241;
            default -> throw new ExceptionInInitializerError("perf_event_open: syscall number unknown for " + arch);
        };
    }

    /**
     * Hands every record available now to {@code handler}, in order, and releases their space.
     * Allocates nothing. A record whose handler throws is still consumed, so it cannot block the ring.
     *
     * @return the number of records consumed, of every type
     */
    public int drain(PerfRecordHandler handler) {
        MemorySegment meta = this.meta;
        MemorySegment ring = data;
        long size = mask + 1;
        // Only this reader writes data_tail, so a plain read sees its own last store.
        long tail = (long) LONG.get(meta, DATA_TAIL);
        int consumed = 0;
        long head;
        while (tail != (head = (long) LONG.getAcquire(meta, DATA_HEAD))) {
            while (tail != head) {
                long offset = tail & mask;
                // The 8-byte header never wraps: records are 8-aligned and the area is a power of two.
                int type = ring.get(JAVA_INT, offset);
                int length = Short.toUnsignedInt(ring.get(JAVA_SHORT, offset + 6));
                if (length < HEADER_SIZE || (length & 7) != 0 || Long.compareUnsigned(length, head - tail) > 0) {
                    // Unreadable framing: nothing after it can be trusted, so skip to the head.
                    malformedRecords++;
                    tail = head;
                    LONG.setRelease(meta, DATA_TAIL, tail);
                    break;
                }
                MemorySegment record = ring;
                long base = offset;
                if (offset + length > size) {
                    long first = size - offset;
                    MemorySegment.copy(ring, offset, scratch, 0, first);
                    MemorySegment.copy(ring, 0, scratch, first, length - first);
                    record = scratch;
                    base = 0;
                    wrappedRecords++;
                }
                consumed++;
                try {
                    dispatch(handler, record, base, length, type);
                } finally {
                    tail += length;
                    LONG.setRelease(meta, DATA_TAIL, tail);
                }
            }
        }
        return consumed;
    }

    private void dispatch(PerfRecordHandler handler, MemorySegment record, long base, int length, int type) {
        switch (type) {
            case PERF_RECORD_SAMPLE -> {
                int raw = length >= HEADER_SIZE + 4 ? record.get(JAVA_INT, base + HEADER_SIZE) : -1;
                if (raw < 0 || HEADER_SIZE + 4L + raw > length) {
                    malformedRecords++;
                    return;
                }
                samples++;
                handler.onSample(cpu, record, base + HEADER_SIZE + 4, raw);
            }
            case PERF_RECORD_LOST -> {
                if (length < HEADER_SIZE + 16) {
                    malformedRecords++;
                    return;
                }
                long n = record.get(JAVA_LONG, base + HEADER_SIZE + 8);
                lostRecords++;
                lost += n;
                handler.onLost(cpu, n);
            }
            default -> unknownRecords++;
        }
    }

    /** Bytes written by the kernel and not yet consumed, headers and padding included. */
    public long pending() {
        return (long) LONG.getAcquire(meta, DATA_HEAD) - (long) LONG.get(meta, DATA_TAIL);
    }

    /** The CPU whose samples this ring receives. */
    public int cpu() {
        return cpu;
    }

    /** The perf event's fd, to install in a perf event array and to poll. */
    public int fd() {
        if (closed) {
            throw new IllegalStateException("perf ring of cpu " + cpu + " is closed");
        }
        return fd;
    }

    /** Size of the data area in bytes. */
    public long size() {
        return mask + 1;
    }

    /** {@code PERF_RECORD_SAMPLE} records handed to a handler. */
    public long samples() {
        return samples;
    }

    /** Samples the kernel dropped because this ring was full: the sum over {@code PERF_RECORD_LOST} records. */
    public long lost() {
        return lost;
    }

    /** {@code PERF_RECORD_LOST} records seen. */
    public long lostRecords() {
        return lostRecords;
    }

    /** Records of any other type, skipped. */
    public long unknownRecords() {
        return unknownRecords;
    }

    /** Records whose header or sample size did not fit, skipped. */
    public long malformedRecords() {
        return malformedRecords;
    }

    /** Records that wrapped around the end of the data area and were handed over as a scratch copy. */
    public long wrappedRecords() {
        return wrappedRecords;
    }

    /** Unmaps the ring and closes the event's fd. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close();
        try {
            Libc.munmap(mappingAddress, mappingLength);
        } finally {
            Libc.close(fd);
            fd = -1;
        }
    }

    @Override
    public String toString() {
        return "PerfEventRing[cpu " + cpu + ", " + size() + " bytes]";
    }
}
