package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A BPF ELF object opened from bytes: owns its programs and maps and the memory they refer to,
 * from {@link #open} through {@link #load} until {@link #close}.
 */
public final class BpfObject implements AutoCloseable {
    // struct bpf_object_open_opts of libbpf 1.1 (libbpf.h): size_t sz; const char *object_name;
    // bool relaxed_maps; const char *pin_root_path; __u32 :32; const char *kconfig;
    // const char *btf_custom_path; char *kernel_log_buf; size_t kernel_log_size;
    // __u32 kernel_log_level; size_t :0 -> 80 bytes on LP64. libbpf reads only the first sz bytes
    // and checks that anything it does not know about past them is zero.
    private static final long OPEN_OPTS_SIZE = 80;
    private static final long OPEN_OPTS_OBJECT_NAME = 8;

    // The ELF bytes, the options and every buffer of this object's maps live here: libbpf keeps
    // pointing at the ELF buffer after open, so it must outlive the bpf_object.
    private final Arena arena;
    private final String name;
    private final Map<String, BpfProgram> programs = new HashMap<>();
    private final Map<String, BpfMap> maps = new HashMap<>();
    private volatile MemorySegment handle; // null once closed
    private boolean loaded;

    private BpfObject(Arena arena, String name, MemorySegment handle) {
        this.arena = arena;
        this.name = name;
        this.handle = handle;
    }

    /**
     * Opens an object from the bytes of a BPF ELF file (bpf_object__open_mem); nothing reaches the
     * kernel until {@link #load}.
     *
     * @param objectName the object's name, prefix of its internal maps' names (.bss, .data...)
     * @throws dev.droptrace.libc.NativeCallException if libbpf cannot parse the bytes
     * @throws IllegalStateException if libbpf.so.1 is not installed
     */
    public static BpfObject open(String objectName, byte[] elf) {
        Libbpf.requireAvailable();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment bytes = arena.allocate(Math.max(elf.length, 1), 8);
            MemorySegment.copy(elf, 0, bytes, JAVA_BYTE, 0, elf.length);
            MemorySegment opts = arena.allocate(OPEN_OPTS_SIZE, 8); // zeroed: every other option is unset
            opts.set(JAVA_LONG, 0, OPEN_OPTS_SIZE);
            opts.set(ADDRESS, OPEN_OPTS_OBJECT_NAME, arena.allocateFrom(objectName));
            MemorySegment state = Libc.callState();
            MemorySegment handle = (MemorySegment) Calls.OPEN_MEM.invokeExact(state, bytes, (long) elf.length, opts);
            if (handle.equals(MemorySegment.NULL)) {
                throw Libbpf.failure("bpf_object__open_mem", Libc.errno(state));
            }
            return new BpfObject(arena, objectName, handle);
        } catch (Throwable t) {
            arena.close();
            throw Libc.rethrow(t);
        }
    }

    /** The name given at {@link #open}. */
    public String name() {
        return name;
    }

    /**
     * Loads the object into the kernel (bpf_object__load): creates maps, relocates and verifies
     * programs. Autoload and map sizes must be set before.
     *
     * @throws dev.droptrace.libc.NativeCallException on failure, its detail holding what libbpf
     *         printed meanwhile, including the verifier log of a rejected program
     */
    public void load() {
        MemorySegment h = handle();
        int rc;
        Libbpf.startCapture();
        String log;
        try {
            rc = (int) Calls.LOAD.invokeExact(h);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            log = Libbpf.stopCapture();
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_object__load", -rc, log);
        }
        loaded = true;
    }

    /** Whether {@link #load} succeeded. */
    public boolean loaded() {
        return loaded;
    }

    /**
     * The program whose C function is named {@code name}; the same instance on every call.
     *
     * @throws IllegalArgumentException if the object has no such program
     */
    public synchronized BpfProgram program(String name) {
        BpfProgram program = programs.get(name);
        if (program == null) {
            MemorySegment ptr = find(Calls.FIND_PROGRAM, name);
            if (ptr.equals(MemorySegment.NULL)) {
                throw new IllegalArgumentException("BPF object " + this.name + " has no program " + name);
            }
            program = new BpfProgram(this, ptr);
            programs.put(name, program);
        }
        return program;
    }

    /**
     * The map named {@code name}; the same instance on every call.
     *
     * @throws IllegalArgumentException if the object has no such map
     */
    public synchronized BpfMap map(String name) {
        BpfMap map = maps.get(name);
        if (map == null) {
            MemorySegment ptr = find(Calls.FIND_MAP, name);
            if (ptr.equals(MemorySegment.NULL)) {
                throw new IllegalArgumentException("BPF object " + this.name + " has no map " + name);
            }
            map = new BpfMap(this, ptr);
            maps.put(name, map);
        }
        return map;
    }

    private MemorySegment find(MethodHandle finder, String name) {
        MemorySegment h = handle();
        try (Arena call = Arena.ofConfined()) {
            return (MemorySegment) finder.invokeExact(h, call.allocateFrom(name));
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /**
     * Unloads and frees the object (bpf_object__close): its programs and maps are gone from the
     * kernel unless a link or an open fd still holds them. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (handle == null) {
            return;
        }
        MemorySegment h = handle;
        handle = null;
        try {
            Calls.CLOSE.invokeExact(h);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        } finally {
            arena.close();
        }
    }

    /** The live bpf_object pointer; throws if closed, so no call ever reaches a freed object. */
    MemorySegment handle() {
        MemorySegment h = handle;
        if (h == null) {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
        return h;
    }

    Arena arena() {
        return arena;
    }

    /** Handles created on first use, after {@link Libbpf#requireAvailable()}. */
    private static final class Calls {
        static final MethodHandle OPEN_MEM = Libbpf.downcall("bpf_object__open_mem",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), true);
        static final MethodHandle LOAD = Libbpf.downcall("bpf_object__load", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle CLOSE = Libbpf.downcall("bpf_object__close", FunctionDescriptor.ofVoid(ADDRESS), false);
        static final MethodHandle FIND_PROGRAM = Libbpf.downcall("bpf_object__find_program_by_name",
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), false);
        static final MethodHandle FIND_MAP = Libbpf.downcall("bpf_object__find_map_by_name",
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS), false);
    }
}
