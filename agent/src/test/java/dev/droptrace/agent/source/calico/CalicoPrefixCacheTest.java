package dev.droptrace.agent.source.calico;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CalicoPrefixCacheTest {

    private static MemorySegment seg(String s) {
        return MemorySegment.ofArray(("..." + s).getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void hitsReturnTheSameParse() {
        CalicoPrefixCache cache = new CalicoPrefixCache(64);
        CalicoPrefix a = cache.lookup(seg("DPI|default"), 3, 11);
        CalicoPrefix b = cache.lookup(seg("DPI|default"), 3, 11);
        assertSame(a, b);
        assertEquals(1, cache.misses());
        assertEquals(CalicoPrefix.Type.TIER_END, a.type());
        CalicoPrefix c = cache.lookup(seg("DPE|default"), 3, 11);
        assertEquals("DPE|default", c.raw());
        assertEquals(2, cache.misses());
        assertEquals("", cache.lookup(seg(""), 3, 0).raw());
    }

    @Test
    void fullTableStartsAgain() {
        CalicoPrefixCache cache = new CalicoPrefixCache(16);
        for (int i = 0; i < 100; i++) {
            String p = "API" + i + "|np/ns/p";
            assertEquals(i, cache.lookup(seg(p), 3, p.length()).ruleIndex());
            assertTrue(cache.size() <= 12);
        }
        for (int i = 0; i < 100; i++) {
            String p = "API" + i + "|np/ns/p";
            assertEquals(i, cache.lookup(seg(p), 3, p.length()).ruleIndex());
        }
    }

    @Test
    void resolverAppliesToHashedPrefixes() {
        CalicoPrefixCache cache = new CalicoPrefixCache(64);
        String hashed = "DPE1|quite_nnW4FYptgISH4G3jdI6KJWVcEx19s0BDp2On0wVAY_olicy-name";
        assertEquals(null, cache.lookup(seg(hashed), 3, 63).policy().name());
        cache.resolver(new CalicoPrefixResolver(List.of(new CalicoPrefixResolver.KnownPolicy("np",
                "quite-a-long-namespace", "quite-a-long-policy-name", "quite-a-long-tier-name", 0, 2)), List.of()));
        assertEquals("quite-a-long-policy-name", cache.lookup(seg(hashed), 3, 63).policy().name());
    }
}
