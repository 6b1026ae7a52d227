package dev.droptrace.libbpf;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import dev.droptrace.netns.NetworkNamespace;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@code sched_cls} program attached as a direct-action filter to a device's clsact hook, through
 * libbpf's netlink tc API (bpf_tc_hook_create, bpf_tc_attach); closing it detaches the filter
 * (bpf_tc_detach) and removes the clsact qdisc again if this attachment created it
 * (bpf_tc_hook_destroy).
 *
 * <p>An ifindex belongs to a network namespace and libbpf talks netlink in the namespace of the
 * calling thread, so an attachment made with a namespace name does every call, close included, on a
 * thread in that namespace ({@link NetworkNamespace#run}). A device or namespace already gone at
 * close took the filter with it: close then has nothing left to do.
 */
public final class BpfTcAttachment implements AutoCloseable {
    /** Where on the device the program runs. */
    public enum AttachPoint {
        /** Packets the device receives (tc ingress). */
        INGRESS(1),
        /** Packets the device sends (tc egress). */
        EGRESS(2);

        final int bits; // enum bpf_tc_attach_point

        AttachPoint(int bits) {
            this.bits = bits;
        }
    }

    // libbpf 1.1 (libbpf.h), LP64:
    // struct bpf_tc_hook { size_t sz; int ifindex; enum bpf_tc_attach_point attach_point; __u32 parent; size_t :0; } = 24
    // struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags; __u32 prog_id; __u32 handle; __u32 priority; size_t :0; } = 32
    private static final long HOOK_SIZE = 24, HOOK_IFINDEX = 8, HOOK_ATTACH_POINT = 12;
    private static final long OPTS_SIZE = 32, OPTS_PROG_FD = 8, OPTS_PROG_ID = 16, OPTS_HANDLE = 20, OPTS_PRIORITY = 24;
    private static final int BPF_TC_INGRESS_AND_EGRESS = 3;
    private static final int EEXIST = 17, ENODEV = 19, ENOENT = 2, EINVAL = 22;

    private final String program;
    private final String netns; // null: the namespace of the threads that attached and will detach
    private final int ifindex;
    private final AttachPoint point;
    private final int handle;
    private final int priority;
    private final int progId;
    private final boolean createdHook;
    private boolean closed;

    private BpfTcAttachment(String program, String netns, int ifindex, AttachPoint point, int handle, int priority,
            int progId, boolean createdHook) {
        this.program = program;
        this.netns = netns;
        this.ifindex = ifindex;
        this.point = point;
        this.handle = handle;
        this.priority = priority;
        this.progId = progId;
        this.createdHook = createdHook;
    }

    /**
     * Attaches a loaded tc program to device {@code ifindex} of the calling thread's network
     * namespace; close must then run in the same namespace.
     *
     * @throws NativeCallException if libbpf or the kernel refuses
     */
    public static BpfTcAttachment attach(BpfProgram program, int ifindex, AttachPoint point) {
        return attach0(program, null, ifindex, point);
    }

    /**
     * Attaches a loaded tc program to device {@code ifname} of the named network namespace (one made
     * by {@code ip netns add}); every netlink call runs on a thread inside it.
     *
     * @throws NativeCallException if the device does not exist or libbpf or the kernel refuses
     */
    public static BpfTcAttachment attach(BpfProgram program, String netns, String ifname, AttachPoint point) {
        return inNamespace(netns, () -> attach0(program, netns, Libc.ifNametoindex(ifname), point));
    }

    private static BpfTcAttachment attach0(BpfProgram program, String netns, int ifindex, AttachPoint point) {
        int progFd = program.fd();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hook = hook(arena, ifindex, point.bits);
            int rc = (int) Calls.HOOK_CREATE.invokeExact(hook);
            if (rc < 0 && rc != -EEXIST) {
                throw Libbpf.failure("bpf_tc_hook_create", -rc, "ifindex " + ifindex);
            }
            boolean created = rc == 0;
            MemorySegment opts = arena.allocate(OPTS_SIZE, 8);
            opts.set(JAVA_LONG, 0, OPTS_SIZE);
            opts.set(JAVA_INT, OPTS_PROG_FD, progFd);
            rc = (int) Calls.ATTACH.invokeExact(hook, opts);
            if (rc < 0) {
                if (created) {
                    int ignored = (int) Calls.HOOK_DESTROY.invokeExact(hook(arena, ifindex, BPF_TC_INGRESS_AND_EGRESS));
                }
                throw Libbpf.failure("bpf_tc_attach", -rc, program.name() + " on ifindex " + ifindex + " " + point);
            }
            return new BpfTcAttachment(program.name(), netns, ifindex, point, opts.get(JAVA_INT, OPTS_HANDLE),
                    opts.get(JAVA_INT, OPTS_PRIORITY), opts.get(JAVA_INT, OPTS_PROG_ID), created);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    private static MemorySegment hook(Arena arena, int ifindex, int attachPoint) {
        MemorySegment hook = arena.allocate(HOOK_SIZE, 8);
        hook.set(JAVA_LONG, 0, HOOK_SIZE);
        hook.set(JAVA_INT, HOOK_IFINDEX, ifindex);
        hook.set(JAVA_INT, HOOK_ATTACH_POINT, attachPoint);
        return hook;
    }

    /** The device the program is attached to. */
    public int ifindex() {
        return ifindex;
    }

    /** The network namespace name given at attach, or null for the attaching thread's. */
    public String netns() {
        return netns;
    }

    public AttachPoint attachPoint() {
        return point;
    }

    /** The filter's handle, as {@code tc filter show} lists it. */
    public int handle() {
        return handle;
    }

    /** The filter's priority ("pref" in {@code tc filter show}). */
    public int priority() {
        return priority;
    }

    /** The kernel id of the attached program. */
    public int programId() {
        return progId;
    }

    /** Whether this attachment created the device's clsact qdisc (and so removes it at close). */
    public boolean createdHook() {
        return createdHook;
    }

    /** Detaches the filter, and removes the clsact qdisc if this attachment created it. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (netns != null && !Files.exists(NetworkNamespace.pathOf(netns))) {
            return; // the namespace, its devices and their filters are gone
        }
        inNamespace(netns, () -> {
            detach0();
            return null;
        });
    }

    private void detach0() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hook = hook(arena, ifindex, point.bits);
            MemorySegment opts = arena.allocate(OPTS_SIZE, 8);
            opts.set(JAVA_LONG, 0, OPTS_SIZE);
            opts.set(JAVA_INT, OPTS_HANDLE, handle);
            opts.set(JAVA_INT, OPTS_PRIORITY, priority);
            int rc = (int) Calls.DETACH.invokeExact(hook, opts);
            if (rc < 0 && -rc != ENOENT && -rc != ENODEV) {
                throw Libbpf.failure("bpf_tc_detach", -rc, program + " on ifindex " + ifindex + " " + point);
            }
            if (createdHook) {
                rc = (int) Calls.HOOK_DESTROY.invokeExact(hook(arena, ifindex, BPF_TC_INGRESS_AND_EGRESS));
                // EINVAL: the device's ingress queue holds no clsact any more
                if (rc < 0 && -rc != ENOENT && -rc != ENODEV && -rc != EINVAL) {
                    throw Libbpf.failure("bpf_tc_hook_destroy", -rc, "ifindex " + ifindex);
                }
            }
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    private interface NamespaceWork<T> {
        T call();
    }

    private static <T> T inNamespace(String netns, NamespaceWork<T> work) {
        if (netns == null) {
            return work.call();
        }
        try {
            return NetworkNamespace.run(netns, work::call);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("in network namespace " + netns + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "BpfTcAttachment[" + program + " on ifindex " + ifindex + (netns == null ? "" : " in " + netns)
                + " " + point + ", handle " + handle + ", pref " + priority + "]";
    }

    private static final class Calls {
        static final MethodHandle HOOK_CREATE = Libbpf.downcall("bpf_tc_hook_create", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle HOOK_DESTROY = Libbpf.downcall("bpf_tc_hook_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
        static final MethodHandle ATTACH = Libbpf.downcall("bpf_tc_attach", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
        static final MethodHandle DETACH = Libbpf.downcall("bpf_tc_detach", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
    }
}
