package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link GobPayloadDecoder} on the golden streams written by Go's encoding/gob
 * ({@code src/test/resources/cilium/gob}): every payload field exact, the samples' Data decoded by
 * {@link CiliumMessageDecoder} to the spec's values, and the same result however the bytes are split.
 */
class GobPayloadDecoderTest {
    private static final long SEED = 0x90b_5eedL;

    private static List<RecordingSink.Got> decodeWhole(byte[] stream, GobPayloadDecoder dec, RecordingSink sink) {
        assertTrue(dec.feed(ByteBuffer.wrap(stream)));
        return sink.got();
    }

    @Test
    void goldenPayloadsDecodeToEveryFieldExactly() {
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        List<RecordingSink.Got> got = decodeWhole(GobGolden.load(GobGolden.PAYLOADS), dec, sink);

        assertEquals(GobGolden.PAYLOADS_DELIVERED, got);
        assertEquals(GobGolden.PAYLOADS_SAMPLES, dec.samples());
        assertEquals(GobGolden.PAYLOADS_LOST_RECORDS, dec.lostRecords());
        assertEquals(GobGolden.PAYLOADS_LOST_SUM, dec.lostSamples());
        assertEquals(GobGolden.PAYLOADS_OTHER, dec.otherPayloads());
        assertEquals(GobGolden.PAYLOADS_MESSAGES, dec.messages());
        assertEquals(1, dec.typeDefinitions());
        assertEquals(0, dec.decodeErrors());
        assertEquals(0, dec.sinkFailures());
        assertEquals(0, dec.pendingBytes());
        assertFalse(dec.broken());
        // the ones gob shortens: CPU 0 and Lost 0 omitted, CPU > 127 and a six-byte Lost
        assertEquals(0, got.get(3).cpu());
        assertEquals(300, got.get(4).cpu());
        assertEquals((1L << 40) + 5, got.get(2).lost());
        assertEquals(0, got.get(5).data().length);
        assertEquals(70000, got.get(7).cpu());
    }

    @Test
    void goldenSamplesDecodeToTheSpecValues() {
        RecordingSink sink = new RecordingSink();
        List<RecordingSink.Got> got = decodeWhole(GobGolden.load(GobGolden.PAYLOADS), new GobPayloadDecoder(sink), sink);
        CiliumMessageDecoder dec = new CiliumMessageDecoder();

        // the synthesised drop v3 of spec section 8
        byte[] drop = got.get(0).data();
        assertEquals(108, drop.length, "raw_size = 102 + 6 padding");
        assertEquals(CiliumMessageDecoder.Kind.DROP, dec.decode(drop));
        DropNotify d = dec.drop();
        assertEquals(133, d.reason());
        assertEquals("POLICY_DENIED", CiliumDropReasons.name(d.reason()));
        assertEquals(1234, d.source());
        assertEquals(0xdeadbeefL, d.hash());
        assertEquals(54, d.lenOrig());
        assertEquals(54, d.lenCap());
        assertEquals(3, d.version());
        assertEquals(5678, d.srcLabel());
        assertEquals(51234, d.dstLabel());
        assertEquals(1234, d.dstId());
        assertEquals(1417, d.line());
        assertEquals(2, d.file());
        assertEquals(29, d.ifindex());
        assertEquals(0, d.flags());
        assertEquals(48, dec.headerLength());
        assertEquals(54, dec.packetLength());
        try (Arena arena = Arena.ofConfined()) {
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
            assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
            assertSyn(r);
            assertEquals(133, r.reasonCode());
            assertEquals(29, r.ifindex());
        }

        // the synthesised policy verdict, v1.19 and <= v1.18 layouts
        for (int i : new int[] {1, 4}) {
            byte[] v = got.get(i).data();
            assertEquals(i == 1 ? 100 : 92, v.length);
            assertEquals(CiliumMessageDecoder.Kind.POLICY_VERDICT, dec.decode(v));
            assertEquals(i == 1 ? 40 : 32, dec.headerLength());
            PolicyVerdictNotify p = dec.policyVerdict();
            assertEquals(5678, p.remoteLabel());
            assertEquals(-133, p.verdict());
            assertEquals(PolicyVerdictNotify.Action.DENY, p.action());
            assertEquals(8080, p.dstPort());
            assertEquals(6, p.proto());
            assertEquals(PolicyVerdictNotify.DIR_INGRESS, p.direction());
            assertEquals(0, p.matchType());
            assertEquals(0, p.cookie());
            try (Arena arena = Arena.ofConfined()) {
                DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0);
                assertEquals(CapturedPacketParser.Status.OK, dec.fill(r));
                assertSyn(r);
            }
        }

        // vector 4 is a trace (skipped by the drop decoder); an empty Data is an error there, not here
        assertEquals(CiliumMessageDecoder.Kind.TRACE, dec.decode(got.get(3).data()));
        assertEquals(CiliumMessageDecoder.Kind.ERROR, dec.decode(MemorySegment.ofArray(got.get(5).data()), 0, 0));
        assertEquals(CiliumMessageDecoder.DecodeError.EMPTY, dec.lastError());
    }

    private static void assertSyn(DropRecord r) {
        assertEquals(DropRecord.FAMILY_IPV4, r.family());
        assertEquals(0x0a000105, r.srcIpv4());
        assertEquals(0x0a000207, r.dstIpv4());
        assertEquals(6, r.protocol());
        assertEquals(43210, r.srcPort());
        assertEquals(8080, r.dstPort());
        assertEquals(0x02, r.tcpFlags());
    }

    @Test
    void fieldsAreFoundByNameInAnyOrderAndOtherBasicFieldsAreSkipped() {
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        // a struct named reorderedPayload with type id 66, fields reordered among string, bool,
        // float64, complex128, []byte and uint32 fields
        assertEquals(GobGolden.REORDERED_DELIVERED, decodeWhole(GobGolden.load(GobGolden.REORDERED), dec, sink));
        assertEquals(0, dec.decodeErrors());
        assertEquals(4, dec.messages());
    }

    @Test
    void aNewConnectionIsANewStreamAndNeedsReset() {
        byte[] golden = GobGolden.load(GobGolden.PAYLOADS);
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        assertTrue(dec.feed(ByteBuffer.wrap(golden)));
        dec.reset();
        assertTrue(dec.feed(ByteBuffer.wrap(golden)));
        List<RecordingSink.Got> twice = new ArrayList<>(GobGolden.PAYLOADS_DELIVERED);
        twice.addAll(GobGolden.PAYLOADS_DELIVERED);
        assertEquals(twice, sink.got());
        assertEquals(2, dec.typeDefinitions());

        // without reset, the second stream's type definition redefines id 65: gob forbids it
        assertFalse(dec.feed(ByteBuffer.wrap(golden)));
        assertTrue(dec.broken());
        assertEquals(GobPayloadDecoder.GobError.BAD_TYPE_DEFINITION, dec.brokenBy());
        assertEquals(1, dec.decodeErrors());
        assertEquals(twice.size(), sink.size(), "nothing delivered after the stream broke");
        assertFalse(dec.feed(ByteBuffer.wrap(golden)), "stays broken until reset");
        assertEquals(1, dec.decodeErrors(), "counted once per broken stream");
    }

    @Test
    void sameResultOneByteAtATime() {
        for (String name : new String[] {GobGolden.PAYLOADS, GobGolden.REORDERED}) {
            byte[] golden = GobGolden.load(name);
            RecordingSink sink = new RecordingSink();
            GobPayloadDecoder dec = new GobPayloadDecoder(sink);
            ByteBuffer one = ByteBuffer.allocateDirect(1);
            for (byte b : golden) {
                one.clear();
                one.put(b).flip();
                assertTrue(dec.feed(one));
                assertFalse(one.hasRemaining());
            }
            assertEquals(name.equals(GobGolden.PAYLOADS) ? GobGolden.PAYLOADS_DELIVERED : GobGolden.REORDERED_DELIVERED,
                    sink.got());
            assertEquals(0, dec.pendingBytes());
        }
    }

    @Test
    void sameResultInRandomChunksAcrossManyStreams() {
        byte[] golden = GobGolden.load(GobGolden.PAYLOADS);
        Random rnd = new Random(SEED);
        RecordingSink sink = new RecordingSink();
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        for (int round = 0; round < 500; round++) {
            dec.reset();
            sink.clear();
            // heap and direct sources, at a non-zero position, chunks of 1 byte up to the whole stream
            ByteBuffer src = round % 2 == 0 ? ByteBuffer.allocate(golden.length + 7) : ByteBuffer.allocateDirect(golden.length + 7);
            src.position(7);
            src.put(golden);
            int p = 7;
            int maxChunk = 1 + rnd.nextInt(round % 10 == 0 ? golden.length : 40);
            while (p < src.capacity()) {
                int n = Math.min(1 + rnd.nextInt(maxChunk), src.capacity() - p);
                src.limit(p + n).position(p);
                assertTrue(dec.feed(src));
                assertEquals(p + n, src.position());
                p += n;
            }
            assertEquals(GobGolden.PAYLOADS_DELIVERED, sink.got(), "round " + round);
        }
        assertEquals(0, dec.decodeErrors());
        assertEquals(500L * GobGolden.PAYLOADS_SAMPLES, dec.samples());
    }

    @Test
    void aThrowingSinkIsCountedAndTheStreamGoesOn() {
        RecordingSink rest = new RecordingSink();
        CiliumPayloadSink sink = new CiliumPayloadSink() {
            @Override
            public void onSample(MemorySegment data, long offset, int length, int cpu) {
                if (cpu == 2) {
                    throw new IllegalStateException("test: sink fails on cpu 2");
                }
                rest.onSample(data, offset, length, cpu);
            }

            @Override
            public void onLost(int cpu, long lost) {
                rest.onLost(cpu, lost);
            }
        };
        GobPayloadDecoder dec = new GobPayloadDecoder(sink);
        assertTrue(dec.feed(ByteBuffer.wrap(GobGolden.load(GobGolden.PAYLOADS))));
        assertEquals(1, dec.sinkFailures());
        assertEquals(GobGolden.PAYLOADS_DELIVERED.size() - 1, rest.size());
        assertEquals(0, dec.decodeErrors());
    }
}
