package dev.droptrace.agent.source.kernel;

import dev.droptrace.libbpf.BpfMap;
import dev.droptrace.libbpf.BpfObject;
import dev.droptrace.libbpf.RecordHandler;
import dev.droptrace.libc.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The user side of in-kernel per-flow aggregation: the two flow tables of kfree_skb.bpf.c
 * ({@code flows_a}, {@code flows_b}) that alternate as the active one through the array of maps
 * {@code flow_tables}, and the flush that turns the counts of the table just retired into journal
 * records.
 *
 * <p>Why no count is lost (the full argument is at the top of kfree_skb.bpf.c): the BPF program
 * only inserts into and atomically adds to the active table, never deletes. {@link #flush} first
 * makes the other (empty) table active; updating an array of maps returns only after the kernel's
 * synchronize_rcu, and every run of the program is inside an RCU read section, so afterwards no run
 * can touch the retired table. Only then are its counts read (each exactly once) and its entries
 * deleted. Every drop is therefore in a ring record (count 1, or counted lost when the ring was
 * full) or in the count of exactly one retired table.
 *
 * <p>Before the switch, the flows that dropped in the active table are copied (count 0) into the
 * table about to become active, so a flow that keeps dropping gets one record per interval and not
 * a new "first" record each time; a flow that made no drop in a whole interval is forgotten, and
 * its next drop is recorded at once again.
 *
 * <p>Used by the drain thread only; buffers are allocated once (a flush makes only slice views).
 */
final class KernelFlowTables {
    /** struct flow_key in kfree_skb.h */
    static final int KEY_SIZE = 56;
    /** struct flow_value in kfree_skb.h: count, last_ktime_ns, first (a struct drop_event) */
    static final int VALUE_COUNT = 0;
    static final int VALUE_LAST_KTIME_NS = 8;
    static final int VALUE_FIRST = 16;
    static final int VALUE_SIZE = 120;
    /** Largest count per record: readers take count as a signed int. */
    private static final long MAX_RECORD_COUNT = Integer.MAX_VALUE;

    private final BpfMap outer;
    private final BpfMap[] tables = new BpfMap[2];
    private int active; // index into tables of the table flow_tables[0] points at
    private final MemorySegment outerKey;
    private final MemorySegment outerValue;
    private final MemorySegment keys;
    private final MemorySegment value;
    private final MemorySegment record;
    private final int capacity;
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong flowRecords = new AtomicLong();
    private final AtomicLong flowDrops = new AtomicLong();
    private final AtomicLong activeFlows = new AtomicLong();

    KernelFlowTables(BpfObject object, Arena arena) {
        this.outer = object.map("flow_tables");
        this.tables[0] = object.map("flows_a");
        this.tables[1] = object.map("flows_b");
        if (tables[0].keySize() != KEY_SIZE || tables[0].valueSize() != VALUE_SIZE) {
            throw new KernelSourceException("flow table layout mismatch: key " + tables[0].keySize() + " value "
                    + tables[0].valueSize() + " bytes, expected " + KEY_SIZE + " and " + VALUE_SIZE);
        }
        this.capacity = tables[0].maxEntries();
        this.outerKey = arena.allocate(ValueLayout.JAVA_INT);
        this.outerValue = arena.allocate(ValueLayout.JAVA_INT);
        this.keys = arena.allocate((long) (capacity + 1) * KEY_SIZE, 8);
        this.value = arena.allocate(VALUE_SIZE, 8);
        this.record = arena.allocate(KernelDropRecord.SIZE, 8);
        // the object's initial value of flow_tables[0] is flows_a; make it explicit
        point(0);
    }

    /**
     * One interval's flush: carries the flows that dropped over to the other table, makes it active
     * (waiting for every run of the program that could still use the old one), then hands one
     * record per flow with a count to {@code handler} and empties the retired table.
     */
    void flush(RecordHandler handler) {
        BpfMap current = tables[active];
        BpfMap next = tables[1 - active];
        int n = collectKeys(current);
        for (int i = 0; i < n; i++) {
            MemorySegment k = keys.asSlice((long) i * KEY_SIZE, KEY_SIZE);
            if (current.lookup(k, value) && value.get(ValueLayout.JAVA_LONG, VALUE_COUNT) != 0) {
                value.set(ValueLayout.JAVA_LONG, VALUE_COUNT, 0);
                try {
                    next.update(k, value, BpfMap.BPF_NOEXIST);
                } catch (NativeCallException full) {
                    // next is full or already holds the key: its first drop is then recorded at once
                }
            }
        }
        point(1 - active);
        activeFlows.set(drainTable(current, handler));
        flushes.incrementAndGet();
    }

    /**
     * The last flush, after the program is detached: switches once more (the switch waits for any
     * run still in flight) and journals the counts of both tables.
     */
    void flushAll(RecordHandler handler) {
        BpfMap current = tables[active];
        BpfMap other = tables[1 - active];
        point(1 - active);
        drainTable(current, handler);
        drainTable(other, handler);
        activeFlows.set(0);
        flushes.incrementAndGet();
    }

    /** Makes tables[index] the active table; returns after synchronize_rcu in the kernel. */
    private void point(int index) {
        outerKey.set(ValueLayout.JAVA_INT, 0, 0);
        outerValue.set(ValueLayout.JAVA_INT, 0, tables[index].fd());
        outer.update(outerKey, outerValue, BpfMap.BPF_ANY);
        active = index;
    }

    /** Journals the flows of a table no program run can reach, and deletes them; returns the number of flows. */
    private int drainTable(BpfMap table, RecordHandler handler) {
        int n = collectKeys(table);
        for (int i = 0; i < n; i++) {
            MemorySegment k = keys.asSlice((long) i * KEY_SIZE, KEY_SIZE);
            if (!table.lookup(k, value)) continue;
            long count = value.get(ValueLayout.JAVA_LONG, VALUE_COUNT);
            if (count != 0) emit(handler, count, value.get(ValueLayout.JAVA_LONG, VALUE_LAST_KTIME_NS));
            table.delete(k);
        }
        return n;
    }

    /** One record (several if the count exceeds 2^31-1) from the flow's first record with the repeat count. */
    private void emit(RecordHandler handler, long count, long lastKtime) {
        MemorySegment.copy(value, VALUE_FIRST, record, 0, KernelDropRecord.SIZE);
        record.set(KernelDropRecord.U64, KernelDropRecord.KTIME_NS, lastKtime);
        long left = count;
        while (left > 0) {
            long part = Math.min(left, MAX_RECORD_COUNT);
            record.set(KernelDropRecord.U32, KernelDropRecord.COUNT, (int) part);
            handler.onRecord(record, 0, KernelDropRecord.SIZE);
            flowRecords.incrementAndGet();
            left -= part;
        }
        flowDrops.addAndGet(count);
    }

    /** Copies the table's keys into {@link #keys}; the table is either inactive or only grows meanwhile. */
    private int collectKeys(BpfMap table) {
        int n = 0;
        MemorySegment prev = null;
        while (n <= capacity) {
            MemorySegment slot = keys.asSlice((long) n * KEY_SIZE, KEY_SIZE);
            if (!table.nextKey(prev, slot)) break;
            prev = slot;
            n++;
        }
        return n;
    }

    /** Flushes done. */
    long flushes() {
        return flushes.get();
    }

    /** Records made from flow counts. */
    long flowRecords() {
        return flowRecords.get();
    }

    /** Drops those records stand for. */
    long flowDrops() {
        return flowDrops.get();
    }

    /** Flows in the table retired by the last flush. */
    long activeFlows() {
        return activeFlows.get();
    }

    int capacity() {
        return capacity;
    }
}
