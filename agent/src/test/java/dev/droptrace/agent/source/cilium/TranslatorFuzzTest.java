package dev.droptrace.agent.source.cilium;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Truncated (at every offset), oversized and random samples through the translator: nothing is
 * thrown, every sample is accounted for exactly once (decoded kind or counted error), and whatever
 * was journaled reads back as JSON.
 */
class TranslatorFuzzTest {
    @TempDir
    Path tmp;

    private static final byte[][] VALID = {
        CiliumPayloadTranslatorTest.DROP,
        CiliumPayloadTranslatorTest.VERDICT_V119,
        CiliumPayloadTranslatorTest.VERDICT_V118,
        Samples.perfPad(Samples.drop(36, 1, 133, 1, 0, Samples.ipv6UdpPacket())),
        Samples.perfPad(Samples.drop(40, 2, 169, 0, DropNotify.FLAG_L3_DEV, Samples.rawIpv4IcmpPacket())),
        Samples.perfPad(Samples.drop(48, 3, 181, 0, DropNotify.FLAG_GENEVE, Samples.geneveSynPacket())),
        Samples.perfPad(Samples.verdict(32, 2, -181, 3868, 132, 0x01 | 2 << 3, 0, Samples.vlanSctpPacket())),
        Samples.hex(SpecVectorsTest.V4),
    };

    private static void account(TranslatorHarness h, long expectedSamples) {
        CiliumPayloadTranslator t = h.translator;
        assertEquals(expectedSamples, t.samples());
        long decoded = t.drops() + t.verdictsDenied() + t.verdictsAudited() + t.verdictsAllowed() + t.verdictsRedirected();
        assertEquals(expectedSamples, decoded + t.skipped() + t.decodeErrors(), "every sample is one kind or one error");
        h.translator.flushAll(h.sink);
        List<JsonNode> events = h.events();
        assertEquals(t.events(), events.size());
        assertEquals(t.events(), h.sink.mergeable.size());
        for (JsonNode e : events) {
            assertEquals("cilium", e.get("source").asText());
        }
    }

    @Test
    void truncatedAtEveryOffset() {
        try (TranslatorHarness h = new TranslatorHarness(tmp.resolve("t"), "n1", null, new CiliumIdentityTable(),
                TranslatorHarness.options(0, true))) {
            long n = 0;
            for (byte[] v : VALID) {
                for (int len = 0; len < v.length; len++) {
                    h.translate(Arrays.copyOf(v, len), len % 3);
                    n++;
                }
            }
            account(h, n);
            assertTrue(h.translator.decodeErrors(CiliumMessageDecoder.DecodeError.TRUNCATED) > 0);
            assertTrue(h.translator.decodeErrors(CiliumMessageDecoder.DecodeError.LENGTH_MISMATCH) > 0);
            assertTrue(h.translator.decodeErrors(CiliumMessageDecoder.DecodeError.EMPTY) > 0);
        }
    }

    @Test
    void oversized() {
        try (TranslatorHarness h = new TranslatorHarness(tmp.resolve("o"), "n1", null, new CiliumIdentityTable(),
                TranslatorHarness.options(0, true))) {
            long n = 0;
            for (byte[] v : VALID) {
                for (int extra = 1; extra <= 64; extra++) {
                    byte[] b = Arrays.copyOf(v, v.length + extra);
                    Arrays.fill(b, v.length, b.length, (byte) 0x5a);
                    h.translate(b, 0);
                    n++;
                }
                byte[] huge = Arrays.copyOf(v, 65_536);
                h.translate(huge, 0);
                n++;
            }
            account(h, n);
            assertTrue(h.translator.decodeErrors(CiliumMessageDecoder.DecodeError.LENGTH_MISMATCH) > 0);
        }
    }

    @Test
    void randomBytesAndMutations() {
        Random r = new Random(20261123);
        try (TranslatorHarness h = new TranslatorHarness(tmp.resolve("r"), "n1", null, new CiliumIdentityTable(),
                TranslatorHarness.options(0, true))) {
            long n = 0;
            for (int i = 0; i < 20_000; i++) {
                byte[] b = new byte[r.nextInt(200)];
                r.nextBytes(b);
                if (b.length > 0 && r.nextBoolean()) {
                    b[0] = (byte) (r.nextBoolean() ? 1 : 5); // mostly drops and verdicts, to get past the type byte
                }
                if (b.length > 15 && r.nextBoolean()) {
                    b[14] = (byte) r.nextInt(4);
                    b[15] = 0;
                }
                h.translate(b, r.nextInt(8) - 1);
                n++;
            }
            for (int i = 0; i < 20_000; i++) {
                byte[] b = VALID[r.nextInt(VALID.length)].clone();
                for (int k = r.nextInt(4); k >= 0; k--) {
                    b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                }
                h.translate(b, r.nextInt(4));
                if (i % 100 == 0) {
                    h.translator.flush(h.sink);
                }
                n++;
            }
            account(h, n);
            assertTrue(h.translator.decodeErrors() > 0);
            assertTrue(h.translator.events() > 0);
            Map<String, Object> s = h.translator.status();
            assertEquals(n, s.get("samples"));
        }
    }
}
