package dev.droptrace.perf;

import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfPinnedMap;
import dev.droptrace.libbpf.Libbpf;
import dev.droptrace.libc.Libc;
import dev.droptrace.libc.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The reader of a pinned {@code BPF_MAP_TYPE_PERF_EVENT_ARRAY}, as Cilium's monitor reads
 * {@code cilium_events} (spec cilium-monitor-format.md section 1.2): for every CPU slot of the map
 * ({@code max_entries}, from the map info) it opens a {@link PerfEventRing} (skipping offline CPUs,
 * ENODEV), installs the ring's fd at that slot, and then waits on all rings with one poll and drains
 * them to a {@link PerfRecordHandler}, allocating nothing per record.
 *
 * <p>The map fd stays open for the reader's lifetime: the kernel removes the entries installed
 * through it when it is closed. So {@link #close} empties the slots this reader filled (and from
 * then on the BPF program's output fails with ENOENT until another reader installs its own). A
 * second reader steals the slots of the first: run one reader per map.
 *
 * <p>One thread polls and drains; the counters are that thread's plain fields.
 */
public final class PerfEventArray implements AutoCloseable {
    /** Data pages per CPU that Cilium's monitor uses (256 KiB with 4 KiB pages). */
    public static final int DEFAULT_DATA_PAGES = 64;
    private static final int ENODEV = 19;
    private static final int EINVAL = 22;

    private final BpfPinnedMap map;
    private final PerfEventRing[] rings;
    private final Arena arena;
    private final MemorySegment pollfds;
    private final int dataPages;
    private boolean closed;

    private PerfEventArray(BpfPinnedMap map, PerfEventRing[] rings, int dataPages) {
        this.map = map;
        this.rings = rings;
        this.dataPages = dataPages;
        this.arena = Arena.ofShared();
        this.pollfds = arena.allocate(8L * Math.max(1, rings.length), 8);
        for (int i = 0; i < rings.length; i++) {
            pollfds.set(JAVA_INT, 8L * i, rings[i].fd());
            pollfds.set(JAVA_SHORT, 8L * i + 4, Libc.POLLIN);
        }
    }

    /**
     * Opens the perf event array pinned at {@code path} and installs a ring of {@code dataPages}
     * pages (a power of two) for each of its CPU slots.
     *
     * @throws NativeCallException if the map cannot be opened, or a ring cannot be opened or installed
     * @throws IllegalArgumentException if the pinned map is not a perf event array
     */
    public static PerfEventArray openPinned(Path path, int dataPages) {
        return open(BpfPinnedMap.open(path), dataPages);
    }

    /**
     * Installs a ring of {@code dataPages} pages for each CPU slot of {@code map}, which this reader
     * then owns and closes (also when this method fails).
     */
    public static PerfEventArray open(BpfPinnedMap map, int dataPages) {
        List<PerfEventRing> opened = new ArrayList<>();
        try {
            if (map.type() != BpfPinnedMap.TYPE_PERF_EVENT_ARRAY) {
                throw new IllegalArgumentException(map.path() + " is not a perf event array (map type " + map.type() + ")");
            }
            try (Arena call = Arena.ofConfined()) {
                MemorySegment key = call.allocate(JAVA_INT);
                MemorySegment value = call.allocate(JAVA_INT);
                for (int cpu = 0; cpu < map.maxEntries(); cpu++) {
                    PerfEventRing ring;
                    try {
                        ring = PerfEventRing.open(cpu, dataPages);
                    } catch (NativeCallException e) {
                        // ENODEV: an offline CPU; EINVAL: a slot past the CPUs this kernel can have
                        if (e.errno() == ENODEV || (e.errno() == EINVAL && cpu >= Libbpf.numPossibleCpus())) {
                            continue;
                        }
                        throw e;
                    }
                    opened.add(ring);
                    key.set(JAVA_INT, 0, cpu);
                    value.set(JAVA_INT, 0, ring.fd());
                    map.update(key, value, BpfMap.BPF_ANY);
                }
            }
            return new PerfEventArray(map, opened.toArray(PerfEventRing[]::new), dataPages);
        } catch (RuntimeException e) {
            // closing the map fd first removes the entries installed so far
            try {
                map.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            for (PerfEventRing ring : opened) {
                try {
                    ring.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Drains every ring; if none had a record, waits up to {@code timeoutMs} (0: not at all, -1:
     * forever) for one and drains again.
     *
     * @return the records consumed, 0 on timeout
     */
    public int poll(int timeoutMs, PerfRecordHandler handler) {
        int consumed = drain(handler);
        if (consumed > 0 || timeoutMs == 0) {
            return consumed;
        }
        int ready = Libc.poll(pollfds, rings.length, timeoutMs);
        if (ready > 0) {
            for (int i = 0; i < rings.length; i++) {
                int revents = pollfds.get(JAVA_SHORT, 8L * i + 6) & 0xffff;
                if ((revents & Libc.POLLNVAL) != 0) {
                    throw new NativeCallException("poll", Libc.EBADF, "perf ring of cpu " + rings[i].cpu());
                }
            }
        }
        return drain(handler);
    }

    /** Hands every record available now on every ring to {@code handler}; returns the records consumed. */
    public int drain(PerfRecordHandler handler) {
        int consumed = 0;
        for (PerfEventRing ring : rings) {
            consumed += ring.drain(handler);
        }
        return consumed;
    }

    /** Bytes written and not yet consumed, over all rings. */
    public long pending() {
        long n = 0;
        for (PerfEventRing ring : rings) {
            n += ring.pending();
        }
        return n;
    }

    /** The pinned map read. */
    public BpfPinnedMap map() {
        return map;
    }

    /** The map's CPU slots ({@code max_entries}). */
    public int slots() {
        return map.maxEntries();
    }

    /** The rings installed, one per online CPU slot. */
    public List<PerfEventRing> rings() {
        return List.of(rings);
    }

    /** Data pages per ring. */
    public int dataPages() {
        return dataPages;
    }

    /** Samples handed to a handler, over all rings. */
    public long samples() {
        long n = 0;
        for (PerfEventRing ring : rings) {
            n += ring.samples();
        }
        return n;
    }

    /** Samples the kernel dropped because a ring was full (sum of {@code PERF_RECORD_LOST}), over all rings. */
    public long lost() {
        long n = 0;
        for (PerfEventRing ring : rings) {
            n += ring.lost();
        }
        return n;
    }

    /** Records of unknown type, over all rings. */
    public long unknownRecords() {
        long n = 0;
        for (PerfEventRing ring : rings) {
            n += ring.unknownRecords();
        }
        return n;
    }

    /** Records with unreadable framing, over all rings. */
    public long malformedRecords() {
        long n = 0;
        for (PerfEventRing ring : rings) {
            n += ring.malformedRecords();
        }
        return n;
    }

    /**
     * Closes the map fd, which removes the entries this reader installed, then unmaps and closes
     * every ring. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        try {
            map.close();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (PerfEventRing ring : rings) {
            try {
                ring.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        arena.close();
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "PerfEventArray[" + map.path() + ", " + rings.length + " of " + map.maxEntries() + " CPUs, "
                + dataPages + " pages each]";
    }
}
