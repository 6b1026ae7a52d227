package dev.droptrace.agent.identity;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A burst of 5,000 pod changes (creates, label updates, deletes, IP reuse with the new pod's add
 * before the old pod's delete) while a reader thread looks up every address continuously. Pod
 * names encode their address, so the reader can tell a torn or wrong answer from a right one.
 */
class IdentityCacheBurstTest {
    private static final int ADDRESSES = 4096;

    private static String v4Text(int i) {
        return "10.5." + (i >>> 8) + "." + (i & 0xff);
    }

    private static String v6Text(int i) {
        return "fd00:5::" + Integer.toHexString(i + 1);
    }

    @Test
    void readersSeeOnlyRightAnswersDuringABurstAndTheFinalStateIsExact() throws Exception {
        try (IdentityCache cache = IdentityCache.create()) {
            int[] v4 = new int[ADDRESSES];
            long[][] v6 = new long[ADDRESSES][];
            String[] prefix = new String[ADDRESSES];
            for (int i = 0; i < ADDRESSES; i++) {
                v4[i] = IdentityCache.ipv4(v4Text(i));
                v6[i] = IdentityCache.ipv6(v6Text(i));
                prefix[i] = "ip-" + i + "-";
            }
            // model: address index -> owner key and pod name
            Map<Integer, String> owner = new HashMap<>();
            Map<Integer, String> name = new HashMap<>();
            Random r = new Random(7);
            int gen = 0;
            for (; gen < 1500; gen++) { // initial population
                int i = r.nextInt(ADDRESSES);
                if (!owner.containsKey(i)) {
                    create(cache, owner, name, i, gen);
                }
            }
            cache.flush().get(10, TimeUnit.SECONDS);

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong lookups = new AtomicLong();
            AtomicLong hits = new AtomicLong();
            AtomicReference<String> wrong = new AtomicReference<>();
            Thread reader = Thread.ofPlatform().name("burst-reader").start(() -> {
                long n = 0;
                long h = 0;
                while (!stop.get() && wrong.get() == null) {
                    for (int i = 0; i < ADDRESSES; i++) {
                        int id4 = cache.lookupIpv4(v4[i]);
                        int id6 = cache.lookupIpv6(v6[i][0], v6[i][1]);
                        n += 2;
                        for (int id : new int[] {id4, id6}) {
                            if (id == 0) {
                                continue;
                            }
                            h++;
                            Identity ident = cache.identity(id);
                            if (ident == null || !ident.pod().startsWith(prefix[i])) {
                                wrong.compareAndSet(null, "address #" + i + " -> id " + id + " -> " + ident);
                            }
                        }
                    }
                }
                lookups.addAndGet(n);
                hits.addAndGet(h);
            });

            long before = cache.snapshotsPublished();
            for (int k = 0; k < 5000; k++, gen++) {
                if (k % 25 == 0) {
                    // let the writer publish now and then, so the reader sees many intermediate snapshots
                    cache.flush().get(10, TimeUnit.SECONDS);
                }
                int i = r.nextInt(ADDRESSES);
                if (!owner.containsKey(i)) {
                    create(cache, owner, name, i, gen);
                    continue;
                }
                switch (r.nextInt(3)) {
                    case 0 -> // label update of the same pod
                            cache.upsert(owner.get(i), Identity.pod("burst", name.get(i), null, Map.of("gen", "" + gen), null),
                                    List.of(v4Text(i), v6Text(i)), gen);
                    case 1 -> {
                        cache.remove(owner.remove(i));
                        name.remove(i);
                    }
                    default -> { // IP reuse, new pod's add first, then the old pod's delete
                        String old = owner.get(i);
                        create(cache, owner, name, i, gen);
                        cache.remove(old);
                    }
                }
            }
            cache.flush().get(30, TimeUnit.SECONDS);
            Thread.sleep(50);
            stop.set(true);
            reader.join(10_000);
            assertNull(wrong.get(), "reader saw a wrong identity");
            assertTrue(lookups.get() > 0 && hits.get() > 0, "the reader made progress during the burst");

            for (int i = 0; i < ADDRESSES; i++) {
                String expected = name.get(i);
                int id4 = cache.lookupIpv4(v4[i]);
                int id6 = cache.lookupIpv6(v6[i][0], v6[i][1]);
                assertEquals(id4, id6, "both addresses of #" + i);
                if (expected == null) {
                    assertEquals(0, id4, "address #" + i + " should be unknown");
                } else {
                    assertNotNull(cache.identity(id4), "address #" + i);
                    assertEquals(expected, cache.identity(id4).pod(), "address #" + i);
                }
            }
            assertEquals(0, cache.updatesFailed());
            System.out.printf("burst: %d lookups by the reader, %d snapshots published for 5000 changes%n",
                    lookups.get(), cache.snapshotsPublished() - before);
        }
    }

    private static void create(IdentityCache cache, Map<Integer, String> owner, Map<Integer, String> name, int i, int gen) {
        String key = "pod:g" + gen;
        String pod = "ip-" + i + "-g" + gen;
        owner.put(i, key);
        name.put(i, pod);
        cache.upsert(key, Identity.pod("burst", pod, null, Map.of(), null), List.of(v4Text(i), v6Text(i)), gen);
    }
}
