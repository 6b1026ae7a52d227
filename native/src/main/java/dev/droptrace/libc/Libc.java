package dev.droptrace.libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** Downcalls into libc (errno captured per call) for the handful of functions droptrace needs. */
public final class Libc {
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;

    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x1;

    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;

    // sockets (Linux, every architecture droptrace runs on)
    public static final int EPERM = 1;
    public static final int EBUSY = 16;
    public static final int ENOBUFS = 105;
    public static final int AF_NETLINK = 16;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // Per-thread memory for the captured errno and for small argument structs (pollfd is 8 bytes,
    // timespec 16), so hot-path calls allocate nothing after a thread's first call. An automatic
    // arena frees a thread's scratch when the thread is gone.
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CALL_STATE));
    private static final ThreadLocal<MemorySegment> SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    private static final MethodHandle STRERROR = downcall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT), false);
    private static final MethodHandle POLL = downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), true);
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), true);
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), true);
    private static final MethodHandle MOUNT = downcall("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), true);
    private static final MethodHandle STAT = downcall("stat", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), true);
    private static final MethodHandle CLOCK_GETTIME = downcall("clock_gettime", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), true);
    private static final MethodHandle GETPAGESIZE = downcall("getpagesize", FunctionDescriptor.of(JAVA_INT), false);
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
    private static final MethodHandle IF_NAMETOINDEX = downcall("if_nametoindex", FunctionDescriptor.of(JAVA_INT, ADDRESS), true);
    private static final MethodHandle SOCKET = downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), true);
    private static final MethodHandle BIND = downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), true);
    private static final MethodHandle GETSOCKNAME = downcall("getsockname", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), true);
    private static final MethodHandle SETSOCKOPT = downcall("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), true);
    private static final MethodHandle GETSOCKOPT = downcall("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), true);
    private static final MethodHandle SENDTO = downcall("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), true);
    private static final MethodHandle RECV = downcall("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), true);
    private static final MethodHandle VSNPRINTF = downcall("vsnprintf",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS), false);

    private static final int PAGE_SIZE = getpagesize0();

    private Libc() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, boolean captureErrno) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new IllegalStateException("libc has no symbol " + name));
        return captureErrno
                ? LINKER.downcallHandle(symbol, descriptor, CAPTURE_ERRNO)
                : LINKER.downcallHandle(symbol, descriptor);
    }

    /**
     * The linker option that makes a downcall capture errno; a handle built with it takes
     * {@link #callState()} as its first argument, read back with {@link #errno(MemorySegment)}.
     */
    public static Linker.Option captureErrno() {
        return CAPTURE_ERRNO;
    }

    /** This thread's call-state segment for downcalls built with {@link #captureErrno()}. */
    public static MemorySegment callState() {
        return STATE.get();
    }

    /** The errno captured in a call-state segment by the last downcall that used it. */
    public static int errno(MemorySegment callState) {
        return (int) ERRNO.get(callState, 0L);
    }

    /** The text for an errno value, for example "No such file or directory" for 2. */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.equals(MemorySegment.NULL) ? "Unknown error " + errno : text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Waits up to {@code timeoutMs} (-1: forever) for {@code events} on one fd, allocation-free.
     *
     * @return the revents bits, 0 on timeout or when a signal interrupted the wait
     * @throws NativeCallException if poll fails for another reason
     */
    public static int poll(int fd, short events, int timeoutMs) {
        MemorySegment pollfd = SCRATCH.get();
        pollfd.set(JAVA_INT, 0, fd);
        pollfd.set(JAVA_SHORT, 4, events);
        pollfd.set(JAVA_SHORT, 6, (short) 0);
        return poll(pollfd, 1, timeoutMs) == 0 ? 0 : pollfd.get(JAVA_SHORT, 6) & 0xffff;
    }

    /**
     * Waits up to {@code timeoutMs} (-1: forever) on {@code count} {@code struct pollfd} (8 bytes
     * each: int fd, short events, short revents) in {@code pollfds}, allocation-free; the caller
     * reads the revents in place.
     *
     * @return the number of fds with events, 0 on timeout or when a signal interrupted the wait
     * @throws NativeCallException if poll fails for another reason
     */
    public static int poll(MemorySegment pollfds, int count, int timeoutMs) {
        if (pollfds.byteSize() < 8L * count) {
            throw new IllegalArgumentException("pollfds holds fewer than " + count + " entries");
        }
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) POLL.invokeExact(state, pollfds, (long) count, timeoutMs);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) {
            int errno = errno(state);
            // EINTR is a spurious wakeup, not a failure: the caller just polls again.
            if (errno == EINTR) {
                return 0;
            }
            throw new NativeCallException("poll", errno);
        }
        return rc;
    }

    /**
     * The index of the network interface {@code name} in the calling thread's network namespace
     * (if_nametoindex).
     *
     * @throws NativeCallException if there is no such interface
     */
    public static int ifNametoindex(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = STATE.get();
            int index = (int) IF_NAMETOINDEX.invokeExact(state, arena.allocateFrom(name));
            if (index == 0) {
                throw new NativeCallException("if_nametoindex " + name, errno(state));
            }
            return index;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Maps {@code length} bytes of {@code fd} at {@code offset}; the segment has the mapping's size
     * and the global scope, so the caller owns it and must {@link #munmap} it.
     */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) {
        MemorySegment state = STATE.get();
        MemorySegment address;
        try {
            address = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (address.address() == -1L) { // MAP_FAILED
            throw new NativeCallException("mmap", errno(state));
        }
        return address.reinterpret(length);
    }

    /** Unmaps a segment returned by {@link #mmap}; its byte size is the length unmapped. */
    public static void munmap(MemorySegment mapping) {
        munmap(mapping.address(), mapping.byteSize());
    }

    /** Unmaps {@code length} bytes at {@code address}, for callers that only kept the address. */
    public static void munmap(long address, long length) {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) MUNMAP.invokeExact(state, MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) {
            throw new NativeCallException("munmap", errno(state));
        }
    }

    /** The time on {@code clockId} ({@link #CLOCK_REALTIME}, {@link #CLOCK_MONOTONIC}) in nanoseconds, allocation-free. */
    public static long clockGettimeNs(int clockId) {
        MemorySegment timespec = SCRATCH.get();
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) CLOCK_GETTIME.invokeExact(state, clockId, timespec);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) {
            throw new NativeCallException("clock_gettime", errno(state));
        }
        return timespec.get(JAVA_LONG, 0) * 1_000_000_000L + timespec.get(JAVA_LONG, 8);
    }

    /**
     * Bytes a file occupies on disk (st_blocks * 512), which for sparse, preallocated files such as
     * memory-mapped journals is far less than their length. st_blocks sits at offset 64 of struct
     * stat on both x86_64 and aarch64.
     */
    public static long allocatedBytes(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = arena.allocate(256, 8);
            MemorySegment state = STATE.get();
            int rc = (int) STAT.invokeExact(state, arena.allocateFrom(path), st);
            if (rc < 0) throw new NativeCallException("stat " + path, errno(state));
            return st.get(JAVA_LONG, 64) * 512L;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** mount(2) with no flags and no data, e.g. ("nodev", "/sys/kernel/tracing", "tracefs"). */
    public static void mount(String source, String target, String fstype) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = STATE.get();
            int rc = (int) MOUNT.invokeExact(state, arena.allocateFrom(source), arena.allocateFrom(target),
                    arena.allocateFrom(fstype), 0L, MemorySegment.NULL);
            if (rc < 0) throw new NativeCallException("mount " + fstype + " on " + target, errno(state));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The size of a memory page, the unit of the ring buffer mappings. */
    public static int getpagesize() {
        return PAGE_SIZE;
    }

    private static int getpagesize0() {
        try {
            return (int) GETPAGESIZE.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Closes a file descriptor. */
    public static void close(int fd) {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) {
            throw new NativeCallException("close", errno(state));
        }
    }

    /**
     * Formats {@code fmt} with a {@code va_list} into {@code buf} (at most {@code size} bytes, NUL
     * included); {@code ap} is the va_list as a C callee receives it (on x86_64, a pointer).
     *
     * @return the length the full text needs, without the NUL (may exceed {@code size - 1})
     */
    public static int vsnprintf(MemorySegment buf, long size, MemorySegment fmt, MemorySegment ap) {
        try {
            return (int) VSNPRINTF.invokeExact(buf, size, fmt, ap);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- sockets ---------------------------------------------------------------------------------

    /** socket(2); returns the fd. */
    public static int socket(int domain, int type, int protocol) {
        MemorySegment state = STATE.get();
        int fd;
        try {
            fd = (int) SOCKET.invokeExact(state, domain, type, protocol);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (fd < 0) throw new NativeCallException("socket", errno(state));
        return fd;
    }

    /** bind(2) to the socket address in {@code address} (its whole size is the address length). */
    public static void bind(int fd, MemorySegment address) {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) BIND.invokeExact(state, fd, address, (int) address.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) throw new NativeCallException("bind", errno(state));
    }

    /** getsockname(2) into {@code address}; returns the length the kernel wrote. */
    public static int getsockname(int fd, MemorySegment address) {
        MemorySegment state = STATE.get();
        MemorySegment len = SCRATCH.get();
        len.set(JAVA_INT, 0, (int) address.byteSize());
        int rc;
        try {
            rc = (int) GETSOCKNAME.invokeExact(state, fd, address, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) throw new NativeCallException("getsockname", errno(state));
        return len.get(JAVA_INT, 0);
    }

    /** setsockopt(2) with an int value; {@code what} names the option in the exception. */
    public static void setsockopt(int fd, int level, int option, int value, String what) {
        MemorySegment v = SCRATCH.get();
        v.set(JAVA_INT, 0, value);
        setsockopt(fd, level, option, v.asSlice(0, 4), what);
    }

    /** setsockopt(2) with the option value in {@code value} (its whole size is the option length). */
    public static void setsockopt(int fd, int level, int option, MemorySegment value, String what) {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) SETSOCKOPT.invokeExact(state, fd, level, option, value, (int) value.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) throw new NativeCallException("setsockopt " + what, errno(state));
    }

    /** getsockopt(2) of an int option. */
    public static int getsockoptInt(int fd, int level, int option, String what) {
        MemorySegment scratch = SCRATCH.get();
        MemorySegment value = scratch.asSlice(0, 4);
        MemorySegment len = scratch.asSlice(8, 4);
        len.set(JAVA_INT, 0, 4);
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) GETSOCKOPT.invokeExact(state, fd, level, option, value, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) throw new NativeCallException("getsockopt " + what, errno(state));
        return value.get(JAVA_INT, 0);
    }

    /**
     * sendto(2) of {@code length} bytes of {@code buffer} (a native segment) to {@code address}
     * ({@link MemorySegment#NULL} for a connected or netlink default peer); returns the bytes sent.
     */
    public static long sendto(int fd, MemorySegment buffer, long length, int flags, MemorySegment address) {
        MemorySegment state = STATE.get();
        long rc;
        try {
            rc = (long) SENDTO.invokeExact(state, fd, buffer, length, flags, address,
                    address.equals(MemorySegment.NULL) ? 0 : (int) address.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (rc < 0) throw new NativeCallException("sendto", errno(state));
        return rc;
    }

    /**
     * recv(2) into {@code length} bytes of {@code buffer} (a native segment), allocation-free. Unlike
     * the other calls it does not throw: EAGAIN, EINTR and ENOBUFS are ordinary outcomes for a reader,
     * so a failure comes back as the negative errno.
     *
     * @return the byte count (with {@link #MSG_TRUNC}, the datagram's full length), or {@code -errno}
     */
    public static long recv(int fd, MemorySegment buffer, long length, int flags) {
        MemorySegment state = STATE.get();
        long rc;
        try {
            rc = (long) RECV.invokeExact(state, fd, buffer, length, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return rc < 0 ? -errno(state) : rc;
    }

    /** Unchecked rethrow of what a MethodHandle invocation declared as Throwable. */
    public static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
