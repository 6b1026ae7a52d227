package dev.droptrace.agent.identity;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdentityCacheTest {
    private final IdentityCache cache = IdentityCache.create();

    @AfterEach
    void close() {
        cache.close();
    }

    private void flush() throws Exception {
        cache.flush().get(10, TimeUnit.SECONDS);
    }

    static int v4(String s) {
        return IdentityCache.ipv4(s);
    }

    private int v6(String s) {
        long[] a = IdentityCache.ipv6(s);
        return cache.lookupIpv6(a[0], a[1]);
    }

    @Test
    void mapsIpv4Ipv6AndNetnsToTheOwnersIdentity() throws Exception {
        Identity web = Identity.pod("shop", "web-1", "Deployment/web", Map.of("app", "web"), "n1");
        cache.upsert("pod:1", web, List.of("10.1.0.5", "fd00::5"), new long[] {4026532000L}, 1000);
        flush();
        int id = cache.lookupIpv4(v4("10.1.0.5"));
        assertTrue(id > IdentityCache.WORLD);
        assertSame(web, cache.identity(id));
        assertEquals(id, v6("fd00::5"));
        assertEquals(id, cache.lookupIpv6(0, 0xffff_0000_0000L | (v4("10.1.0.5") & 0xffffffffL)),
                "IPv4-mapped IPv6 uses the IPv4 table");
        assertEquals(id, cache.lookupNetns(4026532000L));
        assertEquals(0, cache.lookupIpv4(v4("10.1.0.6")));
        assertEquals(0, v6("fd00::6"));
        assertEquals(0, cache.lookupNetns(1));

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(32);
            byte[] b = InetAddress.ofLiteral("fd00::5").getAddress();
            MemorySegment.copy(b, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, 7, 16);
            assertEquals(id, cache.lookupIpv6(seg, 7));
        }
        assertEquals("{\"namespace\":\"shop\",\"pod\":\"web-1\",\"workload\":\"Deployment/web\",\"labels\":{\"app\":\"web\"},\"node\":\"n1\"}",
                web.json());
    }

    @Test
    void unknownIsWorldOnlyOnceComplete() throws Exception {
        int a = v4("203.0.113.9");
        assertEquals(0, cache.resolveIpv4(a));
        cache.setComplete(true);
        flush();
        assertEquals(IdentityCache.WORLD, cache.resolveIpv4(a));
        assertSame(Identity.WORLD, cache.identity(IdentityCache.WORLD));
        assertEquals("{\"reserved\":\"world\"}", Identity.WORLD.json());
        assertEquals(0, cache.resolveIpv4(v4("127.0.0.1")), "loopback is not world");
        long[] six = IdentityCache.ipv6("2001:db8::1");
        assertEquals(IdentityCache.WORLD, cache.resolveIpv6(six[0], six[1]));
        assertEquals(0, cache.resolveIpv6(0, 1), "::1 is not world");
        assertEquals(0, cache.lookupIpv4(a), "lookup never invents world");
    }

    @Test
    void hostIdentityNamesTheNode() throws Exception {
        cache.upsert("node:n1", Identity.host("n1"), List.of("192.168.1.10"), 0);
        cache.registerHostNetns(4026531840L, "n1");
        flush();
        Identity h = cache.identity(cache.lookupIpv4(v4("192.168.1.10")));
        assertEquals("host", h.reserved());
        assertEquals("n1", h.node());
        assertEquals("{\"node\":\"n1\",\"reserved\":\"host\"}", h.json());
        assertEquals(h, cache.identity(cache.lookupNetns(4026531840L)));
    }

    @Test
    void deletedPodKeepsItsNameUnderItsOldId() throws Exception {
        cache.setComplete(true);
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of(), null), List.of("10.0.0.1"), 1000);
        flush();
        int old = cache.lookupIpv4(v4("10.0.0.1"));
        cache.remove("pod:a");
        flush();
        assertEquals(0, cache.lookupIpv4(v4("10.0.0.1")));
        assertEquals(IdentityCache.WORLD, cache.resolveIpv4(v4("10.0.0.1")));
        assertEquals("a", cache.identity(old).pod());
    }

    @Test
    void ipReuseAddBeforeDeleteMapsToTheNewPod() throws Exception {
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of(), null), List.of("10.0.0.1"), 1000);
        flush();
        int a = cache.lookupIpv4(v4("10.0.0.1"));
        // informers may deliver B's add before A's delete
        cache.upsert("pod:b", Identity.pod("ns", "b", null, Map.of(), null), List.of("10.0.0.1"), 2000);
        flush();
        int b = cache.lookupIpv4(v4("10.0.0.1"));
        assertNotEquals(a, b);
        assertEquals("b", cache.identity(b).pod());
        // a late update of terminating A does not steal the address back
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of("phase", "terminating"), null), List.of("10.0.0.1"), 1000);
        flush();
        assertEquals(b, cache.lookupIpv4(v4("10.0.0.1")));
        cache.remove("pod:a");
        flush();
        assertEquals(b, cache.lookupIpv4(v4("10.0.0.1")), "A's delete never removes B's mapping");
        assertEquals("a", cache.identity(a).pod(), "the old id still names A");
    }

    @Test
    void ipReuseDeleteBeforeAdd() throws Exception {
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of(), null), List.of("10.0.0.1"), 1000);
        flush();
        int a = cache.lookupIpv4(v4("10.0.0.1"));
        cache.remove("pod:a");
        cache.upsert("pod:b", Identity.pod("ns", "b", null, Map.of(), null), List.of("10.0.0.1"), 2000);
        flush();
        int b = cache.lookupIpv4(v4("10.0.0.1"));
        assertNotEquals(a, b);
        assertEquals("b", cache.identity(b).pod());
        assertEquals("a", cache.identity(a).pod());
    }

    @Test
    void sameNameRecreatedGetsANewIdAndSameCreationTimeFallsBackToArrivalOrder() throws Exception {
        cache.upsert("pod:uid1", Identity.pod("ns", "db-0", "StatefulSet/db", Map.of(), null), List.of("10.0.0.7"), 5000);
        flush();
        int first = cache.lookupIpv4(v4("10.0.0.7"));
        cache.upsert("pod:uid2", Identity.pod("ns", "db-0", "StatefulSet/db", Map.of(), null), List.of("10.0.0.7"), 5000);
        flush();
        int second = cache.lookupIpv4(v4("10.0.0.7"));
        assertNotEquals(first, second);
        cache.remove("pod:uid1");
        flush();
        assertEquals(second, cache.lookupIpv4(v4("10.0.0.7")));
    }

    @Test
    void unchangedIdentityKeepsItsIdChangedLabelsGetANewOne() throws Exception {
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of("v", "1"), null), List.of("10.0.0.1"), 1);
        flush();
        int v1 = cache.lookupIpv4(v4("10.0.0.1"));
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of("v", "1"), null), List.of("10.0.0.1", "10.0.0.2"), 1);
        flush();
        assertEquals(v1, cache.lookupIpv4(v4("10.0.0.1")));
        assertEquals(v1, cache.lookupIpv4(v4("10.0.0.2")));
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of("v", "2"), null), List.of("10.0.0.2"), 1);
        flush();
        int v2 = cache.lookupIpv4(v4("10.0.0.2"));
        assertNotEquals(v1, v2);
        assertEquals("2", cache.identity(v2).labels().get("v"));
        assertEquals("1", cache.identity(v1).labels().get("v"));
        assertEquals(0, cache.lookupIpv4(v4("10.0.0.1")), "address dropped by the update");
    }

    @Test
    void registeredNetnsFollowsThePodAcrossVersionsAndOrder() throws Exception {
        cache.registerNetns(777, "shop", "web-1"); // before the pod is known
        flush();
        assertEquals(0, cache.lookupNetns(777));
        cache.upsert("inventory:shop/web-1", Identity.pod("shop", "web-1", null, Map.of(), null), List.of("10.0.0.9"), 0);
        flush();
        int id = cache.lookupNetns(777);
        assertEquals("web-1", cache.identity(id).pod());
        cache.upsert("inventory:shop/web-1", Identity.pod("shop", "web-1", null, Map.of("x", "y"), null), List.of("10.0.0.9"), 0);
        flush();
        assertEquals(cache.lookupIpv4(v4("10.0.0.9")), cache.lookupNetns(777));
        cache.unregisterNetns(777);
        flush();
        assertEquals(0, cache.lookupNetns(777));
    }

    @Test
    void retiredIdentitiesAreReleasedAfterTheRetirePeriod() throws Exception {
        try (IdentityCache c = IdentityCache.create(Duration.ofMillis(50))) {
            c.upsert("pod:a", Identity.pod("ns", "a", null, Map.of(), null), List.of("10.0.0.1"), 1);
            c.flush().get(10, TimeUnit.SECONDS);
            int a = c.lookupIpv4(v4("10.0.0.1"));
            c.remove("pod:a");
            c.flush().get(10, TimeUnit.SECONDS);
            assertEquals("a", c.identity(a).pod());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (c.identity(a) != null && System.nanoTime() < deadline) {
                Thread.sleep(20);
                c.flush().get(10, TimeUnit.SECONDS);
            }
            assertNull(c.identity(a));
        }
    }

    @Test
    void invalidAddressesAreSkippedNotFatal() throws Exception {
        cache.upsert("pod:a", Identity.pod("ns", "a", null, Map.of(), null), List.of("not-an-ip", "10.0.0.1"), 1);
        flush();
        assertTrue(cache.lookupIpv4(v4("10.0.0.1")) > 1);
        assertEquals(0, cache.updatesFailed());
    }

    @Test
    void addressTableAgreesWithAHashMapUnderRandomPutsAndRemoves() {
        AddressTable t = new AddressTable();
        Map<Long, Integer> ref = new HashMap<>();
        Random r = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            long k = r.nextInt(3000);
            if (r.nextInt(3) == 0) {
                t.remove(7, k);
                ref.remove(k);
            } else {
                int v = 1 + r.nextInt(1000);
                t.put(7, k, v);
                ref.put(k, v);
            }
            if (i % 10_000 == 0) {
                AddressTable copy = t.copy();
                for (long q = 0; q < 3000; q++) {
                    assertEquals(ref.getOrDefault(q, 0), copy.get(7, q), "key " + q + " at step " + i);
                }
                assertEquals(ref.size(), copy.size());
            }
        }
        for (long q = 0; q < 3000; q++) {
            t.remove(7, q);
        }
        assertEquals(0, t.size());
        assertFalse(t.get(7, 5) != 0);
    }

    @Test
    void addressIndexViewsNeverChangeAfterPublication() {
        AddressIndex index = new AddressIndex(4);
        Map<Long, Integer> ref = new HashMap<>();
        List<AddressIndex.View> views = new java.util.ArrayList<>();
        List<Map<Long, Integer>> expected = new java.util.ArrayList<>();
        Random r = new Random(3);
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < 400; i++) {
                long k = r.nextInt(2000);
                if (r.nextInt(3) == 0) {
                    index.remove(1, k);
                    ref.remove(k);
                } else {
                    int v = 1 + r.nextInt(1000);
                    index.put(1, k, v);
                    ref.put(k, v);
                }
            }
            views.add(index.publish());
            expected.add(new HashMap<>(ref));
        }
        for (int v = 0; v < views.size(); v++) {
            AddressIndex.View view = views.get(v);
            assertEquals(expected.get(v).size(), view.size());
            for (long q = 0; q < 2000; q++) {
                assertEquals(expected.get(v).getOrDefault(q, 0), view.get(1, q), "view " + v + " key " + q);
            }
        }
    }
}
