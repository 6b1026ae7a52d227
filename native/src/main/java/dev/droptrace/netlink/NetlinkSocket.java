package dev.droptrace.netlink;

import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One {@code AF_NETLINK} raw socket, bound with {@code nl_pid} 0 so the kernel assigns the port id
 * (read back with getsockname). Sends go to the kernel (port 0).
 *
 * <p>{@link #receive} returns the byte count of one datagram, or {@link #WOULD_BLOCK} (nothing queued,
 * the receive timeout ran out, or a signal interrupted it), or {@link #OVERRUN} when the kernel
 * reported ENOBUFS: it had to drop messages because the receive queue was full. Overruns are counted
 * ({@link #overruns}) and the socket stays usable. Any other failure throws
 * {@link NativeCallException}. The fd works from any thread; one thread should receive at a time,
 * and the socket must not be closed while another thread is inside {@link #receive} (stop the reader
 * first).
 */
public final class NetlinkSocket implements AutoCloseable {
    /** Routing and link protocol (interfaces, addresses, routes). */
    public static final int NETLINK_ROUTE = 0;
    /** nfnetlink: conntrack, nfnetlink_log, nfnetlink_queue, nftables. */
    public static final int NETLINK_NETFILTER = 12;
    /** SOL_NETLINK socket option level. */
    public static final int SOL_NETLINK = 270;
    /** Turns ENOBUFS reports off (losses then go unseen). */
    public static final int NETLINK_NO_ENOBUFS = 5;

    /** {@link #receive} result: no datagram now (EAGAIN, receive timeout or EINTR). */
    public static final int WOULD_BLOCK = -1;
    /** {@link #receive} result: the kernel dropped messages for lack of buffer space (ENOBUFS). */
    public static final int OVERRUN = -2;

    private static final int SOCKADDR_NL_SIZE = 12;

    private final int fd;
    private final int protocol;
    private final int portId;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment kernelAddress;
    private volatile long overruns;
    private volatile boolean closed;

    private NetlinkSocket(int fd, int protocol, int portId) {
        this.fd = fd;
        this.protocol = protocol;
        this.portId = portId;
        this.kernelAddress = arena.allocate(SOCKADDR_NL_SIZE, 4);
        kernelAddress.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
    }

    /** Opens and binds a netlink socket for {@code protocol} in the calling thread's network namespace. */
    public static NetlinkSocket open(int protocol) {
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SOCKADDR_NL_SIZE, 4);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_NETLINK); // nl_pid 0: the kernel picks
            Libc.bind(fd, addr);
            addr.fill((byte) 0);
            Libc.getsockname(fd, addr);
            return new NetlinkSocket(fd, protocol, addr.get(ValueLayout.JAVA_INT, 4));
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    public int fd() {
        return fd;
    }

    public int protocol() {
        return protocol;
    }

    /** The port id the kernel assigned ({@code nl_pid}); it is how /proc and the kernel name this socket. */
    public int portId() {
        return portId;
    }

    /** Sends {@code length} bytes of {@code message} (a native segment) to the kernel. */
    public void send(MemorySegment message, long length) {
        long n = Libc.sendto(fd, message, length, 0, kernelAddress);
        if (n != length) {
            throw new NativeCallException("sendto (short: " + n + " of " + length + " bytes)", Libc.EAGAIN);
        }
    }

    /**
     * Receives one datagram into {@code buffer} (a native segment). With {@code dontWait} it never
     * blocks; otherwise it blocks up to the {@link #receiveTimeout receive timeout}.
     *
     * @return the datagram's full length (a value above {@code buffer.byteSize()} means it was cut
     *         to the buffer), {@link #WOULD_BLOCK}, or {@link #OVERRUN}
     */
    public int receive(MemorySegment buffer, boolean dontWait) {
        long n = Libc.recv(fd, buffer, buffer.byteSize(), Libc.MSG_TRUNC | (dontWait ? Libc.MSG_DONTWAIT : 0));
        if (n >= 0) {
            return (int) Math.min(n, Integer.MAX_VALUE);
        }
        int errno = (int) -n;
        if (errno == Libc.EAGAIN || errno == Libc.EINTR) {
            return WOULD_BLOCK;
        }
        if (errno == Libc.ENOBUFS) {
            overruns++; // single receiving thread
            return OVERRUN;
        }
        throw new NativeCallException("recv", errno);
    }

    /** Waits up to {@code timeoutMs} for a datagram (or an error) to be readable. */
    public boolean awaitReadable(int timeoutMs) {
        return Libc.poll(fd, Libc.POLLIN, timeoutMs) != 0;
    }

    /** How many receives reported ENOBUFS since the socket was opened. */
    public long overruns() {
        return overruns;
    }

    /**
     * Asks for a receive buffer of {@code bytes}: SO_RCVBUFFORCE first (needs CAP_NET_ADMIN, ignores
     * net.core.rmem_max), SO_RCVBUF (capped by rmem_max) if that is not permitted.
     *
     * @return the size the kernel reports afterwards (it doubles the request for its bookkeeping)
     */
    public int receiveBufferSize(int bytes) {
        try {
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, bytes, "SO_RCVBUFFORCE");
        } catch (NativeCallException e) {
            if (e.errno() != Libc.EPERM) throw e;
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, bytes, "SO_RCVBUF");
        }
        return receiveBufferSize();
    }

    /** The receive buffer size the kernel reports (SO_RCVBUF). */
    public int receiveBufferSize() {
        return Libc.getsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, "SO_RCVBUF");
    }

    /** Bounds a blocking {@link #receive} to {@code millis} (0: forever), so a reader thread can stop. */
    public void receiveTimeout(long millis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment tv = a.allocate(16, 8); // struct timeval {long sec; long usec}
            tv.set(ValueLayout.JAVA_LONG, 0, millis / 1000);
            tv.set(ValueLayout.JAVA_LONG, 8, (millis % 1000) * 1000);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, tv, "SO_RCVTIMEO");
        }
    }

    /** Sets an int socket option, e.g. ({@link #SOL_NETLINK}, {@link #NETLINK_NO_ENOBUFS}, 1). */
    public void option(int level, int option, int value, String what) {
        Libc.setsockopt(fd, level, option, value, what);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            Libc.close(fd);
        } finally {
            arena.close();
        }
    }
}
