package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A BPF ring buffer drained by libbpf's own reader (ring_buffer__new/poll/consume), one upcall per
 * record. {@link BpfRingBuffer} reads the same ring without upcalls; this one exists so a benchmark
 * can compare the two. Each record costs a segment object (the upcall's own argument and its
 * resize), which the Java reader avoids. One thread reads at a time.
 */
public final class LibbpfRingBuffer implements AutoCloseable {
    private static final MethodHandle SAMPLE;

    static {
        try {
            SAMPLE = MethodHandles.lookup().findVirtual(LibbpfRingBuffer.class, "onSample",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    private final Arena arena; // holds the upcall stub, created once per ring
    private MemorySegment ring;
    private RecordHandler handler; // the handler of the poll or consume in progress
    private Throwable failure;     // thrown by the handler inside the upcall, rethrown after it

    private LibbpfRingBuffer(String name) {
        this.name = name;
        this.arena = Arena.ofShared();
    }

    /**
     * Creates libbpf's reader for a loaded BPF_MAP_TYPE_RINGBUF map.
     *
     * @throws dev.droptrace.libc.NativeCallException if ring_buffer__new fails
     */
    public static LibbpfRingBuffer open(BpfMap map) {
        if (map.type() != BpfMap.TYPE_RINGBUF) {
            throw new IllegalArgumentException("map " + map.name() + " is not a ring buffer (type " + map.type() + ")");
        }
        LibbpfRingBuffer rb = new LibbpfRingBuffer(map.name());
        try {
            MemorySegment stub = Linker.nativeLinker().upcallStub(SAMPLE.bindTo(rb),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), rb.arena);
            MemorySegment state = Libc.callState();
            MemorySegment ring = (MemorySegment) Calls.NEW.invokeExact(state, map.fd(), stub, MemorySegment.NULL, MemorySegment.NULL);
            if (ring.equals(MemorySegment.NULL)) {
                throw Libbpf.failure("ring_buffer__new", Libc.errno(state));
            }
            rb.ring = ring;
            return rb;
        } catch (Throwable t) {
            rb.arena.close();
            throw Libc.rethrow(t);
        }
    }

    /**
     * Waits up to {@code timeoutMs} for records (ring_buffer__poll) and hands them to {@code handler}.
     *
     * @return the number of records handled, 0 on timeout or interrupt
     */
    public int poll(int timeoutMs, RecordHandler handler) {
        return run(Calls.POLL, "ring_buffer__poll", timeoutMs, handler);
    }

    /** Hands every record available now to {@code handler} (ring_buffer__consume). */
    public int drain(RecordHandler handler) {
        return run(Calls.CONSUME, "ring_buffer__consume", -1, handler);
    }

    private int run(MethodHandle call, String callName, int timeoutMs, RecordHandler handler) {
        MemorySegment r = ring;
        if (r == null) {
            throw new IllegalStateException("ring buffer " + name + " is closed");
        }
        this.handler = handler;
        int rc;
        try {
            rc = call == Calls.POLL ? (int) call.invokeExact(r, timeoutMs) : (int) call.invokeExact(r);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            this.handler = null;
        }
        Throwable thrown = failure;
        if (thrown != null) {
            failure = null;
            throw Libc.rethrow(thrown);
        }
        if (rc == -Libc.EINTR) {
            return 0;
        }
        if (rc < 0) {
            throw Libbpf.failure(callName, -rc);
        }
        return rc;
    }

    /** The upcall: {@code int (*)(void *ctx, void *data, size_t size)}. */
    private int onSample(MemorySegment ctx, MemorySegment data, long size) {
        // An exception escaping an upcall kills the JVM: keep it, stop the drain, rethrow after.
        try {
            handler.onRecord(data.reinterpret(size), 0, (int) size);
            return 0;
        } catch (Throwable t) {
            failure = t;
            return -1;
        }
    }

    /** Frees libbpf's reader and the upcall stub. Idempotent. */
    @Override
    public synchronized void close() {
        MemorySegment r = ring;
        if (r == null) {
            return;
        }
        ring = null;
        try {
            Calls.FREE.invokeExact(r);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            arena.close();
        }
    }

    private static final class Calls {
        static final MethodHandle NEW = Libbpf.downcall("ring_buffer__new",
                FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS), true);
        static final MethodHandle POLL = Libbpf.downcall("ring_buffer__poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), false);
        static final MethodHandle CONSUME = Libbpf.downcall("ring_buffer__consume", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle FREE = Libbpf.downcall("ring_buffer__free", FunctionDescriptor.ofVoid(ADDRESS), false);
    }
}
