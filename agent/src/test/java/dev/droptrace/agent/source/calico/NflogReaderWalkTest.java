package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NflogReader}'s walk over one datagram, without a socket: valid batches are delivered whole,
 * and truncated, oversized and random datagrams are counted, never thrown.
 */
class NflogReaderWalkTest {
    private static final int BUFFER = 4096;

    private final List<long[]> delivered = new ArrayList<>();
    private final NflogReader reader = new NflogReader(null, (buf, off, len) -> {
        // the sink gets exactly one well-framed packet message
        assertEquals(len, buf.get(ValueLayout.JAVA_INT_UNALIGNED, off));
        assertEquals(0x0400, buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 4));
        delivered.add(new long[] {off, len});
    }, BUFFER);
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buffer = arena.allocate(BUFFER, 8);

    @AfterEach
    void close() {
        reader.close();
        arena.close();
    }

    private static byte[] batch(int packets) {
        NflogBuffers b = new NflogBuffers();
        for (int i = 0; i < packets; i++) {
            b.packet(2, 1 + (i & 1)).packetHdr(0x0800, 2).prefix("API0|knp/default/allow-web")
                    .payload(NflogBuffers.ipv4Udp(0x0adf000a, 0x0adf000b, 40000 + i, 53)).end();
        }
        return b.control(3, new byte[4]).bytes(); // NLMSG_DONE ends a batch
    }

    private int load(byte[] bytes) {
        int n = Math.min(bytes.length, BUFFER);
        MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, 0, n);
        return n;
    }

    @Test
    void aBatchIsDeliveredMessageByMessage() {
        byte[] b = batch(5);
        reader.walk(buffer, load(b));
        assertEquals(5, delivered.size());
        assertEquals(5, reader.packets());
        assertEquals(1, reader.datagrams());
        assertEquals(0, reader.malformed());
        assertEquals(0, reader.otherMessages(), "NLMSG_DONE is framing, not another message type");
    }

    @Test
    void aDatagramCutInsideAMessageKeepsTheWholeOnesAndCountsTheRest() {
        byte[] b = batch(3);
        int cut = b.length - 30; // inside the third message
        reader.walk(buffer, load(java.util.Arrays.copyOf(b, cut)));
        assertEquals(2, delivered.size());
        assertEquals(1, reader.malformed());
        assertEquals(1, reader.malformed(NflogParseError.MESSAGE_PAST_BUFFER));
    }

    @Test
    void aDatagramLargerThanTheBufferIsCountedAsTruncated() {
        byte[] b = batch(60); // about 5.5 KiB
        assertTrue(b.length > BUFFER);
        load(b);
        reader.walk(buffer, b.length); // what recv with MSG_TRUNC reports
        assertEquals(1, reader.truncatedDatagrams());
        assertTrue(delivered.size() > 0 && delivered.size() < 60);
        assertEquals(1, reader.malformed(), "the message cut by the buffer's end");
    }

    @Test
    void errorsAndOtherMessagesAreCountedApart() {
        byte[] b = new NflogBuffers().error(-1).error(0).control(1, new byte[0]).control(0x0401, new byte[4]).bytes();
        reader.walk(buffer, load(b));
        assertEquals(1, reader.errorMessages(), "only the non-zero error; an ack is not an error");
        assertEquals(2, reader.otherMessages(), "NLMSG_NOOP and a config echo");
        assertEquals(0, reader.packets());
    }

    @Test
    void aSinkThatThrowsIsCountedAndTheWalkGoesOn() {
        NflogReader throwing = new NflogReader(null, (buf, off, len) -> {
            throw new IllegalStateException("sink bug");
        }, BUFFER);
        try {
            throwing.walk(buffer, load(batch(3)));
            assertEquals(3, throwing.packets());
            assertEquals(3, throwing.sinkFailures());
            assertTrue(throwing.state().contains("sink bug"), throwing.state());
        } finally {
            throwing.close();
        }
    }

    @Test
    void randomAndMutatedDatagramsNeverThrow() {
        SplittableRandom rnd = new SplittableRandom(42);
        long walks = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] b;
            if (rnd.nextBoolean()) {
                b = new byte[rnd.nextInt(0, BUFFER + 1)];
                for (int j = 0; j < b.length; j++) b[j] = (byte) rnd.nextInt();
                if (b.length >= 16 && rnd.nextBoolean()) {
                    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
                    h.putInt(0, rnd.nextInt(0, b.length + 64));
                    h.putShort(4, (short) (rnd.nextBoolean() ? 0x0400 : rnd.nextInt(0, 5)));
                }
            } else {
                b = batch(rnd.nextInt(1, 6));
                for (int k = rnd.nextInt(1, 6); k > 0; k--) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt();
                if (rnd.nextInt(4) == 0) b = java.util.Arrays.copyOf(b, rnd.nextInt(0, b.length + 1));
            }
            int n = load(b);
            // sometimes claim more than arrived, as MSG_TRUNC does for an oversized datagram
            reader.walk(buffer, rnd.nextInt(8) == 0 ? n + rnd.nextInt(1, 70_000) : n);
            walks++;
        }
        assertEquals(walks, reader.datagrams());
        assertEquals(delivered.size(), reader.packets());
        assertTrue(reader.malformed() > 0, reader.state());
        assertTrue(reader.truncatedDatagrams() > 0, reader.state());
    }
}
