package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** An attached program; closing it detaches the program (bpf_link__destroy). */
public final class BpfLink implements AutoCloseable {
    private final String program;
    private MemorySegment ptr;

    BpfLink(String program, MemorySegment ptr) {
        this.program = program;
        this.ptr = ptr;
    }

    /** The fd of the link (for a perf-event based attachment, the perf event's fd). */
    public synchronized int fd() {
        if (ptr == null) {
            throw new IllegalStateException("link of " + program + " is closed");
        }
        int fd;
        try {
            fd = (int) Calls.FD.invokeExact(ptr);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (fd < 0) {
            throw Libbpf.failure("bpf_link__fd", -fd);
        }
        return fd;
    }

    /** Detaches the program and frees the link. Idempotent. */
    @Override
    public synchronized void close() {
        if (ptr == null) {
            return;
        }
        MemorySegment p = ptr;
        ptr = null;
        int rc;
        try {
            rc = (int) Calls.DESTROY.invokeExact(p);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (rc < 0) {
            // libbpf frees the link even when detaching reports an error: nothing to retry.
            throw Libbpf.failure("bpf_link__destroy", -rc);
        }
    }

    @Override
    public String toString() {
        return "BpfLink[" + program + "]";
    }

    private static final class Calls {
        static final MethodHandle DESTROY = Libbpf.downcall("bpf_link__destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle FD = Libbpf.downcall("bpf_link__fd", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    }
}
