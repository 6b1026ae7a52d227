package dev.droptrace.agent.source.cilium;

import dev.droptrace.perf.PerfEventArray;
import dev.droptrace.perf.PerfRecordHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * The opt-in route to Cilium's notifications: reads the pinned {@code cilium_events} perf event array
 * itself (spec cilium-monitor-format.md section 1.2), one ring per CPU drained from Java on its own
 * thread, and hands every sample to a {@link CiliumPayloadSink}.
 *
 * <p>Only where cilium-agent is not reading the ring (spec section 1.4): installing this reader's
 * perf events takes every CPU slot from cilium-agent's monitor (Hubble, {@code cilium monitor}), and
 * closing it empties the slots until cilium-agent reinstalls its own. The default route, the monitor
 * socket, shares the ring instead. {@link #COEXISTENCE_WARNING} says so, and is logged at open.
 *
 * <p>Counters are published by the reading thread after every drain and read from any thread.
 * The sink runs on the reading thread; a sink that throws has its sample counted in
 * {@link #sinkErrors()} and reading goes on.
 */
public final class CiliumRingReader implements AutoCloseable {
    /** Where Cilium pins its ring on a node. */
    public static final Path DEFAULT_PATH = Path.of("/sys/fs/bpf/tc/globals/cilium_events");

    /** The warning logged at open, for the CLI help of the ring route as well. */
    public static final String COEXISTENCE_WARNING = "Reading cilium_events directly must not run beside a "
            + "cilium-agent that reads it (Hubble enabled or any 'cilium monitor' session): a second reader of a "
            + "perf event array steals the events from the first, and once it stops nobody receives them until "
            + "cilium-agent reinstalls its reader. Where cilium-agent runs, use the monitor socket instead.";

    private static final Logger LOG = LoggerFactory.getLogger(CiliumRingReader.class);
    private static final int POLL_TIMEOUT_MS = 100;

    private final Path path;
    private final PerfEventArray array;
    private final CiliumPayloadSink sink;
    private final Thread thread;
    private final Handler handler = new Handler();
    private volatile boolean running = true;
    private volatile String failure;
    private volatile long samples;
    private volatile long lost;
    private volatile long lostRecords;
    private volatile long unknownRecords;
    private volatile long malformedRecords;
    private volatile long sinkErrors;
    private boolean closed;

    private CiliumRingReader(Path path, PerfEventArray array, CiliumPayloadSink sink) {
        this.path = path;
        this.array = array;
        this.sink = sink;
        this.thread = Thread.ofPlatform().name("cilium-ring").daemon(true).unstarted(this::run);
    }

    /** Opens the ring pinned at {@code path} with Cilium's ring size (64 data pages per CPU) and starts reading. */
    public static CiliumRingReader open(Path path, CiliumPayloadSink sink) {
        return open(path, PerfEventArray.DEFAULT_DATA_PAGES, sink);
    }

    /**
     * Opens the ring pinned at {@code path}, installs a reader of {@code dataPages} pages (a power
     * of two) per CPU slot, and starts reading into {@code sink}.
     *
     * @throws dev.droptrace.libc.NativeCallException if nothing is pinned at {@code path}, or the
     *         rings cannot be opened or installed (no CAP_BPF/CAP_PERFMON)
     * @throws IllegalArgumentException if the pinned map is not a perf event array
     */
    public static CiliumRingReader open(Path path, int dataPages, CiliumPayloadSink sink) {
        LOG.warn(COEXISTENCE_WARNING);
        PerfEventArray array = PerfEventArray.openPinned(path, dataPages);
        CiliumRingReader reader = new CiliumRingReader(path, array, sink);
        LOG.info("reading {}: {} of {} CPU slots, {} pages each", path, array.rings().size(), array.slots(), dataPages);
        reader.thread.start();
        return reader;
    }

    private void run() {
        try {
            while (running) {
                array.poll(POLL_TIMEOUT_MS, handler);
                publish();
            }
        } catch (RuntimeException | Error e) {
            failure = e.toString();
            running = false;
            LOG.error("reading {} failed; the Cilium ring route stopped", path, e);
        } finally {
            publish();
        }
    }

    private void publish() {
        samples = array.samples();
        lost = array.lost();
        unknownRecords = array.unknownRecords();
        malformedRecords = array.malformedRecords();
        lostRecords = handler.lostRecords;
        sinkErrors = handler.sinkErrors;
    }

    /** The pinned map's path. */
    public Path path() {
        return path;
    }

    /** CPU rings installed (online CPUs among the map's slots). */
    public int cpus() {
        return array.rings().size();
    }

    /** Samples read and handed to the sink. */
    public long samples() {
        return samples;
    }

    /** Samples the datapath lost because a ring was full: the sum of the PERF_RECORD_LOST counts. */
    public long lost() {
        return lost;
    }

    /** PERF_RECORD_LOST records read. */
    public long lostRecords() {
        return lostRecords;
    }

    /** Records of a type other than sample or lost, skipped. */
    public long unknownRecords() {
        return unknownRecords;
    }

    /** Records whose framing could not be read, skipped. */
    public long malformedRecords() {
        return malformedRecords;
    }

    /** Samples and loss reports whose sink call threw. */
    public long sinkErrors() {
        return sinkErrors;
    }

    /** Whether the reading thread is running. */
    public boolean running() {
        return running && thread.isAlive();
    }

    /** One line for {@code droptrace status}. */
    public String state() {
        String counts = "samples " + samples + ", lost " + lost + ", unknown records " + unknownRecords
                + (malformedRecords > 0 ? ", malformed records " + malformedRecords : "")
                + (sinkErrors > 0 ? ", sink errors " + sinkErrors : "");
        String f = failure;
        if (f != null) {
            return "failed reading " + path + ": " + f + "; " + counts;
        }
        if (!running) {
            return "stopped reading " + path + "; " + counts;
        }
        return "reading " + path + " (" + cpus() + " of " + array.slots() + " CPUs, " + array.dataPages()
                + " pages each); " + counts;
    }

    /**
     * Stops the reading thread, then closes the rings and the map fd, which empties the CPU slots
     * this reader installed. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        running = false;
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        try {
            array.close();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "CiliumRingReader[" + state() + "]";
    }

    /** Forwards to the sink on the reading thread; a throwing sink is counted, never fatal. */
    private final class Handler implements PerfRecordHandler {
        long lostRecords;
        long sinkErrors;

        @Override
        public void onSample(int cpu, MemorySegment data, long offset, int length) {
            try {
                sink.onSample(data, offset, length, cpu);
            } catch (RuntimeException e) {
                sinkError(e);
            }
        }

        @Override
        public void onLost(int cpu, long n) {
            lostRecords++;
            try {
                sink.onLost(cpu, n);
            } catch (RuntimeException e) {
                sinkError(e);
            }
        }

        private void sinkError(RuntimeException e) {
            if (sinkErrors++ == 0) { // the first one tells what is wrong; the count tells how often
                LOG.error("the Cilium sink failed on a sample from {}; counting further failures", path, e);
            }
        }
    }
}
