package dev.droptrace.bench.identity;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.agent.identity.IdentityResolver;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Lookups in an {@link IdentityCache} of 10,000 pods (each with an IPv4 address, an IPv6 address and
 * a netns) while a background thread changes pod labels continuously (about 10,000 updates/s in
 * batches of 100, each a new identity version) when {@code updates=true}. The reader path must
 * allocate nothing: {@code -prof gc} counts the allocation of every thread, so with updates on its
 * {@code gc.alloc.rate.norm} includes the updater's and the writer's work (new identities, shard
 * copies) spread over the reader's operations; {@code updates=false} shows the reader alone.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class IdentityCacheBenchmark {
    static final int PODS = 10_000;
    static final int MASK = 16_383;

    /** Whether a background thread changes pods continuously during the measurement. */
    @Param({"true", "false"})
    public boolean updates;

    IdentityCache cache;
    final int[] v4Hit = new int[MASK + 1];
    final int[] v4Miss = new int[MASK + 1];
    final long[] v6Hi = new long[MASK + 1];
    final long[] v6Lo = new long[MASK + 1];
    final long[] netns = new long[MASK + 1];
    private Thread updater;
    private volatile boolean stop;
    final AtomicInteger applied = new AtomicInteger();

    static String v4(int i) {
        return "10." + (100 + (i >>> 16)) + "." + ((i >>> 8) & 0xff) + "." + (i & 0xff);
    }

    static String v6(int i) {
        return "fd00:100::" + Integer.toHexString(i + 1);
    }

    @Setup(Level.Trial)
    public void setup() throws Exception {
        cache = IdentityCache.create();
        for (int i = 0; i < PODS; i++) {
            cache.upsert("pod:" + i, pod(i, 0), List.of(v4(i), v6(i)), new long[] {4_026_600_000L + i}, i);
        }
        cache.setComplete(true);
        cache.flush().get(60, TimeUnit.SECONDS);
        SplittableRandom r = new SplittableRandom(1);
        for (int k = 0; k <= MASK; k++) {
            int i = r.nextInt(PODS);
            byte[] a = InetAddress.ofLiteral(v4(i)).getAddress();
            v4Hit[k] = (a[0] & 0xff) << 24 | (a[1] & 0xff) << 16 | (a[2] & 0xff) << 8 | (a[3] & 0xff);
            v4Miss[k] = 0xC6336400 | r.nextInt(256); // 198.51.100.x: not in the cache -> world
            byte[] b = InetAddress.ofLiteral(v6(i)).getAddress();
            long hi = 0;
            long lo = 0;
            for (int j = 0; j < 8; j++) {
                hi = hi << 8 | (b[j] & 0xff);
                lo = lo << 8 | (b[8 + j] & 0xff);
            }
            v6Hi[k] = hi;
            v6Lo[k] = lo;
            netns[k] = 4_026_600_000L + i;
        }
        if (cache.lookupIpv4(v4Hit[0]) == 0 || cache.lookupIpv6(v6Hi[0], v6Lo[0]) == 0 || cache.lookupNetns(netns[0]) == 0) {
            throw new IllegalStateException("setup: lookups miss");
        }
        updater = Thread.ofPlatform().name("bench-updater").daemon(true).start(() -> {
            SplittableRandom u = new SplittableRandom(2);
            int gen = 1;
            while (!stop && updates) {
                for (int n = 0; n < 100; n++) {
                    int i = u.nextInt(PODS);
                    cache.upsert("pod:" + i, pod(i, gen++), List.of(v4(i), v6(i)), new long[] {4_026_600_000L + i}, i);
                }
                applied.addAndGet(100);
                LockSupport.parkNanos(10_000_000L);
            }
        });
    }

    static Identity pod(int i, int gen) {
        return Identity.pod("bench", "pod-" + i, "Deployment/bench", Map.of("app", "bench", "gen", Integer.toString(gen)), "node-1");
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        stop = true;
        updater.join();
        System.out.printf("%n[writer applied %d updates in %d snapshots during the trial]%n", applied.get(),
                cache.snapshotsPublished());
        cache.close();
    }

    /** Per-thread cursor and the source thread's own resolver and record. */
    @State(Scope.Thread)
    public static class Reader {
        int k;
        IdentityResolver resolver;
        Arena arena;
        DropRecord record;
        final Map<String, Integer> dictionary = new ConcurrentHashMap<>();

        @Setup(Level.Trial)
        public void setup(IdentityCacheBenchmark b) {
            resolver = new IdentityResolver(b.cache, text -> dictionary.computeIfAbsent(text, t -> dictionary.size() + 1));
            arena = Arena.ofConfined();
            MemorySegment seg = arena.allocate(DropRecord.SIZE);
            record = new DropRecord().wrap(seg, 0).clear().family(DropRecord.FAMILY_IPV4);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }

        int next() {
            return k = (k + 1) & MASK;
        }
    }

    @Benchmark
    public int ipv4Hit(Reader r) {
        return cache.lookupIpv4(v4Hit[r.next()]);
    }

    @Benchmark
    public int ipv4MissWorld(Reader r) {
        return cache.resolveIpv4(v4Miss[r.next()]);
    }

    @Benchmark
    public int ipv6Hit(Reader r) {
        int i = r.next();
        return cache.lookupIpv6(v6Hi[i], v6Lo[i]);
    }

    @Benchmark
    public int netns(Reader r) {
        return cache.lookupNetns(netns[r.next()]);
    }

    /** Both ends of an IPv4 drop to journal ids: two lookups and two int-array reads (interning on first sight). */
    @Benchmark
    public int enrichIpv4Record(Reader r) {
        int i = r.next();
        DropRecord rec = r.record;
        rec.srcIpv4(v4Hit[i]).dstIpv4(v4Hit[(i + 7) & MASK]);
        r.resolver.enrich(rec);
        return rec.srcIdentityId() + rec.dstIdentityId();
    }
}
