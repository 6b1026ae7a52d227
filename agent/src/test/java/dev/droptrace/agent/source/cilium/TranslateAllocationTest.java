package dev.droptrace.agent.source.cilium;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.pipeline.EventSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The steady-state translate path allocates nothing: repeated drop notifications (identities from
 * CiliumEndpoints, CiliumIdentities and the IP cache, reserved identities), a denied verdict joined
 * with its drop, an audited verdict, per-poll flushes. Under one byte per message over 100,000
 * messages; no timing assertions.
 */
class TranslateAllocationTest {
    private static final int N = 100_000;

    @TempDir
    Path tmp;

    /** Counts events; the record lives in native memory, as the pipeline's does. */
    static final class CountingSink implements EventSink {
        final DropRecord rec = new DropRecord().wrap(Arena.ofAuto().allocate(DropRecord.SIZE, 8), 0);
        long events;
        long sum;

        @Override
        public DropRecord begin() {
            return rec.clear();
        }

        @Override
        public void emit(boolean mergeable) {
            events++;
            sum += rec.srcIdentityId() + rec.dstIdentityId() + rec.detailId() + rec.policyId() + rec.dstPort();
        }
    }

    @Test
    void translatingRepeatedNotificationsDoesNotAllocate() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] fib = CiliumPayloadTranslatorTest.DROP.clone();
        fib[1] = (byte) 169; // not a policy denial: journaled at once
        byte[] reserved = fib.clone();
        ByteBuffer.wrap(reserved).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 2).putInt(20, 1);
        byte[] identityOnly = fib.clone();
        ByteBuffer.wrap(identityOnly).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 7777); // a CiliumIdentity, no endpoint
        byte[] audited = CiliumPayloadTranslatorTest.VERDICT_V119.clone();
        ByteBuffer.wrap(audited).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0).put(27, (byte) (1 | 0x40));
        byte[][] samples = {fib, reserved, identityOnly, CiliumPayloadTranslatorTest.VERDICT_V119, CiliumPayloadTranslatorTest.DROP,
            audited, Samples.hex(SpecVectorsTest.V4)};

        try (Arena arena = Arena.ofConfined(); IdentityCache cache = IdentityCache.create();
             CiliumIdentityTable table = new CiliumIdentityTable(); DropJournal journal = DropJournal.open(tmp.resolve("j"))) {
            cache.upsert("pod:c", Identity.pod("client-ns", "client-7d9", "Deployment/client", Map.of("app", "client"), "n1"),
                    List.of("10.0.1.5"), 1);
            cache.setComplete(true);
            cache.flush().get(30, TimeUnit.SECONDS);
            table.upsertIdentity("7777", Map.of("k8s:app", "client", "k8s:io.kubernetes.pod.namespace", "client-ns"), null);
            table.upsertEndpoint("client-ns", "client-7d9", 5678, 77, null, List.of("10.0.1.5"), List.of("k8s:app=client"));
            table.upsertEndpoint("srv-ns", "server-0", 51234, 1234, null, List.of("10.0.2.7"), List.of("k8s:app=server"));
            table.flush().get(30, TimeUnit.SECONDS);

            long[] offsets = new long[samples.length];
            long total = 0;
            for (int i = 0; i < samples.length; i++) {
                offsets[i] = total;
                total += samples[i].length;
            }
            MemorySegment buf = arena.allocate(total);
            for (int i = 0; i < samples.length; i++) {
                MemorySegment.copy(samples[i], 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, offsets[i], samples[i].length);
            }
            int[] lengths = java.util.Arrays.stream(samples).mapToInt(b -> b.length).toArray();
            CiliumPayloadTranslator t = new CiliumPayloadTranslator(journal, "n1", cache, table, TranslatorHarness.options(0, false));
            CountingSink sink = new CountingSink();
            long tid = Thread.currentThread().threadId();

            run(t, sink, buf, offsets, lengths); // warm up: JIT, dictionary ids cached
            run(t, sink, buf, offsets, lengths);
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < 20 && allocated >= N; round++) {
                long before = mx.getThreadAllocatedBytes(tid);
                run(t, sink, buf, offsets, lengths);
                allocated = Math.min(allocated, mx.getThreadAllocatedBytes(tid) - before);
            }
            System.out.printf("cilium translate path: %d bytes allocated over %d messages (%d events, sum %d)%n", allocated, N,
                    sink.events, sink.sum);
            assertTrue(allocated < N, allocated + " bytes allocated over " + N + " messages");
            assertTrue(t.combined() > 0, "the verdict+drop pair was joined");
            assertEquals(0, t.verdictsAlone());
        }
    }

    private static void run(CiliumPayloadTranslator t, CountingSink sink, MemorySegment buf, long[] offsets, int[] lengths) {
        for (int k = 0; k < N; k++) {
            int i = k % offsets.length;
            t.translate(buf, offsets[i], lengths[i], 3, sink);
            if (k % 64 == 63) {
                t.flush(sink);
            }
        }
    }
}
