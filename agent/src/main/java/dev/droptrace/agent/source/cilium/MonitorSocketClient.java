package dev.droptrace.agent.source.cilium;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Reads cilium-agent's monitor socket ({@code /var/run/cilium/monitor1_2.sock}, spec
 * {@code cilium-monitor-format.md} section 1.4) on its own platform thread and hands every payload
 * to a {@link CiliumPayloadSink} through a {@link GobPayloadDecoder}. The protocol has no handshake:
 * connect and read. On end of stream, an I/O error or a broken gob stream the client closes the
 * connection and connects again, waiting 100 ms doubling to 5 s between failed attempts (reset by a
 * successful connection), so a cilium-agent restart or a socket that does not exist yet is not
 * fatal. State changes are logged once, never per attempt.
 *
 * <p>Loss on this route: lost-record payloads report the datapath ring's loss
 * ({@link #lostSamples()}); messages cilium-agent drops because this client's queue is full are
 * not visible to any reader.
 */
public final class MonitorSocketClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MonitorSocketClient.class);

    /** Where cilium-agent serves the v1.2 monitor protocol. */
    public static final Path DEFAULT_PATH = Path.of("/var/run/cilium/monitor1_2.sock");
    /** First wait after a failed attempt. */
    public static final Duration DEFAULT_MIN_BACKOFF = Duration.ofMillis(100);
    /** Longest wait between attempts. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(5);

    private static final int READ_BUFFER_SIZE = 64 << 10;
    private static final long CLOSE_WAIT_MS = 10_000;

    private final Path path;
    private final UnixDomainSocketAddress address;
    private final GobPayloadDecoder decoder;
    private final long minBackoffNs;
    private final long maxBackoffNs;
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER_SIZE);
    private final Thread thread;
    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong disconnects = new AtomicLong();
    private final AtomicLong bytesRead = new AtomicLong();
    private volatile boolean running = true;
    private volatile SocketChannel channel;
    private volatile String state;

    private MonitorSocketClient(Path path, CiliumPayloadSink sink, Duration minBackoff, Duration maxBackoff) {
        if (minBackoff.isNegative() || minBackoff.isZero() || maxBackoff.compareTo(minBackoff) < 0) {
            throw new IllegalArgumentException("backoff: need 0 < min <= max, got " + minBackoff + ", " + maxBackoff);
        }
        this.path = path;
        this.address = UnixDomainSocketAddress.of(path);
        this.decoder = new GobPayloadDecoder(sink);
        this.minBackoffNs = minBackoff.toNanos();
        this.maxBackoffNs = maxBackoff.toNanos();
        this.state = "waiting for " + path + ": not connected yet";
        this.thread = Thread.ofPlatform().name("cilium-monitor-socket").daemon(true).unstarted(this::run);
    }

    /** Starts reading {@code path} with the default backoff (100 ms doubling to 5 s). */
    public static MonitorSocketClient start(Path path, CiliumPayloadSink sink) {
        return start(path, sink, DEFAULT_MIN_BACKOFF, DEFAULT_MAX_BACKOFF);
    }

    /** Starts reading {@code path}, waiting {@code minBackoff} doubling to {@code maxBackoff} between failed attempts. */
    public static MonitorSocketClient start(Path path, CiliumPayloadSink sink, Duration minBackoff, Duration maxBackoff) {
        MonitorSocketClient client = new MonitorSocketClient(path, sink, minBackoff, maxBackoff);
        client.thread.start();
        return client;
    }

    private void run() {
        long backoff = minBackoffNs;
        while (running) {
            String reason;
            boolean connected = false;
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                channel = ch;
                if (!running) { // close() ran before it could see this channel
                    break;
                }
                ch.connect(address);
                connected = true;
                connects.setRelease(connects.getPlain() + 1);
                backoff = minBackoffNs;
                decoder.reset(); // a new connection is a new gob stream
                changeState("connected to " + path, false);
                reason = session(ch);
            } catch (AsynchronousCloseException e) {
                reason = "closed";
            } catch (IOException e) {
                reason = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            } catch (RuntimeException e) {
                LOG.error("cilium monitor socket {}: unexpected failure", path, e);
                reason = "unexpected " + e;
            } finally {
                channel = null;
            }
            if (connected) {
                disconnects.setRelease(disconnects.getPlain() + 1);
            }
            if (!running) {
                break;
            }
            changeState("waiting for " + path + ": " + reason, true);
            pause(backoff);
            backoff = Math.min(backoff * 2, maxBackoffNs);
        }
        state = "closed";
    }

    /** Reads until the peer closes, the stream breaks or {@link #close()}; returns why it ended. */
    private String session(SocketChannel ch) throws IOException {
        while (running) {
            readBuffer.clear();
            int n = ch.read(readBuffer);
            if (n < 0) {
                int pending = decoder.pendingBytes();
                return pending == 0 ? "connection closed by cilium-agent"
                        : "connection closed by cilium-agent inside a message (" + pending + " bytes)";
            }
            bytesRead.setRelease(bytesRead.getPlain() + n);
            readBuffer.flip();
            if (!decoder.feed(readBuffer)) {
                return "gob stream broken (" + decoder.brokenBy() + ")";
            }
        }
        return "closed";
    }

    private void changeState(String next, boolean problem) {
        if (next.equals(state)) {
            return; // the same failure again: logged once
        }
        state = next;
        if (problem) {
            LOG.warn("cilium monitor socket: {}", next);
        } else {
            LOG.info("cilium monitor socket: {}", next);
        }
    }

    private void pause(long nanos) {
        long deadline = System.nanoTime() + nanos;
        long left;
        while (running && (left = deadline - System.nanoTime()) > 0) {
            LockSupport.parkNanos(this, left);
        }
    }

    /** Stops the thread and closes the connection; returns once the thread has ended (or after 10 s, logged). */
    @Override
    public void close() {
        running = false;
        SocketChannel ch = channel;
        if (ch != null) {
            try {
                ch.close(); // wakes a blocked read or connect
            } catch (IOException e) {
                LOG.debug("closing {}: {}", path, e.toString());
            }
        }
        LockSupport.unpark(thread);
        if (Thread.currentThread() == thread) {
            return;
        }
        try {
            thread.join(CLOSE_WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("cilium monitor socket reader did not stop within {} ms (blocked in the sink?)", CLOSE_WAIT_MS);
        }
    }

    // ---- status and counters --------------------------------------------------------------------

    /** The socket path. */
    public Path path() {
        return path;
    }

    /** "connected to PATH", "waiting for PATH: reason" or "closed". */
    public String state() {
        return state;
    }

    /** True while connected to cilium-agent. */
    public boolean connected() {
        return state.startsWith("connected");
    }

    /** Successful connections. */
    public long connects() {
        return connects.getAcquire();
    }

    /** Connections ended (by the peer, an error, a broken stream or close). */
    public long disconnects() {
        return disconnects.getAcquire();
    }

    /** Bytes read from the socket over all connections. */
    public long bytesRead() {
        return bytesRead.getAcquire();
    }

    /** Sample payloads delivered to the sink. */
    public long samples() {
        return decoder.samples();
    }

    /** Lost-record payloads delivered to the sink. */
    public long lostRecords() {
        return decoder.lostRecords();
    }

    /** The sum of {@code Lost} over all lost-record payloads: samples the datapath's ring dropped. */
    public long lostSamples() {
        return decoder.lostSamples();
    }

    /** Payloads of another type, skipped. */
    public long otherPayloads() {
        return decoder.otherPayloads();
    }

    /** gob streams declared broken (each one cost a reconnect). */
    public long decodeErrors() {
        return decoder.decodeErrors();
    }

    /** gob streams declared broken for {@code error}. */
    public long decodeErrors(GobPayloadDecoder.GobError error) {
        return decoder.decodeErrors(error);
    }

    /** Payloads whose sink call threw (counted, the stream goes on). */
    public long sinkFailures() {
        return decoder.sinkFailures();
    }

    /** False once the reading thread has ended. */
    boolean threadAlive() {
        return thread.isAlive();
    }
}
