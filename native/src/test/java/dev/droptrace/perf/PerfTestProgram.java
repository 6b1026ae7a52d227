package dev.droptrace.perf;

import dev.droptrace.libbpf.BpfLink;
import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfObject;
import dev.droptrace.libbpf.Libbpf;
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
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The test BPF object src/test/bpf/perf_test.bpf.c, loaded, aimed at the calling thread, with its
 * perf event array {@code events} pinned under a bpffs directory of this test run: each
 * {@link #trigger} is one getpid() that the program turns into a sample on the current CPU.
 * Java mirror of struct perf_test_record (perf_test.h) in the constants below.
 */
final class PerfTestProgram implements AutoCloseable {
    static final String RESOURCE = "/perf_test.bpf.o";
    static final int RECORD_SIZE = 40;
    /** The raw size the kernel reports: 40 bytes padded so that 4 + size is a multiple of 8. */
    static final int RAW_SIZE = 44;
    static final int SEQ = 0, TID = 8, CPU = 12, MARKER = 16, MARKER_SIZE = 24;
    static final byte[] MARKER_BYTES = "droptrace-perf-test-ok!\0".getBytes(StandardCharsets.US_ASCII);
    static final int OUTPUT_OK = 0, OUTPUT_ERROR = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETPID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("getpid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("gettid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETEUID = LINKER.downcallHandle(
            LINKER.defaultLookup().find("geteuid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));

    final Arena arena = Arena.ofConfined();
    final BpfObject object;
    final Path pinDir;
    final Path pin;
    BpfLink link;
    private boolean pinned;

    private PerfTestProgram(BpfObject object, Path pinDir) {
        this.object = object;
        this.pinDir = pinDir;
        this.pin = pinDir.resolve("events");
    }

    /** Skips the calling test, with the reason, where BPF programs cannot be loaded. */
    static void assumeKernel() {
        Assumptions.assumeTrue(Libbpf.available(), "libbpf.so.1 not found");
        Assumptions.assumeTrue(geteuid() == 0, "kernel test: needs root (CAP_BPF, CAP_PERFMON) to load BPF programs");
        Assumptions.assumeTrue(PerfTestProgram.class.getResource(RESOURCE) != null,
                "kernel test: " + RESOURCE + " was not built (see src/test/bpf/build.sh: clang, bpftool, BTF needed)");
    }

    /** Mounts a BPF filesystem at /sys/fs/bpf unless one is there (as on every Cilium node). */
    static void ensureBpffs() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (f.length > 4 && f[4].equals("/sys/fs/bpf") && dash > 0 && f[dash + 1].equals("bpf")) {
                return;
            }
        }
        Libc.mount("bpf", "/sys/fs/bpf", "bpf");
    }

    static byte[] elf() {
        try (InputStream in = PerfTestProgram.class.getResourceAsStream(RESOURCE)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads, aims at this thread, pins {@code events} under {@code name} and attaches {@code on_getpid}. */
    static PerfTestProgram start(String name) throws IOException {
        ensureBpffs();
        Path dir = Path.of("/sys/fs/bpf", "droptrace-test-" + ProcessHandle.current().pid(), name);
        BpfObject object = BpfObject.open("perf_test", elf());
        PerfTestProgram p = new PerfTestProgram(object, dir);
        try {
            object.load();
            Files.createDirectories(dir);
            object.map("events").pin(p.pin);
            p.pinned = true;
            p.aimAtThisThread();
            p.link = object.program("on_getpid").attach();
            return p;
        } catch (RuntimeException | IOException e) {
            p.close();
            throw e;
        }
    }

    private void aimAtThisThread() {
        BpfMap settings = object.map("settings");
        MemorySegment key = arena.allocate(JAVA_INT);
        MemorySegment value = arena.allocate(settings.valueSize(), 8);
        value.set(JAVA_INT, 0, gettid());
        settings.update(key, value, BpfMap.BPF_ANY);
    }

    /** Calls getpid() {@code n} times on this thread: n samples. */
    static void trigger(int n) {
        try {
            for (int i = 0; i < n; i++) {
                int ignored = (int) GETPID.invokeExact();
            }
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** Outputs that succeeded ({@link #OUTPUT_OK}) or failed ({@link #OUTPUT_ERROR}), over all CPUs. */
    long outputs(int which) {
        MemorySegment key = arena.allocate(JAVA_INT);
        key.set(JAVA_INT, 0, which);
        return object.map("outputs").sumPerCpuLong(key);
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
            try {
                if (pinned) {
                    object.map("events").unpin(pin);
                }
                Files.deleteIfExists(pinDir);
                Files.deleteIfExists(pinDir.getParent());
            } catch (IOException | RuntimeException ignored) {
                // the parent holds another test's pins: it goes with the last of them
            } finally {
                object.close();
                arena.close();
            }
        }
    }
}
