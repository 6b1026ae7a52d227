package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.source.cilium.GobPayloadDecoder.GobError;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.droptrace.agent.source.cilium.GobBytes.message;
import static dev.droptrace.agent.source.cilium.GobBytes.payload;
import static dev.droptrace.agent.source.cilium.GobBytes.payloadDefinition;
import static dev.droptrace.agent.source.cilium.GobBytes.structDefinition;
import static dev.droptrace.agent.source.cilium.Samples.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad gob streams: truncated at every offset (incomplete, never an error), oversized lengths, every
 * {@link GobError} from a hand-made stream, random bytes and every single-bit flip of the golden
 * streams. Never an exception, every broken stream counted once, nothing allocated from a size read
 * off the wire, and nothing allocated per payload in the steady state.
 */
class GobPayloadDecoderFuzzTest {
    private static final long SEED = 0xf022_90bL;

    /** Feeds {@code stream} in random chunks; returns what feed said last. */
    private static boolean feedChunks(GobPayloadDecoder dec, byte[] stream, int from, int to, Random rnd) {
        boolean ok = true;
        int p = from;
        while (p < to) {
            int n = Math.min(1 + rnd.nextInt(64), to - p);
            ByteBuffer b = ByteBuffer.wrap(stream, p, n);
            ok = dec.feed(b);
            assertFalse(b.hasRemaining(), "feed consumes everything");
            p += n;
        }
        return ok;
    }

    private static void assertBrokenBy(GobError expected, byte[] stream) {
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        assertFalse(dec.feed(ByteBuffer.wrap(stream)), expected + ": should break the stream");
        assertEquals(expected, dec.brokenBy());
        assertEquals(1, dec.decodeErrors(expected));
        assertEquals(1, dec.decodeErrors());
        // and a new stream after reset decodes
        dec.reset();
        sink.clear();
        assertTrue(dec.feed(ByteBuffer.wrap(GobGolden.load(GobGolden.PAYLOADS))));
        assertEquals(GobGolden.PAYLOADS_DELIVERED, sink.got());
    }

    @Test
    void theTestWriterWritesWhatGoWrites() {
        byte[] golden = GobGolden.load(GobGolden.PAYLOADS);
        assertArrayEquals(Arrays.copyOf(golden, GobGolden.PAYLOADS_DEFINITION_SIZE), payloadDefinition());
        byte[] lost = payload(null, 3, (1L << 40) + 5, 2);
        byte[] cpu300 = payload(GobGolden.VERDICT_V118, 300, 0, 9);
        String g = java.util.HexFormat.of().formatHex(golden);
        assertTrue(g.contains(java.util.HexFormat.of().formatHex(lost)));
        assertTrue(g.contains(java.util.HexFormat.of().formatHex(cpu300)));
    }

    @Test
    void truncatedAtEveryOffsetIsIncompleteNeverAnError() {
        Random rnd = new Random(SEED);
        for (String name : List.of(GobGolden.PAYLOADS, GobGolden.REORDERED)) {
            byte[] golden = GobGolden.load(name);
            List<RecordingSink.Got> expected = name.equals(GobGolden.PAYLOADS) ? GobGolden.PAYLOADS_DELIVERED
                    : GobGolden.REORDERED_DELIVERED;
            RecordingSink sink = new RecordingSink();
            GobPayloadDecoder dec = new GobPayloadDecoder(sink);
            int boundaries = 0;
            for (int k = 0; k <= golden.length; k++) {
                dec.reset();
                sink.clear();
                assertTrue(feedChunks(dec, golden, 0, k, rnd));
                List<RecordingSink.Got> got = sink.got();
                assertEquals(expected.subList(0, got.size()), got, "cut at " + k);
                if (dec.pendingBytes() == 0) {
                    boundaries++;
                }
                // the rest of the stream completes it
                assertTrue(feedChunks(dec, golden, k, golden.length, rnd));
                assertEquals(expected, sink.got(), "cut at " + k);
            }
            assertEquals(0, dec.decodeErrors());
            int messages = name.equals(GobGolden.PAYLOADS) ? GobGolden.PAYLOADS_MESSAGES : 4;
            assertEquals(messages + 1, boundaries, "a cut leaves nothing pending only between messages");
        }
    }

    @Test
    void oversizedMessageLengthsBreakTheStreamBeforeAnyBody() {
        // 1 MiB + 1: only the four length bytes are sent
        assertBrokenBy(GobError.MESSAGE_TOO_LARGE, new GobBytes().uint((1 << 20) + 1).toBytes());
        // 2^64 - 1 and 2^63
        assertBrokenBy(GobError.MESSAGE_TOO_LARGE, new GobBytes().raw(0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).toBytes());
        assertBrokenBy(GobError.MESSAGE_TOO_LARGE, new GobBytes().raw(0xf8, 0x80, 0, 0, 0, 0, 0, 0, 0).toBytes());
        assertBrokenBy(GobError.MESSAGE_TOO_LARGE, concat(payloadDefinition(), new GobBytes().uint(Long.MAX_VALUE).toBytes()));
        // a byte count of 9 or 128, and a zero length
        assertBrokenBy(GobError.BAD_LENGTH, new GobBytes().raw(0xf7, 1, 1, 1, 1, 1, 1, 1, 1, 1).toBytes());
        assertBrokenBy(GobError.BAD_LENGTH, new GobBytes().raw(0x80).toBytes());
        assertBrokenBy(GobError.BAD_LENGTH, concat(payloadDefinition(), new byte[] {0}));
    }

    @Test
    void dataAboveTheCapBreaksTheStreamAndTheCapItselfPasses() {
        byte[] max = new byte[GobPayloadDecoder.DEFAULT_MAX_DATA];
        Arrays.fill(max, (byte) 0x5a);
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        assertTrue(dec.feed(ByteBuffer.wrap(concat(payloadDefinition(), payload(max, 7, 0, 9)))));
        assertEquals(List.of(RecordingSink.Got.sample(max, 7)), sink.got());

        assertBrokenBy(GobError.DATA_TOO_LARGE, concat(payloadDefinition(),
                payload(new byte[GobPayloadDecoder.DEFAULT_MAX_DATA + 1], 7, 0, 9)));
        // a Data length of 2^62 in a short message: refused from the length alone
        assertBrokenBy(GobError.DATA_TOO_LARGE, concat(payloadDefinition(),
                message(new GobBytes().sint(65).uint(1).uint(1L << 62).raw(1, 2, 3).toBytes())));
        assertBrokenBy(GobError.DATA_TOO_LARGE, concat(payloadDefinition(),
                message(new GobBytes().sint(65).uint(1).uint(-1L).raw(1, 2, 3).toBytes())));

        // smaller caps: a message of exactly maxMessage passes, one byte more does not
        byte[] data = new byte[100];
        byte[] exact = payload(data, 1, 0, 9);
        int maxMessage = exact.length - 1; // the length prefix is one byte
        GobPayloadDecoder small = new GobPayloadDecoder(sink, maxMessage, 100);
        assertTrue(small.feed(ByteBuffer.wrap(concat(payloadDefinition(), exact))));
        assertFalse(small.feed(ByteBuffer.wrap(payload(new byte[101], 1, 0, 9))));
        assertEquals(GobError.MESSAGE_TOO_LARGE, small.brokenBy());
    }

    @Test
    void everyErrorKindFromAHandMadeStream() {
        byte[] def = payloadDefinition();
        // MALFORMED
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(0).raw(0).toBytes())));
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(5).uint(1).uint(0).toBytes())));
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(2).raw(0xf7, 1, 1, 1, 1, 1, 1, 1, 1, 1).uint(0).toBytes())));
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(1).uint(10).raw(1, 2, 3).toBytes())));
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(2).raw(0xfe, 1).toBytes())));
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(65).uint(2).uint(4).toBytes()))); // no terminator
        assertBrokenBy(GobError.MALFORMED, concat(def, message(new GobBytes().sint(0).toBytes())));
        // BAD_TYPE_DEFINITION
        assertBrokenBy(GobError.BAD_TYPE_DEFINITION, structDefinition(2, "int", "X", GobBytes.INT));
        assertBrokenBy(GobError.BAD_TYPE_DEFINITION, concat(def, def));
        assertBrokenBy(GobError.BAD_TYPE_DEFINITION, message(new GobBytes().sint(-65).uint(0).toBytes()));
        Object[] many = new Object[66];
        for (int i = 0; i < 33; i++) {
            many[2 * i] = "F" + i;
            many[2 * i + 1] = GobBytes.INT;
        }
        assertBrokenBy(GobError.BAD_TYPE_DEFINITION, structDefinition(65, "Wide", many));
        byte[] types = new byte[0];
        for (int id = 65; id < 65 + 17; id++) {
            types = concat(types, structDefinition(id, "T" + id, "X", GobBytes.INT));
        }
        assertBrokenBy(GobError.BAD_TYPE_DEFINITION, types);
        // NOT_A_PAYLOAD
        assertBrokenBy(GobError.NOT_A_PAYLOAD, concat(def, message(new GobBytes().sint(66).uint(0).toBytes())));
        assertBrokenBy(GobError.NOT_A_PAYLOAD, concat(structDefinition(65, "Payload", "Data", GobBytes.BYTES,
                "CPU", GobBytes.INT, "Type", GobBytes.INT), message(new GobBytes().sint(65).uint(0).toBytes())));
        assertBrokenBy(GobError.NOT_A_PAYLOAD, concat(structDefinition(65, "Payload", "Data", GobBytes.BYTES,
                "CPU", GobBytes.STRING, "Lost", GobBytes.UINT, "Type", GobBytes.INT),
                message(new GobBytes().sint(65).uint(0).toBytes())));
        byte[] withInterface = structDefinition(65, "Payload", "Data", GobBytes.BYTES, "CPU", GobBytes.INT,
                "Lost", GobBytes.UINT, "Type", GobBytes.INT, "Any", GobBytes.INTERFACE);
        assertBrokenBy(GobError.NOT_A_PAYLOAD, concat(withInterface,
                message(new GobBytes().sint(65).uint(5).uint(0).uint(0).toBytes())));
        byte[] slice = message(new GobBytes().sint(-66).uint(2).uint(1).uint(1).bytes("[]int".getBytes()).uint(1)
                .sint(66).uint(0).uint(1).sint(2).uint(0).uint(0).toBytes()); // wireType.SliceT
        assertBrokenBy(GobError.NOT_A_PAYLOAD, concat(def, slice, message(new GobBytes().sint(66).uint(0).toBytes())));
        // VALUE_OUT_OF_RANGE
        assertBrokenBy(GobError.VALUE_OUT_OF_RANGE, concat(def, payload(null, -1, 0, 9)));
        assertBrokenBy(GobError.VALUE_OUT_OF_RANGE, concat(def, payload(null, 1L << 31, 0, 9)));
    }

    @Test
    void unsendableFieldsAreFineWhileOmittedAndTheSliceTypeIsOnlyRecorded() {
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        byte[] withInterface = structDefinition(65, "Payload", "Data", GobBytes.BYTES, "CPU", GobBytes.INT,
                "Lost", GobBytes.UINT, "Type", GobBytes.INT, "Any", GobBytes.INTERFACE);
        byte[] slice = message(new GobBytes().sint(-66).uint(2).uint(1).uint(1).bytes("[]int".getBytes()).uint(1)
                .sint(66).uint(0).uint(1).sint(2).uint(0).uint(0).toBytes());
        assertTrue(dec.feed(ByteBuffer.wrap(concat(withInterface, slice, payload(new byte[] {1, 2}, 4, 0, 9),
                payload(null, 0, 0, 0)))));
        assertEquals(List.of(RecordingSink.Got.sample(new byte[] {1, 2}, 4)), sink.got());
        assertEquals(1, dec.otherPayloads(), "an all-zero payload is type 0: neither sample nor loss");
        assertEquals(2, dec.typeDefinitions());
    }

    @Test
    void randomBytesNeverThrowAndEveryBrokenStreamIsCountedOnce() {
        Random rnd = new Random(SEED);
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        byte[] def = payloadDefinition();
        long broken = 0;
        for (int i = 0; i < 5000; i++) {
            byte[] junk = new byte[rnd.nextInt(2048)];
            rnd.nextBytes(junk);
            // half of them after a valid definition, so the value decoder sees the junk
            byte[] stream = i % 2 == 0 ? junk : concat(def, junk);
            dec.reset();
            feedChunks(dec, stream, 0, stream.length, rnd);
            if (dec.broken()) {
                broken++;
            }
            assertEquals(broken, dec.decodeErrors());
        }
        assertTrue(broken > 4000, "random bytes are rarely a gob stream: " + broken);
    }

    @Test
    void everySingleBitFlipOfTheGoldenStreamsIsHandled() {
        Random rnd = new Random(SEED);
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        long broken = 0;
        long clean = 0;
        long errors = 0;
        for (String name : List.of(GobGolden.PAYLOADS, GobGolden.REORDERED)) {
            byte[] golden = GobGolden.load(name);
            for (int bit = 0; bit < golden.length * 8; bit++) {
                byte[] flipped = golden.clone();
                flipped[bit / 8] ^= (byte) (1 << (bit % 8));
                dec.reset();
                sink.clear();
                feedChunks(dec, flipped, 0, flipped.length, rnd);
                if (dec.broken()) {
                    broken++;
                    errors++;
                } else {
                    clean++;
                }
                assertEquals(errors, dec.decodeErrors());
                // garbage after the stream never undoes what was delivered, and breaks it at most once
                int delivered = sink.size();
                boolean wasBroken = dec.broken();
                dec.feed(ByteBuffer.wrap(new byte[] {(byte) 0xf7, 0, 0}));
                assertEquals(delivered, sink.size());
                if (!wasBroken && dec.broken()) {
                    errors++;
                }
                assertEquals(errors, dec.decodeErrors());
            }
        }
        assertTrue(broken > 0 && clean > 0, "flips in Data keep the stream, flips in framing break it: " + broken + "/" + clean);
    }

    @Test
    void nothingIsAllocatedPerPayload() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] golden = GobGolden.load(GobGolden.PAYLOADS);
        byte[] values = Arrays.copyOfRange(golden, GobGolden.PAYLOADS_DEFINITION_SIZE, golden.length);
        int reps = 12_000;
        ByteBuffer stream = ByteBuffer.allocateDirect(GobGolden.PAYLOADS_DEFINITION_SIZE + reps * values.length);
        stream.put(golden, 0, GobGolden.PAYLOADS_DEFINITION_SIZE);
        for (int i = 0; i < reps; i++) {
            stream.put(values);
        }
        long payloads = (long) reps * (GobGolden.PAYLOADS_MESSAGES - 1);
        long[] seen = new long[1];
        CiliumPayloadSink sink = new CiliumPayloadSink() {
            @Override
            public void onSample(MemorySegment data, long offset, int length, int cpu) {
                seen[0] += length == 0 ? cpu : data.get(ValueLayout.JAVA_BYTE, offset) + cpu;
            }

            @Override
            public void onLost(int cpu, long lost) {
                seen[0] += lost;
            }
        };
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        long tid = Thread.currentThread().threadId();
        long allocated = Long.MAX_VALUE;
        // until C2 has compiled the path a round may allocate; an allocation per payload would show in every round
        for (int round = 0; round < 30 && allocated >= payloads; round++) {
            long before = mx.getThreadAllocatedBytes(tid);
            dec.reset();
            feedLikeASocket(dec, stream);
            allocated = Math.min(allocated, mx.getThreadAllocatedBytes(tid) - before);
        }
        System.out.printf("gob decode: %d bytes allocated over %d payloads (sink %d)%n", allocated, payloads, seen[0]);
        assertEquals(0, dec.decodeErrors());
        assertTrue(allocated < payloads, allocated + " bytes allocated over " + payloads + " payloads");
    }

    /** 64 KiB reads, as {@link MonitorSocketClient} does them, out of one buffer without allocating. */
    private static void feedLikeASocket(GobPayloadDecoder dec, ByteBuffer stream) {
        int total = stream.capacity();
        for (int p = 0; p < total; p += 65536) {
            stream.limit(Math.min(total, p + 65536)).position(p);
            if (!dec.feed(stream)) {
                throw new AssertionError("stream broke: " + dec.brokenBy());
            }
        }
        stream.clear();
    }
}
