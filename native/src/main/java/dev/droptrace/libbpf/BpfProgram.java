package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** A program of a {@link BpfObject}; owned by the object, attached through {@link #attach()}. */
public final class BpfProgram {
    private final BpfObject owner;
    private final MemorySegment ptr;
    private final String name;

    BpfProgram(BpfObject owner, MemorySegment ptr) {
        this.owner = owner;
        this.ptr = ptr;
        try {
            this.name = ((MemorySegment) Calls.NAME.invokeExact(ptr)).reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** The program's C function name. */
    public String name() {
        return name;
    }

    /**
     * Whether {@link BpfObject#load()} loads this program; set before loading. Programs in a
     * section starting with '?' start with autoload off.
     */
    public void setAutoload(boolean autoload) {
        owner.handle();
        int rc;
        try {
            rc = (int) Calls.SET_AUTOLOAD.invokeExact(ptr, autoload);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            throw Libbpf.failure("bpf_program__set_autoload", -rc);
        }
    }

    /**
     * Attaches the loaded program where its section name says (bpf_program__attach).
     *
     * @return the link; closing it detaches the program
     * @throws dev.droptrace.libc.NativeCallException if the kernel refuses
     */
    public BpfLink attach() {
        owner.handle();
        MemorySegment state = Libc.callState();
        MemorySegment link;
        try {
            link = (MemorySegment) Calls.ATTACH.invokeExact(state, ptr);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (link.equals(MemorySegment.NULL)) {
            throw Libbpf.failure("bpf_program__attach", Libc.errno(state));
        }
        return new BpfLink(name, link);
    }

    /** The program's fd once loaded. */
    public int fd() {
        owner.handle();
        int fd;
        try {
            fd = (int) Calls.FD.invokeExact(ptr);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (fd < 0) {
            throw Libbpf.failure("bpf_program__fd", -fd);
        }
        return fd;
    }

    /** Offset of {@code recursion_misses} in the uapi {@code struct bpf_prog_info} (append-only ABI, Linux 5.12+). */
    static final int PROG_INFO_RECURSION_MISSES = 208;
    static final int PROG_INFO_SIZE = 232;

    /**
     * Times the kernel skipped this program because it was already running on the same CPU (a
     * tracepoint hit inside a run, for example a drop in an interrupt during a drop): {@code
     * recursion_misses} of bpf_obj_get_info_by_fd. 0 on kernels without the field.
     */
    public long recursionMisses() {
        int fd = fd();
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment info = a.allocate(PROG_INFO_SIZE, 8);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, PROG_INFO_SIZE);
            int rc;
            try {
                rc = (int) Calls.GET_INFO.invokeExact(fd, info, len);
            } catch (Throwable t) {
                throw Libc.rethrow(t);
            }
            if (rc < 0) {
                throw Libbpf.failure("bpf_obj_get_info_by_fd", -rc);
            }
            if (len.get(JAVA_INT, 0) < PROG_INFO_RECURSION_MISSES + 8) {
                return 0;
            }
            return info.get(java.lang.foreign.ValueLayout.JAVA_LONG, PROG_INFO_RECURSION_MISSES);
        }
    }

    @Override
    public String toString() {
        return "BpfProgram[" + name + "]";
    }

    private static final class Calls {
        static final MethodHandle NAME = Libbpf.downcall("bpf_program__name", FunctionDescriptor.of(ADDRESS, ADDRESS), false);
        static final MethodHandle SET_AUTOLOAD = Libbpf.downcall("bpf_program__set_autoload",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_BOOLEAN), false);
        static final MethodHandle ATTACH = Libbpf.downcall("bpf_program__attach", FunctionDescriptor.of(ADDRESS, ADDRESS), true);
        static final MethodHandle FD = Libbpf.downcall("bpf_program__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle GET_INFO = Libbpf.downcall("bpf_obj_get_info_by_fd",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), false);
    }
}
