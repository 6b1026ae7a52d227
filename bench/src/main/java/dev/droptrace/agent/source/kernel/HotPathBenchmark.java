package dev.droptrace.agent.source.kernel;

import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.bench.AgentJvmFork;
import dev.droptrace.agent.journal.RetentionPolicy;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import java.time.Duration;
import dev.droptrace.ksym.KernelSymbols;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import dev.droptrace.agent.identity.Identity;
import dev.droptrace.agent.identity.IdentityCache;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The agent's per-event hot path on one thread: {@link KernelRecordTranslator#onRecord} decodes a
 * kernel {@code struct drop_event} in place and appends it to a {@link DropJournal} (Chronicle
 * Queue) in a temporary directory. The input is a buffer laid out like the ring's data area
 * (8-byte header, 104-byte record, padded to 112) holding {@value #RECORDS} realistic IPv4 UDP/TCP
 * drops: 64 flows, 8 interface names, 4 real kernel drop sites (when /proc/kallsyms shows
 * addresses). One op is one event, so ops/s is events/s; run with {@code -prof gc} for
 * gc.alloc.rate.norm (bytes per event).
 *
 * <p>{@code journalScope} sets the journal's lifetime:
 * <ul>
 *   <li>{@code bounded} (the headline: speed and allocation in one setup): one journal for the
 *   whole trial, as an agent keeps it. It rolls every second (TEST_SECONDLY) under a size bound of
 *   {@value #BOUNDED_BYTES} bytes, so retention deletes a cycle file at every roll and new cycles
 *   reuse the pages the deleted ones freed. The trial setup runs the path until retention has
 *   evicted twice, so every iteration measures that steady state. Its {@code -prof gc} figure is
 *   what a roll allocates (Chronicle's new cycle and chunk mappings, the directory listing of
 *   retention: ~17 KB per roll measured with JFR, one roll per ~6 M events here), not the events. An agent rolls
 *   hourly, so it pays that 3,600 times less often.</li>
 *   <li>{@code trial}: one journal for the whole trial that is never evicted; ~128 bytes per
 *   event for the whole run (several GB), all of it memory the VM has not used recently.</li>
 *   <li>{@code iteration}: a fresh journal per iteration, the old one deleted; its {@code -prof gc}
 *   figure (~0.05 B/op) is that setup (the translator's kallsyms id table, Chronicle's queue
 *   objects), which JMH counts inside the iteration.</li>
 * </ul>
 *
 * <p>Enrichment reads an identity cache holding 10,000 pod identities (issue 4 item 2), which
 * covers every source and destination address of the records, so each event resolves both ends.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class HotPathBenchmark extends AgentJvmFork {
    static final int RECORDS = 1024;
    static final int STRIDE = 112; // 8-byte ring header + 104-byte record, 8-aligned
    static final int NETFILTER_DROP = 6;
    static final String[] DROP_SITES = {"nf_hook_slow", "udp_queue_rcv_one_skb", "tcp_v4_rcv", "ip_rcv_finish_core"};

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private final Arena arena = Arena.ofShared();
    private KernelSymbols symbols;
    private MemorySegment ring;
    private Path dir;
    private DropJournal journal;
    private KernelRecordTranslator translator;
    private IdentityCache identities;

    /**
     * Journal lifetime: "bounded" (one for the run, rolling each second under a size bound, as the
     * agent's retention keeps it), "trial" (one for the run, unbounded) or "iteration" (a fresh one
     * per iteration).
     */
    @Param({"bounded", "trial", "iteration"})
    public String journalScope;

    /** The bounded journal's size limit: its per-cycle cap (half) holds ~12 M events, more than a second of this path. */
    static final long BOUNDED_BYTES = 3L << 30;

    /** In this order: the translator needs the identities, and the symbols fillRing loads. */
    @Setup(Level.Trial)
    public void setUp() throws Exception {
        fillIdentities();
        fillRing();
        if (!journalScope.equals("iteration")) openJournal();
        if (journalScope.equals("bounded")) fillToBound();
        // JMH runs the trial teardown inside the last iteration's profiler window, so what allocates
        // (closing Chronicle, deleting files, stopping the identity writer) waits for the fork's exit
        Runtime.getRuntime().addShutdownHook(new Thread(this::release, "hotpath-cleanup"));
    }

    @Setup(Level.Iteration)
    public void openIterationJournal() throws IOException {
        if (journalScope.equals("iteration")) openJournal();
    }

    @TearDown(Level.Iteration)
    public void closeIterationJournal() throws IOException {
        if (journalScope.equals("iteration")) {
            check();
            closeJournal();
        }
    }

    /** Fails the trial if an event was not decoded or not written; allocates nothing when all is well. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (journal != null) check();
    }

    private void check() {
        long errors = translator.decodeErrors();
        long journalErrors = translator.journalErrors();
        long unwritten = translator.events() - journal.eventsAppended();
        if (errors != 0) throw new IllegalStateException(errors + " decode errors: the benchmark's records are wrong");
        if (journalErrors != 0 || unwritten != 0) {
            throw new IllegalStateException(journalErrors + " journal errors, " + unwritten + " events counted but not written");
        }
    }

    private synchronized void release() {
        try {
            if (journal != null) closeJournal();
        } catch (IOException e) {
            System.err.println("cannot delete " + dir + ": " + e.getMessage());
        } finally {
            closeIdentities();
            freeRing();
        }
    }

    void fillIdentities() throws Exception {
        identities = IdentityCache.create();
        // 10,000 pods in 10.230.0.0/16: 10.230.1.x and 10.230.2.x (the records' ends) among them
        for (int i = 0; i < 10_000; i++) {
            String ip = "10.230." + (1 + i / 250) + "." + (1 + i % 250);
            identities.upsert("pod:bench-" + i, Identity.pod("ns-" + (i % 50), "pod-" + i, "Deployment/app-" + (i % 500),
                    Map.of("app", "app-" + (i % 500)), "bench-node"), List.of(ip), i);
        }
        identities.setComplete(true);
        identities.flush().get();
    }

    void closeIdentities() {
        identities.close();
    }

    void fillRing() {
        symbols = KernelSymbols.load();
        long[] sites = new long[DROP_SITES.length];
        for (int i = 0; i < sites.length; i++) {
            int idx = symbols.available() ? symbols.indexOfName(DROP_SITES[i]) : -1;
            sites[i] = idx >= 0 ? symbols.address(idx) + 0x40 + i : 0xffffffff81000000L + 0x1000L * i;
        }
        ring = arena.allocate((long) RECORDS * STRIDE, 8);
        for (int i = 0; i < RECORDS; i++) {
            long hdr = (long) i * STRIDE;
            ring.set(U32, hdr, KernelDropRecord.SIZE); // ring header: length, committed
            ring.set(U32, hdr + 4, 0);
            long r = hdr + 8;
            int flow = i % 64;
            boolean tcp = flow % 4 == 0;
            ring.set(U64, r + KernelDropRecord.KTIME_NS, 1_000_000_000_000L + i * 3_000L);
            ring.set(U64, r + KernelDropRecord.LOCATION, sites[i % sites.length]);
            ring.set(U32, r + KernelDropRecord.REASON, NETFILTER_DROP);
            ring.set(U32, r + KernelDropRecord.NETNS, 0xF0000000 + flow % 8);
            ring.set(U32, r + KernelDropRecord.IFINDEX, 2 + flow % 8);
            ring.set(U32, r + KernelDropRecord.LENGTH, 92 + flow);
            ring.set(U32, r + KernelDropRecord.CPU, i & 1);
            ring.set(U32, r + KernelDropRecord.COUNT, 1);
            ring.set(U16, r + KernelDropRecord.L3_PROTO, (short) 0x0800);
            ring.set(ValueLayout.JAVA_BYTE, r + KernelDropRecord.FAMILY, (byte) 4);
            ring.set(ValueLayout.JAVA_BYTE, r + KernelDropRecord.PROTOCOL, (byte) (tcp ? 6 : 17));
            ring.set(U16, r + KernelDropRecord.SPORT, (short) (40000 + flow));
            ring.set(U16, r + KernelDropRecord.DPORT, (short) (tcp ? 443 : 9999));
            ring.set(ValueLayout.JAVA_BYTE, r + KernelDropRecord.TCP_FLAGS, (byte) (tcp ? 0x02 : 0));
            byte[] src = {10, (byte) 230, 1, (byte) (1 + flow)};
            byte[] dst = {10, (byte) 230, 2, (byte) (1 + flow % 16)};
            MemorySegment.copy(MemorySegment.ofArray(src), 0, ring, r + KernelDropRecord.SADDR, 4);
            MemorySegment.copy(MemorySegment.ofArray(dst), 0, ring, r + KernelDropRecord.DADDR, 4);
            byte[] ifname = ("veth" + Integer.toHexString(0xa0 + flow % 8) + "c1d2").getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(MemorySegment.ofArray(ifname), 0, ring, r + KernelDropRecord.IFNAME, ifname.length);
        }
    }

    void openJournal() throws IOException {
        dir = Files.createTempDirectory("droptrace-hotpath");
        journal = journalScope.equals("bounded")
                ? DropJournal.open(dir, TestRollCycles.TEST_SECONDLY, new RetentionPolicy(BOUNDED_BYTES, Duration.ZERO))
                : DropJournal.open(dir);
        journal.defineReason(dev.droptrace.agent.event.DropSource.KERNEL, NETFILTER_DROP, "NETFILTER_DROP");
        translator = new KernelRecordTranslator(journal, symbols, "bench-node", identities);
    }

    /**
     * Runs the measured path until retention has evicted {@value #FILL_EVICTIONS} cycle files, so the
     * journal sits at its bound and every new cycle reuses pages an evicted one freed, as in an agent
     * that has run for a while. Without this the first ~3 GB are memory the VM has never touched,
     * which here costs more than the path itself (first writes to fresh guest memory ran at ~0.4 GB/s,
     * rewrites at ~3 GB/s, measured with dd on /dev/shm).
     */
    void fillToBound() {
        while (journal.evictedFiles() < FILL_EVICTIONS) {
            decodeAndAppend();
            check(); // a refused event stops the fill with the reason
        }
    }

    static final int FILL_EVICTIONS = 2;

    void closeJournal() throws IOException {
        DropJournal j = journal;
        journal = null;
        j.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    void freeRing() {
        arena.close();
    }

    /**
     * Decode + enrich + journal append of {@value #RECORDS} records, as one drain of the ring would:
     * one journal batch per drain, written (acknowledged) before the drain returns.
     */
    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public void decodeAndAppend() {
        KernelRecordTranslator t = translator;
        MemorySegment data = ring;
        t.syncClock(); // once per drain, as KernelDropSource does
        t.beginDrain();
        for (int i = 0; i < RECORDS; i++) {
            t.onRecord(data, (long) i * STRIDE + 8, KernelDropRecord.SIZE);
        }
        t.endDrain();
    }
}
