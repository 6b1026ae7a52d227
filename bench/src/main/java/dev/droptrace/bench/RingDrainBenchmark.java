package dev.droptrace.bench;

import dev.droptrace.libbpf.BpfLink;
import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfObject;
import dev.droptrace.libbpf.BpfRingBuffer;
import dev.droptrace.libbpf.LibbpfRingBuffer;
import dev.droptrace.libbpf.RecordHandler;
import dev.droptrace.libc.Libc;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Draining one kernel ring buffer two ways, same records, same handler: {@link BpfRingBuffer}
 * (the agent's reader: Java over the mmap'd pages) against {@link LibbpfRingBuffer} (libbpf's
 * ring_buffer__consume with an FFM upcall per record).
 *
 * <p>The producer is bench/src/main/bpf/ringdrain_bench.bpf.c: one getpid() of the benchmark
 * thread writes {@value #RECORDS} records of 104 bytes (the size of the kfree_skb record) with
 * bpf_loop. Each invocation's setup triggers them (not timed); the invocation drains them (timed),
 * so the score is ns per record of the drain alone. The handler reads two fields of each record, as
 * a decoder would start to. Build the producer first: {@code bench/build-bpf.sh}; needs root
 * (CAP_BPF, CAP_PERFMON). The object is read from {@code -Ddroptrace.bench.ringObject=PATH},
 * default {@code bench/target/bpf/ringdrain_bench.bpf.o} relative to the working directory.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RingDrainBenchmark extends AgentJvmFork {
    static final int RECORDS = 32_768;
    static final String OBJECT = System.getProperty("droptrace.bench.ringObject", "bench/target/bpf/ringdrain_bench.bpf.o");

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETPID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("getpid").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    private static final MethodHandle GETTID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("gettid").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));

    private final Arena arena = Arena.ofConfined();
    private BpfObject object;
    private BpfLink link;
    private BpfRingBuffer javaRing;
    private LibbpfRingBuffer libbpfRing;
    private final Counting handler = new Counting();

    /** Reads a record's seq and index, as a decoder would start to; counts records. */
    static final class Counting implements RecordHandler {
        long records;
        long sum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            sum += data.get(ValueLayout.JAVA_LONG_UNALIGNED, offset) + data.get(ValueLayout.JAVA_INT_UNALIGNED, offset + 16);
            records++;
        }
    }

    @Setup(Level.Trial)
    public void attach() throws Throwable {
        Path path = Path.of(OBJECT);
        if (!Files.isReadable(path)) {
            throw new IllegalStateException(OBJECT + " is missing: run bench/build-bpf.sh first (and run from the repo root)");
        }
        object = BpfObject.open("ringdrain_bench", readAll(path));
        object.load();
        BpfMap settings = object.map("settings");
        MemorySegment key = arena.allocate(ValueLayout.JAVA_INT);
        MemorySegment value = arena.allocate(settings.valueSize(), 8);
        value.set(ValueLayout.JAVA_INT, 0, (int) GETTID.invokeExact()); // JMH runs setup on the benchmark thread
        value.set(ValueLayout.JAVA_INT, 4, RECORDS);
        settings.update(key, value, BpfMap.BPF_ANY);
        javaRing = BpfRingBuffer.open(object.map("rb"));
        libbpfRing = LibbpfRingBuffer.open(object.map("rb"));
        link = object.program("on_getpid").attach();
    }

    private static byte[] readAll(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    @Setup(Level.Invocation)
    public void produce() throws Throwable {
        int ignored = (int) GETPID.invokeExact();
        handler.records = 0;
    }

    @TearDown(Level.Invocation)
    public void check() {
        if (handler.records != RECORDS) {
            throw new IllegalStateException("drained " + handler.records + " records, expected " + RECORDS
                    + " (ring full? lost records in map `lost`)");
        }
    }

    @TearDown(Level.Trial)
    public void detach() {
        if (link != null) link.close();
        if (libbpfRing != null) libbpfRing.close();
        if (javaRing != null) javaRing.close();
        if (object != null) object.close();
        arena.close();
    }

    /** The agent's reader: Java over the mmap'd ring, no upcall. */
    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long javaMmap() {
        javaRing.drain(handler);
        return handler.sum;
    }

    /** libbpf's ring_buffer__consume, one FFM upcall per record. */
    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long libbpfUpcall() {
        libbpfRing.drain(handler);
        return handler.sum;
    }
}
