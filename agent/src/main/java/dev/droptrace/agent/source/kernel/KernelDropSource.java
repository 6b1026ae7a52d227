package dev.droptrace.agent.source.kernel;

import dev.droptrace.agent.event.DropSource;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.identity.IdentityCache;
import dev.droptrace.btf.DropReasons;
import dev.droptrace.ksym.KernelSymbols;
import dev.droptrace.libbpf.BpfLink;
import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfObject;
import dev.droptrace.libbpf.BpfRingBuffer;
import dev.droptrace.libbpf.RecordHandler;
import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.TreeMap;

/**
 * Drops as the kernel makes them: loads and attaches the kfree_skb BPF program, drains its ring
 * buffer on one thread, and appends one journal event per kernel record without allocating. With
 * aggregation on, the same thread flushes the per-flow counts once per interval
 * ({@link KernelFlowTables}) and once more on stop, so every drop is journaled with its count.
 */
public final class KernelDropSource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KernelDropSource.class);
    /** Class-path location of the compiled BPF object (built by the bpf module). */
    public static final String OBJECT_RESOURCE = "/dev/droptrace/bpf/kfree_skb.bpf.o";
    static final String PROG_BTF = "kfree_skb_btf";
    static final String PROG_CLASSIC = "kfree_skb_classic";
    /** enum dt_counter in kfree_skb.h */
    static final int CNT_SEEN = 0, CNT_SUBMITTED = 1, CNT_LOST = 2, CNT_AGGREGATED = 3, CNT_FLOW_FULL = 4;
    /** enum dt_setting in kfree_skb.h */
    static final int SET_WAKEUP_WATERMARK = 0, SET_AGGREGATE = 1;
    /** System property overriding the flow tables' capacity (tests). */
    public static final String FLOW_TABLE_SIZE_PROPERTY = "droptrace.kernel.flowTableSize";
    /** Default aggregation interval: one record per flow per second during a storm. */
    public static final long DEFAULT_AGGREGATE_INTERVAL_NS = 1_000_000_000L;
    /**
     * Longest wait between drains: the latency of a live tail when the ring is quiet. Short enough
     * that at the highest drop rate of a small node (~330 k records/s, 37 MB/s) the ring never fills
     * to the wakeup watermark (a quarter of the 8 MiB ring) between drains: at 50 ms it reached the
     * watermark every cycle, so the dropping CPU paid for forced wakeups, and the datapath sustained
     * 0.65-0.92 of the raw C consumer's rate instead of 0.95-0.99 (bench/throughput.sh, README
     * "Performance"). Costs 100 timer wakeups/s when idle. {@code -Ddroptrace.kernel.drainIntervalMs=N}
     * overrides it.
     */
    static final int DRAIN_INTERVAL_MS = Math.max(1, Integer.getInteger("droptrace.kernel.drainIntervalMs", 10));

    private final Arena arena = Arena.ofShared();
    private final BpfObject object;
    private final BpfLink link;
    private final String attachedAs;
    private final BpfMap counters;
    private final BpfMap reasons;
    private final BpfRingBuffer ring;
    private final DropReasons reasonNames;
    private final DropJournal journal;
    private final KernelRecordTranslator translator;
    private final MemorySegment key;
    private final KernelFlowTables flows;
    private final dev.droptrace.libbpf.BpfProgram program;
    private final long aggregateIntervalNs;
    private volatile boolean running;
    private dev.droptrace.agent.pipeline.EventPipeline pipeline;
    private boolean stopped;
    private volatile Throwable failure;
    private Thread thread;

    private KernelDropSource(BpfObject object, BpfLink link, String attachedAs, DropJournal journal,
                             DropReasons reasonNames, KernelSymbols symbols, String node, IdentityCache identities,
                             long aggregateIntervalNs) {
        this.object = object;
        this.link = link;
        this.attachedAs = attachedAs;
        this.reasonNames = reasonNames;
        this.journal = journal;
        this.translator = new KernelRecordTranslator(journal, symbols, node, identities);
        this.counters = object.map("counters");
        this.reasons = object.map("reasons");
        this.ring = BpfRingBuffer.open(object.map("events"));
        this.key = arena.allocate(ValueLayout.JAVA_INT);
        BpfMap settings = object.map("settings");
        MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
        key.set(ValueLayout.JAVA_INT, 0, SET_WAKEUP_WATERMARK);
        value.set(ValueLayout.JAVA_LONG, 0, object.map("events").maxEntries() / 4);
        settings.update(key, value, 0);
        this.aggregateIntervalNs = Math.max(0, aggregateIntervalNs);
        this.flows = new KernelFlowTables(object, arena);
        this.program = object.program(attachedAs.startsWith("tp_btf") ? PROG_BTF : PROG_CLASSIC);
        key.set(ValueLayout.JAVA_INT, 0, SET_AGGREGATE);
        value.set(ValueLayout.JAVA_LONG, 0, this.aggregateIntervalNs);
        settings.update(key, value, 0);
    }

    /**
     * Checks the kernel, loads the program and attaches it: tp_btf/kfree_skb first, the classic
     * tracepoint if that fails. Throws {@link KernelSourceException} with one line naming what is missing.
     */
    public static KernelDropSource open(DropJournal journal, String node) {
        return open(journal, node, null, DEFAULT_AGGREGATE_INTERVAL_NS);
    }

    /** As {@link #open(DropJournal, String)}, aggregating per flow over {@code aggregateIntervalNs} (0: a record per drop). */
    public static KernelDropSource open(DropJournal journal, String node, long aggregateIntervalNs) {
        return open(journal, node, null, aggregateIntervalNs);
    }

    /** With {@code identities} (may be null), events name both ends. */
    public static KernelDropSource open(DropJournal journal, String node, IdentityCache identities, long aggregateIntervalNs) {
        return open(journal, node, identities, Boolean.getBoolean("droptrace.kernel.classic"), aggregateIntervalNs);
    }

    /** As {@link #open(DropJournal, String)}; {@code classicOnly} skips tp_btf (tests, and -Ddroptrace.kernel.classic=true). */
    static KernelDropSource open(DropJournal journal, String node, boolean classicOnly) {
        return open(journal, node, null, classicOnly, DEFAULT_AGGREGATE_INTERVAL_NS);
    }

    static KernelDropSource open(DropJournal journal, String node, IdentityCache identities, boolean classicOnly,
                                 long aggregateIntervalNs) {
        KernelPreflight.problem().ifPresent(p -> { throw new KernelSourceException(p); });
        DropReasons reasonNames = DropReasons.fromKernel();
        for (Map.Entry<Integer, String> r : reasonNames.all().entrySet()) {
            journal.defineReason(DropSource.KERNEL, r.getKey(), r.getValue());
        }
        KernelSymbols symbols = KernelSymbols.load();
        if (!symbols.available()) LOG.warn("/proc/kallsyms hides addresses (kptr_restrict): drop locations will be raw");
        byte[] elf = loadObject();
        String btfFailure = "skipped";
        BpfObject obj;
        if (!classicOnly) {
            obj = BpfObject.open("kfree_skb", elf);
            try {
                obj.program(PROG_CLASSIC).setAutoload(false);
                sizeFlowTables(obj);
                obj.load();
                BpfLink link = obj.program(PROG_BTF).attach();
                return new KernelDropSource(obj, link, "tp_btf/kfree_skb", journal, reasonNames, symbols, node, identities, aggregateIntervalNs);
            } catch (NativeCallException e) {
                obj.close();
                btfFailure = firstLine(e);
                LOG.info("tp_btf/kfree_skb unavailable ({}), trying the classic tracepoint", btfFailure);
            }
        }
        ensureTracefs();
        obj = BpfObject.open("kfree_skb", elf);
        try {
            obj.program(PROG_BTF).setAutoload(false);
            sizeFlowTables(obj);
            obj.load();
            BpfLink link = obj.program(PROG_CLASSIC).attach();
            return new KernelDropSource(obj, link, "tracepoint/skb/kfree_skb", journal, reasonNames, symbols, node, identities, aggregateIntervalNs);
        } catch (NativeCallException e) {
            obj.close();
            throw new KernelSourceException("cannot attach to skb:kfree_skb: tp_btf: " + btfFailure
                    + "; tracepoint: " + firstLine(e), e);
        }
    }

    /**
     * Flow table capacity from -Ddroptrace.kernel.flowTableSize (tests use a tiny table to reach the
     * full-table fallback); the object's own size (16384) otherwise. Hash inner maps may differ in
     * size from the array of maps' template.
     */
    private static void sizeFlowTables(BpfObject obj) {
        int size = Integer.getInteger(FLOW_TABLE_SIZE_PROPERTY, 0);
        if (size > 0) {
            obj.map("flows_a").setMaxEntries(size);
            obj.map("flows_b").setMaxEntries(size);
        }
    }

    /** libbpf attaches classic tracepoints through tracefs; mount it where nothing has. */
    private static void ensureTracefs() {
        if (Files.isDirectory(Path.of("/sys/kernel/tracing/events"))
                || Files.isDirectory(Path.of("/sys/kernel/debug/tracing/events"))) return;
        try {
            Libc.mount("nodev", "/sys/kernel/tracing", "tracefs");
            LOG.info("mounted tracefs on /sys/kernel/tracing for the classic tracepoint");
        } catch (NativeCallException e) {
            LOG.warn("tracefs is not mounted and could not be: {}", e.getMessage());
        }
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    static byte[] loadObject() {
        try (InputStream in = KernelDropSource.class.getResourceAsStream(OBJECT_RESOURCE)) {
            if (in == null) throw new KernelSourceException("BPF object " + OBJECT_RESOURCE + " is not on the class path (build the bpf module)");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new KernelSourceException("cannot read BPF object " + OBJECT_RESOURCE + ": " + e.getMessage(), e);
        }
    }

    /** The running kernel's code of a drop reason name (as in the BTF enum, without prefix), -1 when it has none. */
    public int reasonCode(String name) {
        return reasonNames.code(name);
    }

    /** Where the program is attached: "tp_btf/kfree_skb" or "tracepoint/skb/kfree_skb". */
    public String attachedAs() {
        return attachedAs;
    }

    /**
     * Makes this source's drain thread the journal writer of the payload sources too: it polls the
     * pipeline after each drain, and hands kernel records of the merger's reasons to it. Before {@link #start},
     * after {@link dev.droptrace.agent.pipeline.EventPipeline#enableMerge} when records are to be merged.
     */
    public synchronized void drive(dev.droptrace.agent.pipeline.EventPipeline pipeline) {
        if (thread != null) throw new IllegalStateException("already started");
        this.pipeline = pipeline;
        translator.merger(pipeline);
    }

    /** Starts the drain thread. */
    public synchronized void start() {
        if (thread != null) return;
        running = true;
        thread = Thread.ofPlatform().name("source-kernel").daemon(true).start(this::drainLoop);
    }

    private void drainLoop() {
        RecordHandler handler = translator;
        journal.handOffToCurrentThread();
        try {
            long interval = aggregateIntervalNs;
            long nextFlush = System.nanoTime() + interval;
            while (running) {
                translator.syncClock();
                translator.beginDrain(); // one journal batch per drain, acknowledged at its end
                try {
                    ring.poll(DRAIN_INTERVAL_MS, handler);
                    if (interval > 0 && System.nanoTime() - nextFlush >= 0) {
                        flows.flush(handler);
                        nextFlush = System.nanoTime() + interval;
                    }
                } finally {
                    translator.endDrain();
                }
                if (pipeline != null) pipeline.poll();
            }
            translator.beginDrain();
            try {
                ring.drain(handler); // what arrived before detach
                flows.flushAll(handler); // the pending counts of every flow (also when aggregation is off: both tables are then empty)
                ring.drain(handler);
            } finally {
                translator.endDrain();
            }
            if (pipeline != null) pipeline.flushAll();
        } catch (Throwable t) {
            failure = t;
            running = false;
            LOG.error("kernel source stopped: {}", t.getMessage());
        }
    }

    /** Counters for status: exact kernel counts from the BPF maps plus this source's own. */
    public KernelCounters counters() {
        Map<String, Long> byReason = new TreeMap<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocate(ValueLayout.JAVA_INT);
            MemorySegment next = a.allocate(ValueLayout.JAVA_INT);
            boolean has = reasons.nextKey(null, next);
            while (has) {
                int code = next.get(ValueLayout.JAVA_INT, 0);
                k.set(ValueLayout.JAVA_INT, 0, code);
                long n = reasons.sumPerCpuLong(k);
                byReason.merge(reasonNames.name(code), n, Long::sum);
                MemorySegment.copy(next, 0, k, 0, 4);
                has = reasons.nextKey(k, next);
            }
            return new KernelCounters(counter(a, CNT_SEEN), counter(a, CNT_SUBMITTED), counter(a, CNT_LOST),
                    translator.events(), translator.decodeErrors(), byReason,
                    translator.drops(), translator.journalErrors(), translator.journalErrorDrops(), translator.refusedDrops(),
                    counter(a, CNT_AGGREGATED), counter(a, CNT_FLOW_FULL), flows.flowRecords(), flows.flowDrops(),
                    flows.flushes(), flows.activeFlows(), flows.capacity(), aggregateIntervalNs, missed(),
                    translator.deferred(), translator.deferredDrops());
        }
    }

    /** The program's recursion misses: kfree_skb hits the kernel did not run it for (see BpfProgram#recursionMisses). */
    private long missed() {
        try {
            return program.recursionMisses();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private long counter(Arena a, int index) {
        MemorySegment k = a.allocate(ValueLayout.JAVA_INT);
        k.set(ValueLayout.JAVA_INT, 0, index);
        return counters.sumPerCpuLong(k);
    }

    /** Why the drain thread stopped, or null while it runs. */
    public Throwable failure() {
        return failure;
    }

    public boolean running() {
        return running;
    }

    /** Detaches the program and waits until the drain thread has journaled what is left in the ring. */
    public synchronized void stop() {
        if (stopped) return;
        stopped = true;
        link.close(); // first, so the final drain sees every record the program wrote
        running = false;
        if (thread != null) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Stops, then frees every kernel handle (maps, ring, object). */
    @Override
    public synchronized void close() {
        stop();
        ring.close();
        object.close();
        arena.close();
    }

    /**
     * Kernel counts: drops seen, records submitted and lost in the ring, events journaled, decode
     * errors, drops by reason; the drops the journaled events stand for, journal write errors (records
     * and their drops), drops in records refused at the journal's cycle size share; aggregation: drops folded into flow counts in the kernel, drops recorded one by
     * one because the flow table was full, records and drops journaled from flow counts, flushes, flows
     * in the last retired table, table capacity, and the interval (0: off); runs the kernel skipped
     * because the program was already running on that CPU (drops it never saw); records (and drops)
     * handed to the pipeline's merger, journaled there merged with a CNI drop or alone.
     */
    public record KernelCounters(long seen, long submitted, long lost, long events, long decodeErrors,
                                 Map<String, Long> byReason, long drops, long journalErrors, long journalErrorDrops,
                                 long refusedDrops,
                                 long aggregated, long flowTableFull, long flowRecords, long flowDrops,
                                 long flushes, long activeFlows, int flowCapacity, long aggregateIntervalNs,
                                 long missed, long deferred, long deferredDrops) {
        /** Drops counted in the kernel but not yet journaled: folded into flow counts awaiting the next flush. */
        public long pending() {
            return Math.max(0, aggregated - flowDrops);
        }
    }
}
