package dev.droptrace.agent.source.cilium;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link MonitorSocketClient} against a fake cilium-agent: a unix socket server in a temporary
 * directory that replays the golden gob stream (written by Go's encoding/gob) to each connection, in
 * small random writes. The server goes away and comes back, breaks a stream, or appears after the
 * client started; the client reconnects by itself and every counter is exact. No timing assertions:
 * conditions are awaited with a generous deadline.
 */
class MonitorSocketClientTest {
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final Duration MIN_BACKOFF = Duration.ofMillis(10);
    private static final Duration MAX_BACKOFF = Duration.ofMillis(200);

    private final byte[] golden = GobGolden.load(GobGolden.PAYLOADS);

    /** What one accepted connection gets: bytes to write, and whether to wait for the client to hang up first. */
    private record Serve(byte[] bytes, boolean waitForClientClose) {
    }

    /**
     * A fake monitor socket at {@code path} serving the given connections in order; after the last
     * one is written it closes the listener and deletes the socket file before closing that
     * connection, so the client cannot reconnect to it.
     */
    private static final class FakeMonitorSocket implements AutoCloseable {
        private final ServerSocketChannel server;
        private final Path path;
        private final Thread thread;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final List<SocketChannel> open = new ArrayList<>();

        FakeMonitorSocket(Path path, long seed, Serve... connections) throws IOException {
            this.path = path;
            this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
            Random rnd = new Random(seed);
            this.thread = Thread.ofPlatform().name("fake-cilium-monitor").start(() -> {
                try {
                    for (int i = 0; i < connections.length; i++) {
                        SocketChannel c = server.accept();
                        synchronized (open) {
                            open.add(c);
                        }
                        writeInPieces(c, connections[i].bytes(), rnd);
                        if (connections[i].waitForClientClose()) {
                            ByteBuffer one = ByteBuffer.allocate(1);
                            while (c.read(one) >= 0) {
                                one.clear();
                            }
                        }
                        if (i == connections.length - 1) {
                            shutDownListener();
                        }
                        c.close();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        private static void writeInPieces(SocketChannel c, byte[] bytes, Random rnd) throws IOException {
            int p = 0;
            while (p < bytes.length) {
                int n = Math.min(bytes.length - p, 1 + rnd.nextInt(97));
                ByteBuffer b = ByteBuffer.wrap(bytes, p, n);
                while (b.hasRemaining()) {
                    c.write(b);
                }
                p += n;
                Thread.yield(); // give the reader a chance to see a partial message
            }
        }

        private void shutDownListener() throws IOException {
            server.close();
            Files.deleteIfExists(path);
        }

        /** Waits for the serving thread to end and rethrows what went wrong in it. */
        void awaitServed() throws InterruptedException {
            thread.join(DEADLINE.toMillis());
            assertFalse(thread.isAlive(), "fake monitor socket still serving");
            if (failure.get() != null) {
                throw new AssertionError("fake monitor socket failed", failure.get());
            }
        }

        @Override
        public void close() throws IOException, InterruptedException {
            shutDownListener();
            synchronized (open) {
                for (SocketChannel c : open) {
                    c.close();
                }
            }
            thread.join(DEADLINE.toMillis());
        }
    }

    private static void await(String what, BooleanSupplier condition, MonitorSocketClient client) {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("gave up waiting for " + what + "; client: " + client.state() + ", connects " + client.connects()
                        + ", disconnects " + client.disconnects() + ", samples " + client.samples()
                        + ", decode errors " + client.decodeErrors());
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static List<RecordingSink.Got> times(int n, List<RecordingSink.Got> one) {
        List<RecordingSink.Got> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.addAll(one);
        }
        return all;
    }

    @Test
    void reconnectsWhenCiliumAgentGoesAwayAndComesBack(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("monitor1_2.sock");
        RecordingSink sink = new RecordingSink();
        int perStream = GobGolden.PAYLOADS_DELIVERED.size();
        try (FakeMonitorSocket first = new FakeMonitorSocket(sock, 1, new Serve(golden, false));
             MonitorSocketClient client = MonitorSocketClient.start(sock, sink, MIN_BACKOFF, MAX_BACKOFF)) {
            await("the first stream", () -> sink.size() == perStream, client);
            first.awaitServed();
            // the agent is gone: connection closed, socket file deleted
            assertFalse(Files.exists(sock));
            await("the disconnect", () -> client.disconnects() == 1 && client.state().startsWith("waiting for "), client);
            assertEquals(1, client.connects());

            try (FakeMonitorSocket second = new FakeMonitorSocket(sock, 2, new Serve(golden, false))) {
                await("the second stream", () -> sink.size() == 2 * perStream, client);
                second.awaitServed();
                await("the second disconnect", () -> client.disconnects() == 2, client);
            }

            assertEquals(times(2, GobGolden.PAYLOADS_DELIVERED), sink.got());
            assertEquals(2, client.connects(), "the fake agent served exactly two connections");
            assertEquals(2L * GobGolden.PAYLOADS_SAMPLES, client.samples());
            assertEquals(2L * GobGolden.PAYLOADS_LOST_RECORDS, client.lostRecords());
            assertEquals(2L * GobGolden.PAYLOADS_LOST_SUM, client.lostSamples());
            assertEquals(2L * GobGolden.PAYLOADS_OTHER, client.otherPayloads());
            assertEquals(2L * golden.length, client.bytesRead());
            assertEquals(0, client.decodeErrors());
            assertEquals(0, client.sinkFailures());
            assertEquals(sock, client.path());
            client.close();
            assertFalse(client.threadAlive());
            assertEquals("closed", client.state());
        }
    }

    @Test
    void connectsOnceTheSocketAppears(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("monitor1_2.sock");
        RecordingSink sink = new RecordingSink();
        try (MonitorSocketClient client = MonitorSocketClient.start(sock, sink, MIN_BACKOFF, MAX_BACKOFF)) {
            await("a failed attempt", () -> !client.state().endsWith("not connected yet"), client);
            assertTrue(client.state().startsWith("waiting for " + sock + ": "), client.state());
            assertFalse(client.connected());
            assertEquals(0, client.connects());
            try (FakeMonitorSocket agent = new FakeMonitorSocket(sock, 3, new Serve(golden, false))) {
                await("the stream", () -> sink.size() == GobGolden.PAYLOADS_DELIVERED.size(), client);
                agent.awaitServed();
            }
            assertEquals(GobGolden.PAYLOADS_DELIVERED, sink.got());
            assertEquals(1, client.connects());
            assertEquals(GobGolden.PAYLOADS_LOST_SUM, client.lostSamples());
        }
    }

    @Test
    void aBrokenStreamIsDroppedAndTheNextConnectionStartsClean(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("monitor1_2.sock");
        // the definition and the first three payloads, then a message claiming 2^40 bytes
        int cut = indexAfterMessages(golden, 4);
        byte[] broken = Arrays.copyOf(golden, cut + 6);
        System.arraycopy(new byte[] {(byte) 0xfb, 1, 0, 0, 0, 0}, 0, broken, cut, 6);
        RecordingSink sink = new RecordingSink();
        try (FakeMonitorSocket agent = new FakeMonitorSocket(sock, 4, new Serve(broken, true), new Serve(golden, false));
             MonitorSocketClient client = MonitorSocketClient.start(sock, sink, MIN_BACKOFF, MAX_BACKOFF)) {
            await("the second stream", () -> sink.size() == 3 + GobGolden.PAYLOADS_DELIVERED.size(), client);
            agent.awaitServed(); // it returns only after the client hung up on the broken stream
            List<RecordingSink.Got> expected = new ArrayList<>(GobGolden.PAYLOADS_DELIVERED.subList(0, 3));
            expected.addAll(GobGolden.PAYLOADS_DELIVERED);
            assertEquals(expected, sink.got());
            assertEquals(1, client.decodeErrors());
            assertEquals(1, client.decodeErrors(GobPayloadDecoder.GobError.MESSAGE_TOO_LARGE));
            assertEquals(2, client.connects());
            assertEquals((1L << 40) + 5 + GobGolden.PAYLOADS_LOST_SUM, client.lostSamples());
        }
    }

    @Test
    void closeStopsTheThreadWhileConnectedOrWaiting(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("monitor1_2.sock");
        RecordingSink sink = new RecordingSink();
        // connected and blocked in read: the fake agent keeps the connection open until the client hangs up
        try (FakeMonitorSocket agent = new FakeMonitorSocket(sock, 5, new Serve(golden, true))) {
            MonitorSocketClient client = MonitorSocketClient.start(sock, sink, MIN_BACKOFF, MAX_BACKOFF);
            await("the stream", () -> sink.size() == GobGolden.PAYLOADS_DELIVERED.size(), client);
            assertTrue(client.connected());
            client.close();
            assertFalse(client.threadAlive());
            assertEquals("closed", client.state());
            agent.awaitServed(); // saw the client's hang-up
            assertEquals(1, client.disconnects());
        }
        // waiting for a socket that never appears
        MonitorSocketClient waiting = MonitorSocketClient.start(dir.resolve("absent.sock"), sink, Duration.ofSeconds(30),
                Duration.ofSeconds(30));
        await("a failed attempt", () -> !waiting.state().endsWith("not connected yet"), waiting);
        waiting.close();
        assertFalse(waiting.threadAlive());
        assertEquals(0, waiting.connects());
    }

    /** Offset just after the first {@code n} gob messages of {@code stream} (single-byte or 0xff-prefixed lengths). */
    private static int indexAfterMessages(byte[] stream, int n) {
        int p = 0;
        for (int i = 0; i < n; i++) {
            int b = stream[p] & 0xff;
            if (b < 0x80) {
                p += 1 + b;
            } else if (b == 0xff) {
                p += 2 + (stream[p + 1] & 0xff);
            } else {
                throw new UncheckedIOException(new IOException("unexpected length byte " + b));
            }
        }
        return p;
    }
}
