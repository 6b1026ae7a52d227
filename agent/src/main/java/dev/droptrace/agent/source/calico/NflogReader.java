package dev.droptrace.agent.source.calico;

import dev.droptrace.netlink.NetlinkSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Reads an {@link NflogSocket} on its own thread and hands every NFULNL_MSG_PACKET message to an
 * {@link NflogMessageSink}.
 *
 * <p>The thread drains the socket without blocking into one reused buffer until it would block, then
 * waits in poll(2) (a bounded wait, so {@link #close} can stop it). Each datagram's netlink messages
 * are walked with an {@link NflogMessageParser}. It counts datagrams, packet messages, ENOBUFS
 * overruns (the kernel dropped records because the receive queue was full: lost, and reading goes
 * on), datagrams cut short by the buffer, malformed framing or attributes (by
 * {@link NflogParseError} kind, never thrown), error reports and other message types. Nothing is
 * allocated per datagram or per message.
 *
 * <p>Closing the reader stops and joins the thread; the socket stays open and belongs to the caller
 * (close the reader first, then the socket).
 */
public final class NflogReader implements AutoCloseable {
    /** Default receive buffer: above NLBUFSIZ's 128 KiB maximum, so a batch always fits. */
    public static final int DEFAULT_BUFFER_BYTES = 256 * 1024;
    private static final int POLL_MS = 100;
    private static final NflogParseError[] KINDS = NflogParseError.values();

    private final NflogSocket socket;
    private final NflogMessageSink sink;
    private final NflogMessageParser parser = new NflogMessageParser();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private final AtomicLongArray parseErrors = new AtomicLongArray(KINDS.length);
    private final Thread thread;

    private volatile boolean running = true;
    private boolean closed;
    private volatile long datagrams;
    private volatile long packets;
    private volatile long overruns;
    private volatile long truncated;
    private volatile long malformed;
    private volatile long errorMessages;
    private volatile long otherMessages;
    private volatile long sinkFailures;
    private volatile String failure;

    NflogReader(NflogSocket socket, NflogMessageSink sink, int bufferBytes) {
        this.socket = socket;
        this.sink = sink;
        this.buffer = arena.allocate(bufferBytes, 8);
        this.thread = socket == null ? null : Thread.ofPlatform().daemon().name("nflog-reader-" + socket.portId())
                .unstarted(this::run);
    }

    /** Starts reading {@code socket} into {@code sink} with a {@link #DEFAULT_BUFFER_BYTES} buffer. */
    public static NflogReader start(NflogSocket socket, NflogMessageSink sink) {
        return start(socket, sink, DEFAULT_BUFFER_BYTES);
    }

    /** Starts reading {@code socket} into {@code sink} with a receive buffer of {@code bufferBytes}. */
    public static NflogReader start(NflogSocket socket, NflogMessageSink sink, int bufferBytes) {
        NflogReader reader = new NflogReader(socket, sink, bufferBytes);
        reader.thread.start();
        return reader;
    }

    private void run() {
        NetlinkSocket netlink = socket.netlink();
        try {
            while (running) {
                int n = netlink.receive(buffer, true);
                if (n == NetlinkSocket.WOULD_BLOCK) {
                    netlink.awaitReadable(POLL_MS);
                } else if (n == NetlinkSocket.OVERRUN) {
                    overruns++;
                } else {
                    walk(buffer, n);
                }
            }
        } catch (RuntimeException e) {
            failure = e.toString();
        }
    }

    /**
     * Walks one datagram of {@code length} bytes (its full length as received: more than the buffer
     * means it was cut) and delivers its packet messages. Package-private for the fuzz tests.
     */
    void walk(MemorySegment datagram, int length) {
        datagrams++;
        long n = length;
        if (n > datagram.byteSize()) {
            truncated++;
            n = datagram.byteSize();
        }
        parser.wrap(datagram, 0, n);
        long before = parser.totalErrors();
        for (NflogMessageParser.Kind k = parser.next(); k != NflogMessageParser.Kind.END; k = parser.next()) {
            switch (k) {
                case PACKET -> {
                    packets++;
                    try {
                        sink.onPacket(datagram, parser.messageOffset(), parser.messageLength());
                    } catch (RuntimeException e) {
                        sinkFailures++;
                        failure = "sink: " + e;
                    }
                }
                case ERROR -> {
                    if (parser.errorCode() != 0) errorMessages++;
                }
                case DONE -> {
                    // ends a batch
                }
                default -> otherMessages++;
            }
        }
        if (parser.totalErrors() != before) {
            malformed = parser.totalErrors();
            for (NflogParseError kind : KINDS) {
                parseErrors.set(kind.ordinal(), parser.errors(kind));
            }
        }
    }

    // ---- counters -----------------------------------------------------------------------------

    /** Datagrams received. */
    public long datagrams() { return datagrams; }

    /** NFULNL_MSG_PACKET messages handed to the sink. */
    public long packets() { return packets; }

    /** Receives that reported ENOBUFS: the kernel dropped records (how many is unknown). */
    public long overruns() { return overruns; }

    /** Datagrams longer than the buffer (their tail was lost). */
    public long truncatedDatagrams() { return truncated; }

    /** Malformed framing or attributes, all kinds. */
    public long malformed() { return malformed; }

    /** Malformed input of one kind. */
    public long malformed(NflogParseError kind) { return parseErrors.get(kind.ordinal()); }

    /** NLMSG_ERROR messages with a non-zero code outside the binding handshake. */
    public long errorMessages() { return errorMessages; }

    /** Other message types (not packet, ack, done). */
    public long otherMessages() { return otherMessages; }

    /** Packet messages whose sink threw. */
    public long sinkFailures() { return sinkFailures; }

    /** Whether the thread is still reading. */
    public boolean isRunning() {
        return thread != null && thread.isAlive();
    }

    /** One line for status: the socket's groups, then the counters. */
    public String state() {
        String f = failure;
        return (socket == null ? "nflog reader" : socket.state()) + "; "
                + (isRunning() ? "reading" : "stopped") + ": " + datagrams + " datagrams, " + packets + " packets, "
                + overruns + " overruns, " + truncated + " truncated, " + malformed + " malformed, " + errorMessages
                + " errors, " + otherMessages + " other" + (sinkFailures > 0 ? ", " + sinkFailures + " sink failures" : "")
                + (f == null ? "" : "; last failure: " + f);
    }

    /** Stops and joins the reading thread; the socket stays open. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        running = false;
        if (thread != null) {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        arena.close();
    }
}
