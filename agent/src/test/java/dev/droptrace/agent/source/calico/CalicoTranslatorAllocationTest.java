package dev.droptrace.agent.source.calico;

import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The steady-state translate path (parse, prefix lookup, decode, identities, interface name, policy
 * id, default-deny attribution, emit into a journal) allocates nothing for repeated messages.
 */
class CalicoTranslatorAllocationTest {
    @TempDir
    Path tmp;

    @Test
    void repeatedMessagesAllocateNothing() throws Exception {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (IdentityCache cache = IdentityCache.create(); CalicoTestJournal out = new CalicoTestJournal(tmp.resolve("j"), false)) {
            cache.upsert("pod:web", Identity.pod("shop", "web-0", null, Map.of("app", "web"), null), List.of("10.210.0.1"), 1);
            cache.upsert("pod:api", Identity.pod("shop", "api-0", null, Map.of("app", "api"), null), List.of("10.210.0.2"), 1);
            cache.setComplete(true);
            cache.flush().get(30, TimeUnit.SECONDS);
            String hashed = CalicoPrefix.hash("DPI0|knp/payments-processing-europe/deny-from-everything-but-the-gateway");
            KnownPolicies policies = KnownPolicies.of(1, List.of(new KnownPolicies.NetworkPolicyEntry("shop", "iso",
                    new LabelSelector(Map.of("app", "api"), List.of()), true, false)), List.of(
                    new CalicoPrefixResolver.KnownPolicy("knp", "payments-processing-europe",
                            "deny-from-everything-but-the-gateway", "default", 1, 0)));
            CalicoPayloadTranslator t = new CalicoPayloadTranslator(out.journal, cache, "node-1", () -> policies,
                    new InterfaceNames(), false);
            long sec = CalicoPayloadTranslatorTest.nowSec();
            int web = CalicoPayloadTranslatorTest.WEB;
            int api = CalicoPayloadTranslatorTest.API;
            MemorySegment[] messages = {
                    CalicoTestJournal.native_(CalicoPayloadTranslatorTest.message(1, "DPI0|knp/shop/deny-web", 7, 1, sec, 5, web, api, 80)),
                    CalicoTestJournal.native_(CalicoPayloadTranslatorTest.message(1, "DPI|default", 7, 1, sec, 5, web, api, 80)),
                    CalicoTestJournal.native_(CalicoPayloadTranslatorTest.message(2, "DRE", 1, 7, 0, 0, web, api, 80)),
                    CalicoTestJournal.native_(CalicoPayloadTranslatorTest.message(1, hashed, 7, 1, sec, 5, web, api, 80)),
                    CalicoTestJournal.native_(CalicoPayloadTranslatorTest.message(1, "API0|knp/shop/allow", 7, 1, sec, 5, web, api, 80)),
            };
            run(t, out, messages, 20_000); // warm up: JIT, caches, first interning
            long tid = Thread.currentThread().threadId();
            long allocated = Long.MAX_VALUE;
            int n = 20_000;
            // until C2 has compiled the path a round may allocate (on a loaded machine that takes many rounds:
            // C1 code does no escape analysis); an allocation per message would show in every round
            for (int round = 0; round < 300 && allocated > 0; round++) {
                long before = mx.getThreadAllocatedBytes(tid);
                run(t, out, messages, n);
                allocated = Math.min(allocated, mx.getThreadAllocatedBytes(tid) - before);
            }
            long messagesRun = (long) n * messages.length;
            System.out.println("CalicoTranslatorAllocationTest: " + allocated + " bytes for " + messagesRun + " messages");
            assertEquals(0, allocated, allocated + " bytes allocated for " + messagesRun + " messages");
            assertEquals(0, t.counters().decodeErrors());
            assertEquals(0, t.counters().unresolvedHashed());
            assertTrue(t.counters().emitted() >= 4L * messagesRun / messages.length);
        }
    }

    private static void run(CalicoPayloadTranslator t, CalicoTestJournal out, MemorySegment[] messages, int n) {
        for (int i = 0; i < n; i++) {
            for (MemorySegment m : messages) {
                t.translate(m, 0, (int) m.byteSize(), 1, out);
            }
        }
    }
}
