package dev.droptrace.agent.pipeline;

import dev.droptrace.agent.event.DropRecord;
import dev.droptrace.agent.journal.DropJournal;
import dev.droptrace.agent.journal.JournalException;
import dev.droptrace.libc.Libc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The journal-writer side of the payload sources: drains the {@link PayloadQueue}, decodes each
 * payload with its type's {@link PayloadTranslator}, passes mergeable drops through the
 * {@link PacketMerger} (when the kernel source runs) and appends events to the journal.
 *
 * <p>Runs on whichever thread writes the journal: the kernel source's drain thread calls
 * {@link #poll} after each drain when it runs; otherwise {@link #start} gives the pipeline a thread of
 * its own. Counters are plain fields written by that one thread and published with release stores.
 */
public final class EventPipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventPipeline.class);
    /** Payload types (the queue's message type ids). */
    public static final int TYPE_CILIUM = 1, TYPE_NFLOG = 2;
    private static final int TYPES = 3;
    /** The longest the writer waits between polls when it has its own thread. */
    static final long POLL_INTERVAL_MS = 10;
    /** Default time a record waits for its other half on top of the kernel's aggregation interval. */
    public static final long MERGE_SLACK_NS = 250_000_000L;
    static final int MERGE_CAPACITY = 65_536;

    private final DropJournal journal;
    private final PayloadQueue queue;
    private final PayloadTranslator[] translators = new PayloadTranslator[TYPES];
    private final MemorySegment scratch = Arena.ofAuto().allocate(DropRecord.SIZE, 8);
    private final DropRecord out = new DropRecord();
    private final PayloadQueue.Handler handler = this::onPayload;
    private PacketMerger merger;
    private DropAttributor attributor;
    private final DropRecord attributed = new DropRecord();
    private int currentType;
    private long nowNs;
    private volatile boolean running;
    private Thread thread;
    private volatile Throwable failure;

    private final AtomicLongArray payloads = new AtomicLongArray(TYPES);
    private final AtomicLongArray ignored = new AtomicLongArray(TYPES);
    private final AtomicLongArray translated = new AtomicLongArray(TYPES);
    private final AtomicLong events = new AtomicLong();
    private final AtomicLong drops = new AtomicLong();
    private final AtomicLong journalErrors = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong mergedSnapshot = new AtomicLong();
    private final AtomicLong cniAloneSnapshot = new AtomicLong();
    private final AtomicLong kernelAloneSnapshot = new AtomicLong();
    private final AtomicLong evictedEarlySnapshot = new AtomicLong();
    private final AtomicLong pendingSnapshot = new AtomicLong();

    public EventPipeline(DropJournal journal, PayloadQueue queue) {
        this.journal = journal;
        this.queue = queue;
        out.wrap(scratch, 0);
    }

    /** The queue transports offer their payloads to. */
    public PayloadQueue queue() {
        return queue;
    }

    /** Registers the translator of a payload type. Before the first poll. */
    public void translator(int type, PayloadTranslator t) {
        translators[type] = t;
    }

    /**
     * Turns on one-packet-one-event merging with the kernel source: kernel records of the given
     * reasons wait up to {@code windowNs} for the CNI drop of the same packet (and the other way).
     * Returns the merger, which the kernel source consults per record.
     */
    public PacketMerger enableMerge(long windowNs) {
        if (merger == null) merger = new PacketMerger(MERGE_CAPACITY, windowNs, this::appendFromMerger);
        return merger;
    }

    /** Attributes kernel drops that no CNI record explained (merging on only). Before the first poll. */
    public void attributor(DropAttributor a) {
        this.attributor = a;
    }

    /** The merger, or null when merging is off. */
    public PacketMerger merger() {
        return merger;
    }

    /** Drains the queue and emits what has waited too long in the merger. Writer thread only. */
    public void poll() {
        nowNs = Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC);
        while (queue.drain(handler, 4096) > 0) {
            // until empty: a burst is journaled in one poll
        }
        flushTranslators(false);
        if (merger != null) {
            merger.expire(nowNs);
            publishMergeCounters();
        }
    }

    /** A kernel record of a mergeable reason, from the kernel source's translator (writer thread). */
    public void onKernel(MemorySegment seg, long off) {
        merger.onKernel(seg, off, Libc.clockGettimeNs(Libc.CLOCK_MONOTONIC));
    }

    /** Journals everything still waiting (shutdown, after the last poll). */
    public void flushAll() {
        poll();
        flushTranslators(true);
        if (merger != null) {
            merger.flushAll();
            publishMergeCounters();
        }
    }

    private void onPayload(int type, MemorySegment data, long offset, int length, int aux) {
        PayloadTranslator t = type > 0 && type < TYPES ? translators[type] : null;
        if (t == null) {
            return;
        }
        payloads.setRelease(type, payloads.getPlain(type) + 1);
        currentType = type;
        long before = translated.getPlain(type);
        try {
            t.translate(data, offset, length, aux, sink);
        } catch (RuntimeException e) { // a translator bug must not stop the writer: counted as ignored
            LOG.debug("translator of type {} failed: {}", type, e.toString());
        }
        if (translated.getPlain(type) == before) ignored.setRelease(type, ignored.getPlain(type) + 1);
    }

    private final EventSink sink = new EventSink() {
        @Override
        public DropRecord begin() {
            return out.clear();
        }

        @Override
        public void emit(boolean mergeable) {
            translated.setRelease(currentType, translated.getPlain(currentType) + 1);
            if (mergeable && merger != null) {
                merger.onCni(scratch, 0, nowNs);
            } else {
                append(scratch, 0);
            }
        }
    };

    /** Lets each translator emit what it holds: what waited long enough, or ({@code all}) everything. */
    private void flushTranslators(boolean all) {
        for (int type = 1; type < TYPES; type++) {
            if (translators[type] == null) continue;
            currentType = type;
            try {
                if (all) translators[type].flushAll(sink);
                else translators[type].flush(sink);
            } catch (RuntimeException e) {
                LOG.debug("translator of type {} failed to flush: {}", type, e.toString());
            }
        }
    }

    /** Kernel records the merger emits alone may still be attributed (default deny). */
    private void appendFromMerger(MemorySegment seg, long off) {
        if (attributor != null && seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off + DropRecord.SOURCE_OFFSET)
                == dev.droptrace.agent.event.DropSource.KERNEL.code()) {
            try {
                attributor.attribute(attributed.wrap(seg, off));
            } catch (RuntimeException e) {
                LOG.debug("attribution failed: {}", e.toString());
            }
        }
        append(seg, off);
    }

    /** Appends one event; journal refusals and errors are counted, never thrown. */
    private void append(MemorySegment seg, long off) {
        long count = Integer.toUnsignedLong(seg.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, off + DropRecord.COUNT_OFFSET));
        try {
            if (!journal.appendEvent(seg, off)) {
                refused.setRelease(refused.getPlain() + count);
                return;
            }
        } catch (JournalException e) {
            if (journalErrors.getPlain() == 0) LOG.error("journal write failed (counted from now on): {}", e.getMessage());
            journalErrors.setRelease(journalErrors.getPlain() + 1);
            return;
        }
        events.setRelease(events.getPlain() + 1);
        drops.setRelease(drops.getPlain() + count);
    }

    private void publishMergeCounters() {
        mergedSnapshot.setRelease(merger.merged());
        cniAloneSnapshot.setRelease(merger.cniAlone());
        kernelAloneSnapshot.setRelease(merger.kernelAlone());
        evictedEarlySnapshot.setRelease(merger.evictedEarly());
        pendingSnapshot.setRelease(merger.pending());
    }

    /** Gives the pipeline its own writer thread (when no kernel source drives {@link #poll}). */
    public synchronized void start() {
        if (thread != null) return;
        running = true;
        thread = Thread.ofPlatform().name("journal-writer").daemon(true).start(() -> {
            journal.handOffToCurrentThread();
            try {
                while (running) {
                    poll();
                    if (queue.size() == 0) Thread.sleep(POLL_INTERVAL_MS);
                }
                flushAll();
            } catch (InterruptedException e) {
                flushAll();
            } catch (Throwable t) {
                failure = t;
                LOG.error("journal writer stopped: {}", t.getMessage());
            }
        });
    }

    /** Why the own thread stopped, or null. */
    public Throwable failure() {
        return failure;
    }

    /** Stops the own thread after a last poll and flush. */
    @Override
    public synchronized void close() {
        running = false;
        if (thread != null) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            thread = null;
        }
    }

    /** Counters for status. */
    public Counters counters() {
        return new Counters(payloads.get(TYPE_CILIUM), payloads.get(TYPE_NFLOG), translated.get(TYPE_CILIUM),
                translated.get(TYPE_NFLOG), ignored.get(TYPE_CILIUM), ignored.get(TYPE_NFLOG), events.get(), drops.get(),
                journalErrors.get(), refused.get(), queue.rejected() + queue.oversized(), merger != null,
                mergedSnapshot.get(), cniAloneSnapshot.get(), kernelAloneSnapshot.get(), evictedEarlySnapshot.get(),
                pendingSnapshot.get());
    }

    /**
     * Payloads per type, events they became, payloads that became none (allowed, traces, bad
     * input); events journaled by the pipeline (CNI events, merged or not, and kernel records that
     * waited in vain) and the drops they stand for; journal errors and refused drops; payloads lost
     * at the full queue; merging on/off, merged events, CNI drops alone, kernel records alone,
     * records emitted early at the full merger, records pending.
     */
    public record Counters(long ciliumPayloads, long nflogPayloads, long ciliumEvents, long nflogEvents,
                           long ciliumIgnored, long nflogIgnored, long events, long drops, long journalErrors,
                           long refusedDrops, long queueLost, boolean merging, long merged, long cniAlone,
                           long kernelAlone, long evictedEarly, long pending) {
    }
}
