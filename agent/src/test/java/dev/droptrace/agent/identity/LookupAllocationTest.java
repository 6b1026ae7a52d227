package dev.droptrace.agent.identity;

import dev.droptrace.agent.event.DropRecord;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reader path allocates nothing: under one byte per lookup over a million lookups. */
class LookupAllocationTest {
    private static final int N = 1_000_000;

    @Test
    void lookupsAndEnrichmentDoNotAllocate() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (IdentityCache cache = IdentityCache.create(); Arena arena = Arena.ofConfined()) {
            int[] v4 = new int[10_000];
            long[][] v6 = new long[10_000][];
            for (int i = 0; i < 10_000; i++) {
                String a = "10.6." + (i >>> 8) + "." + (i & 0xff);
                String b = "fd00:6::" + Integer.toHexString(i + 1);
                v4[i] = IdentityCache.ipv4(a);
                v6[i] = IdentityCache.ipv6(b);
                cache.upsert("pod:" + i, Identity.pod("ns", "p" + i, null, Map.of("i", "" + i), null), List.of(a, b),
                        new long[] {100_000L + i}, i);
            }
            cache.setComplete(true);
            cache.flush().get(30, TimeUnit.SECONDS);
            IdentityResolver resolver = new IdentityResolver(cache, String::length);
            DropRecord r = new DropRecord().wrap(arena.allocate(DropRecord.SIZE), 0).clear();
            r.family(DropRecord.FAMILY_IPV4);
            long tid = Thread.currentThread().threadId();

            long sink = run(cache, resolver, r, v4, v6); // warm up: JIT, resolver's id array filled
            sink += run(cache, resolver, r, v4, v6);
            long before = mx.getThreadAllocatedBytes(tid);
            sink += run(cache, resolver, r, v4, v6);
            long allocated = mx.getThreadAllocatedBytes(tid) - before;
            System.out.printf("lookup path: %d bytes allocated over %d lookups (sink %d)%n", allocated, 6L * N, sink);
            assertTrue(allocated < N, allocated + " bytes allocated over " + N + " iterations");
        }
    }

    private static long run(IdentityCache cache, IdentityResolver resolver, DropRecord r, int[] v4, long[][] v6) {
        long sink = 0;
        for (int k = 0; k < N; k++) {
            int i = k % 10_000;
            sink += cache.lookupIpv4(v4[i]);                 // hit
            sink += cache.resolveIpv4(v4[i] + 0x01000000);    // miss -> world
            sink += cache.lookupIpv6(v6[i][0], v6[i][1]);     // IPv6 hit
            sink += cache.lookupNetns(100_000L + i);          // netns hit
            sink += cache.identity(i + 2).hashCode() & 1;
            r.srcIpv4(v4[i]).dstIpv4(v4[(i + 1) % 10_000]);
            resolver.enrich(r);
            sink += r.srcIdentityId();
        }
        return sink;
    }
}
