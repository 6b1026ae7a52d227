package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.pipeline.EventSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded fuzzing of the whole translator: random, truncated, oversized and mutated NFLOG messages
 * with real prefixes must never throw, must be counted when bad, and every event it emits must be a
 * well-formed Calico record.
 */
class CalicoTranslatorFuzzTest {
    private static final String[] PREFIXES = {"DPI|default", "API0|knp/shop/allow-web", "DRE", "ARE0|kns.shop",
        "DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name", "PPI|security", "", "DPE1|prod/default.deny-db",
        "DPI0|shop/knp.default.deny", "PPE3|gnp/pass", "garbage"};

    @TempDir
    Path tmp;

    /** Counts what it is given and checks each record on emit. */
    static final class CheckingSink implements EventSink {
        final MemorySegment scratch = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
        final DropRecord r = new DropRecord().wrap(scratch, 0);
        long events;

        @Override
        public DropRecord begin() {
            return r.clear();
        }

        @Override
        public void emit(boolean mergeable) {
            events++;
            assertEquals(2, r.source());
            assertTrue(r.family() == 4 || r.family() == 6, "family " + r.family());
            assertTrue(CalicoReason.fromCode((int) r.reasonCode()) != null);
            assertEquals(CalicoReason.fromCode((int) r.reasonCode()).drop(), mergeable);
            assertTrue(r.policyId() != 0);
        }
    }

    static byte[] validMessage(SplittableRandom rnd) {
        int group = rnd.nextInt(0, 4);
        NflogBuffers b = new NflogBuffers().packet(rnd.nextBoolean() ? 2 : 10, group).packetHdr(0x0800, 2)
                .prefix(PREFIXES[rnd.nextInt(PREFIXES.length)]);
        if (rnd.nextBoolean()) b.be32(NflogMessageParser.NFULA_IFINDEX_INDEV, rnd.nextInt(0, 5));
        if (rnd.nextBoolean()) b.be32(NflogMessageParser.NFULA_IFINDEX_OUTDEV, rnd.nextInt(0, 5));
        if (rnd.nextBoolean()) b.timestamp(rnd.nextLong(0, 3_000_000_000L), rnd.nextLong(0, 1_000_000));
        if (rnd.nextBoolean()) b.be32(NflogMessageParser.NFULA_MARK, rnd.nextInt());
        byte[] payload = switch (rnd.nextInt(3)) {
            case 0 -> NflogBuffers.ipv4Tcp(0x0ad20001, 0x0ad20002, rnd.nextInt(65536), rnd.nextInt(65536), rnd.nextInt(256),
                    rnd.nextInt(0, 81));
            case 1 -> NflogBuffers.ipv4Udp(0x0ad20002, rnd.nextInt(), 53, 53);
            default -> NflogBuffers.ipv6(6, new byte[0], new byte[20], (byte) 1, (byte) 2);
        };
        return b.payload(payload).end().bytes();
    }

    @Test
    void survivesRandomTruncatedOversizedAndMutatedMessages() throws Exception {
        try (DropJournal journal = DropJournal.open(tmp.resolve("journal")); IdentityCache cache = IdentityCache.create()) {
            cache.upsert("pod:api", Identity.pod("shop", "api-0", null, Map.of("app", "api"), null), List.of("10.210.0.2"), 1);
            cache.flush().get(30, TimeUnit.SECONDS);
            KnownPolicies policies = KnownPolicies.of(1, List.of(new KnownPolicies.NetworkPolicyEntry("shop", "iso",
                    LabelSelector.ALL, true, true)), List.of());
            CalicoPayloadTranslator t = new CalicoPayloadTranslator(journal, cache, "n", () -> policies,
                    new InterfaceNames(), true);
            CheckingSink sink = new CheckingSink();
            SplittableRandom rnd = new SplittableRandom(7);
            MemorySegment buf = Arena.ofAuto().allocate(80_000);
            long fed = 0;
            for (int i = 0; i < 4000; i++) {
                byte[] valid = validMessage(rnd);
                byte[] m = valid.clone();
                for (int k = rnd.nextInt(1, 6); k > 0; k--) {
                    switch (rnd.nextInt(4)) {
                        case 0 -> m[rnd.nextInt(m.length)] = (byte) rnd.nextInt();
                        case 1 -> ByteBuffer.wrap(m).order(ByteOrder.nativeOrder())
                                .putShort(rnd.nextInt(m.length - 1), (short) rnd.nextInt(0, 0x10000));
                        case 2 -> ByteBuffer.wrap(m).order(ByteOrder.nativeOrder())
                                .putInt(rnd.nextInt(m.length - 3), rnd.nextInt());
                        default -> m[rnd.nextInt(m.length)] ^= (byte) (1 << rnd.nextInt(8));
                    }
                }
                byte[] random = new byte[rnd.nextInt(0, i % 200 == 0 ? 70_000 : 300)];
                for (int j = 0; j < random.length; j++) random[j] = (byte) rnd.nextInt();
                byte[] oversized = Arrays.copyOf(valid, valid.length + rnd.nextInt(1, 64));
                for (byte[] input : List.of(valid, m, Arrays.copyOf(m, rnd.nextInt(0, m.length + 1)),
                        Arrays.copyOf(valid, rnd.nextInt(0, valid.length + 1)), oversized, random)) {
                    MemorySegment.copy(input, 0, buf, ValueLayout.JAVA_BYTE, 0, input.length);
                    t.translate(buf, 0, input.length, rnd.nextInt(0, 3), sink);
                    fed++;
                }
            }
            // a range outside the segment is counted, not thrown
            t.translate(buf, buf.byteSize() - 4, 64, 1, sink);
            CalicoPayloadTranslator.Counters c = t.counters();
            System.out.println("CalicoTranslatorFuzzTest: " + fed + " inputs, " + c);
            assertTrue(c.decodeErrors() > 0, "bad input was counted");
            assertTrue(c.otherMessages() > 0, "non-packet messages were counted");
            assertTrue(c.packets() >= 4000, "at least every valid message was a packet");
            assertTrue(sink.events > 0, "valid messages became events");
            assertEquals(c.emitted(), sink.events);
        }
    }
}
